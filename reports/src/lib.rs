//! Skein's reports: the run-result model, exact merging of results, and the renderers
//! (Locust-compatible CSV, self-contained HTML with SVG charts, Markdown summary, JUnit XML)
//! plus baseline comparison.
//!
//! Map: [`model`] (what a run measured), [`histogram`] (HDR latency histograms and their
//! encoding), [`sla`] (thresholds, verdicts, judging one measurement), [`evaluation`] (SLAs
//! judged on a run and its stages), [`stream`] (streamed answers' time to first chunk, gaps and
//! chunk rates) with [`stream_table`] (the lines every renderer shows), [`merge`](mod@merge) (exact combination of
//! results), [`capacity`] (per-stage capacity table), [`compare`] (baseline regression
//! gate) with [`noise`] (how much a figure varies within a run) and its page
//! [`compare_html`] with [`compare_charts`], renderers [`csv_files`], [`html`] with [`charts`],
//! [`markdown`], [`junit`], and [`output::write_all`] which writes them all; [`settings`] (a
//! run's settings as readable rows); [`live`] (a run in progress and its per-second JSON
//! lines) and [`prometheus`] (its `/metrics` exposition); [`screenshot`] renders a report to
//! PNG with headless Chromium; [`history`] is many runs' figures over time
//! (`skein history`), judged run against run by [`compare`], drawn by [`history_charts`]. [`search`] is a `skein capacity` result; each renderer shows it
//! in its own `search` child module (`html`, `charts`, `markdown`, `junit`, `csv_files`). With
//! the `fixtures` feature (tests and benchmarks only), `synthetic`
//! builds deterministic synthetic runs.
pub mod capacity;
pub mod charts;
pub mod compare;
pub mod compare_charts;
pub mod compare_html;
pub mod csv_files;
pub mod error;
pub mod evaluation;
pub mod histogram;
pub mod history;
pub mod history_charts;
pub mod html;
pub mod junit;
pub mod live;
pub mod llm_table;
pub mod load_model;
pub mod markdown;
pub mod merge;
pub mod model;
pub mod noise;
pub mod output;
pub mod prometheus;
pub mod screenshot;
pub mod search;
pub mod settings;
pub mod sla;
pub mod stream;
pub mod stream_table;
#[cfg(feature = "fixtures")]
pub mod synthetic;
pub mod tokens;

pub use error::{MergeError, ModelError, ReportError, ScreenshotError};
pub use evaluation::evaluate_slas;
pub use merge::merge;
pub use model::*;
pub use output::write_all;
pub use search::{CapacitySearch, SearchOutcome, SearchPhase, SearchStep, StepGoodput};
pub use sla::{LatencyBasis, SlaMetric, SlaThreshold, SlaVerdict};
pub use stream::{StreamStats, StreamTiming};
pub use tokens::{TokenSource, TokenStats, TokenTiming};

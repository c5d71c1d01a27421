//! Skein's reports: the run-result model, exact merging of results, and the renderers
//! (Locust-compatible CSV, self-contained HTML with SVG charts, Markdown summary, JUnit XML)
//! plus baseline comparison.
//!
//! Map: [`model`] (what a run measured), [`histogram`] (HDR latency histograms and their
//! encoding), [`sla`] (thresholds and verdicts), [`merge`](mod@merge) (exact combination of
//! results), [`error`].
pub mod error;
pub mod histogram;
pub mod merge;
pub mod model;
pub mod sla;
pub mod synthetic;

pub use error::{MergeError, ModelError, ReportError};
pub use merge::merge;
pub use model::*;
pub use sla::{evaluate_slas, SlaMetric, SlaThreshold, SlaVerdict};

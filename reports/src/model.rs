//! The result of a run: everything measured, in one versioned serde model.
//!
//! This is the contract between the generator (which fills it), the distributed manager (which
//! receives one per worker and merges them) and the renderers. Only measured data lives here.
use std::borrow::Cow;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
pub use crate::histogram::LatencyHistogram;
pub use crate::load_model::LoadModel;
use crate::sla::{LatencyBasis, SlaThreshold, SlaVerdict};
use crate::stream::StreamStats;
use crate::tokens::TokenStats;

/// Version of the `results.json` layout. Bump on any incompatible change; readers refuse
/// newer versions with a message that names both.
///
/// 2 added intended-time latencies, dropped arrivals and the load model; a version-1 file
/// reads as a closed-model run that recorded neither (the new fields default to empty).
pub const FORMAT_VERSION: u32 = 2;

/// The oldest `results.json` version this crate still reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// `part / whole`, 0 when `whole` is 0: the one definition of the error rate, the drop rate
/// and averages per request, wherever they are shown.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The intended-time latency of a set of requests, from what was recorded for it and its
/// service times: raised, quantile by quantile, to at least the service time
/// ([`LatencyHistogram::at_least`]). A request's intended-time latency includes its service
/// time, so no figure of it may be lower; the held-back sends a closed-model stall adds are
/// each below the answer that held them back, and without the floor they would thin out the
/// slowest answers' share at the very top. Empty when nothing was recorded (older results).
fn intended_time(recorded: &LatencyHistogram, service: &LatencyHistogram) -> LatencyHistogram {
    recorded.at_least(service)
}

/// The latency a figure on `basis` reads: the intended-time one when asked for and recorded
/// (`recorded` not empty), else the service time; with the basis it really is.
pub fn latency_on<'a>(
    service: &'a LatencyHistogram,
    recorded: &LatencyHistogram,
    basis: LatencyBasis,
) -> (Cow<'a, LatencyHistogram>, LatencyBasis) {
    if basis == LatencyBasis::Intended && !recorded.is_empty() {
        (
            Cow::Owned(intended_time(recorded, service)),
            LatencyBasis::Intended,
        )
    } else {
        (Cow::Borrowed(service), LatencyBasis::Service)
    }
}

/// One request name's totals over the run (successes and failures alike in the histograms).
///
/// Two latencies per request: `latency` is service time, from the actual send (Locust's
/// response time); the intended-time latency counts from when the request should have been
/// sent, so it includes the time it waited (see [`crate::sla::LatencyBasis`]). What is
/// stored is what was recorded (`intended_samples`): in the closed model each answer's
/// service time and the sends a stall held back
/// ([`LatencyHistogram::record_with_held_back`]), so it may hold more samples than there
/// were requests. Every figure is read through [`RequestStats::intended`], which never lies
/// below the service time; merging adds the recorded histograms, which is exact.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RequestStats {
    /// HTTP method: "POST" or "GET".
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    /// Service time.
    pub latency: LatencyHistogram,
    /// Intended-time latencies as recorded; empty in results of version 1 or of a generator
    /// that did not record it. Read them through [`RequestStats::intended`].
    #[serde(default, rename = "intended")]
    pub intended_samples: LatencyHistogram,
    /// Items the requests carried (events in a batch, trajectories exported, chunks
    /// streamed), where the request says; 0 otherwise.
    #[serde(default)]
    pub items: u64,
    /// Streamed answers' measurements; empty for requests that do not stream.
    #[serde(default, skip_serializing_if = "StreamStats::is_empty")]
    pub stream: StreamStats,
    /// LLM answers' token measurements; empty for requests that are not LLM calls.
    #[serde(default, skip_serializing_if = "TokenStats::is_empty")]
    pub tokens: TokenStats,
}

impl RequestStats {
    pub fn new(method: &str, name: &str) -> Self {
        RequestStats {
            method: method.to_string(),
            name: name.to_string(),
            requests: 0,
            failures: 0,
            content_bytes: 0,
            latency: LatencyHistogram::new(),
            intended_samples: LatencyHistogram::new(),
            items: 0,
            stream: StreamStats::default(),
            tokens: TokenStats::default(),
        }
    }

    pub fn add(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.content_bytes += other.content_bytes;
        self.items += other.items;
        self.latency.add(&other.latency);
        self.intended_samples.add(&other.intended_samples);
        self.stream.add(&other.stream);
        self.tokens.add(&other.tokens);
    }

    pub fn error_rate(&self) -> f64 {
        ratio(self.failures, self.requests)
    }

    /// The intended-time latency every figure is read from (see the type's doc).
    pub fn intended(&self) -> LatencyHistogram {
        intended_time(&self.intended_samples, &self.latency)
    }

    /// The latency `basis` reads (see [`latency_on`]).
    pub fn latency_on(&self, basis: LatencyBasis) -> (Cow<'_, LatencyHistogram>, LatencyBasis) {
        latency_on(&self.latency, &self.intended_samples, basis)
    }

    pub fn avg_content_bytes(&self) -> f64 {
        ratio(self.content_bytes, self.requests)
    }
}

/// Failures grouped by (method, name, error), as Locust's failures table.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FailureGroup {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl FailureGroup {
    /// The group of one failure seen at `at`.
    pub fn new(method: &str, name: &str, error: &str, at: DateTime<Utc>) -> Self {
        FailureGroup {
            method: method.to_string(),
            name: name.to_string(),
            error: error.to_string(),
            occurrences: 1,
            first_seen: at,
            last_seen: at,
        }
    }

    /// Adds `other`'s occurrences of the same failure (seen by another shard or worker):
    /// counts add, the first sighting is the earliest, the last the latest.
    pub fn add(&mut self, other: &FailureGroup) {
        self.occurrences += other.occurrences;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// Requests of a user class declared in the scenario file that were not sent because a value
/// they use was not captured yet (see `docs/custom-workloads.md`). They are neither
/// successes nor failures, so they are counted here, apart from [`RequestStats`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedRequests {
    pub class: String,
    /// The request's name, as in [`RequestStats::name`].
    pub name: String,
    pub count: u64,
}

/// One wall-clock second of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecondSample {
    pub unix_second: i64,
    /// Users active at the end of that second.
    pub users: u64,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    /// Service times of the requests completed in that second only.
    pub latency: LatencyHistogram,
    /// Intended-time latencies (as recorded) of the requests completed in that second only;
    /// read them through [`SecondSample::intended`].
    #[serde(default, rename = "intended")]
    pub intended_samples: LatencyHistogram,
    /// Open-model arrivals due in that second that were not sent (`max_in_flight` reached).
    #[serde(default)]
    pub dropped: u64,
    /// Items carried by the requests completed in that second.
    #[serde(default)]
    pub items: u64,
    /// Streamed answers completed in that second.
    #[serde(default, skip_serializing_if = "StreamStats::is_empty")]
    pub stream: StreamStats,
    /// LLM answers' token measurements; empty for requests that are not LLM calls.
    #[serde(default, skip_serializing_if = "TokenStats::is_empty")]
    pub tokens: TokenStats,
}

impl SecondSample {
    pub fn empty(unix_second: i64) -> Self {
        SecondSample {
            unix_second,
            users: 0,
            requests: 0,
            failures: 0,
            content_bytes: 0,
            latency: LatencyHistogram::new(),
            intended_samples: LatencyHistogram::new(),
            dropped: 0,
            items: 0,
            stream: StreamStats::default(),
            tokens: TokenStats::default(),
        }
    }

    /// Adds another sample of the same second. Users add too: each sample counts the users
    /// of its own generator (a recorder's shards carry 0 and stamp the users afterwards).
    pub fn add(&mut self, other: &SecondSample) {
        self.users += other.users;
        self.requests += other.requests;
        self.failures += other.failures;
        self.content_bytes += other.content_bytes;
        self.dropped += other.dropped;
        self.items += other.items;
        self.latency.add(&other.latency);
        self.intended_samples.add(&other.intended_samples);
        self.stream.add(&other.stream);
        self.tokens.add(&other.tokens);
    }

    /// Compacts every histogram: call once the second is finished (see
    /// [`LatencyHistogram::compact`]).
    pub fn compact(&mut self) {
        self.latency.compact();
        self.intended_samples.compact();
        self.stream.compact();
        self.tokens.compact();
    }

    pub fn error_rate(&self) -> f64 {
        ratio(self.failures, self.requests)
    }

    /// The second's intended-time latency (see [`RequestStats::intended`]).
    pub fn intended(&self) -> LatencyHistogram {
        intended_time(&self.intended_samples, &self.latency)
    }

    /// The latency `basis` reads (see [`latency_on`]).
    pub fn latency_on(&self, basis: LatencyBasis) -> (Cow<'_, LatencyHistogram>, LatencyBasis) {
        latency_on(&self.latency, &self.intended_samples, basis)
    }
}

/// One stage (step) of a staged scenario; a flat scenario has one.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageResult {
    pub index: usize,
    pub target_users: u64,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub requests: u64,
    pub failures: u64,
    pub latency: LatencyHistogram,
    /// As recorded; read through [`StageResult::intended`].
    #[serde(default, rename = "intended")]
    pub intended_samples: LatencyHistogram,
    #[serde(default)]
    pub dropped: u64,
    /// Open model: the arrivals per second this stage offered (at its end, after any ramp).
    #[serde(default)]
    pub target_rate: Option<f64>,
    #[serde(default)]
    pub items: u64,
    #[serde(default, skip_serializing_if = "StreamStats::is_empty")]
    pub stream: StreamStats,
    /// LLM answers' token measurements; empty for requests that are not LLM calls.
    #[serde(default, skip_serializing_if = "TokenStats::is_empty")]
    pub tokens: TokenStats,
}

impl StageResult {
    /// A stage with nothing measured yet; fill it with [`StageResult::add_second`].
    pub fn new(
        index: usize,
        target_users: u64,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
    ) -> Self {
        StageResult {
            index,
            target_users,
            started_at,
            ended_at,
            requests: 0,
            failures: 0,
            latency: LatencyHistogram::new(),
            intended_samples: LatencyHistogram::new(),
            dropped: 0,
            target_rate: None,
            items: 0,
            stream: StreamStats::default(),
            tokens: TokenStats::default(),
        }
    }

    /// Adds one second of the series that belongs to this stage: exact, since each second's
    /// histograms belong to exactly one stage.
    pub fn add_second(&mut self, s: &SecondSample) {
        self.requests += s.requests;
        self.failures += s.failures;
        self.dropped += s.dropped;
        self.items += s.items;
        self.latency.add(&s.latency);
        self.intended_samples.add(&s.intended_samples);
        self.stream.add(&s.stream);
        self.tokens.add(&s.tokens);
    }

    /// Adds the same stage as run by another generator: users add, the span covers both.
    pub fn add(&mut self, other: &StageResult) {
        self.target_users += other.target_users;
        self.target_rate = match (self.target_rate, other.target_rate) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.started_at = self.started_at.min(other.started_at);
        self.ended_at = self.ended_at.max(other.ended_at);
        self.requests += other.requests;
        self.failures += other.failures;
        self.dropped += other.dropped;
        self.items += other.items;
        self.latency.add(&other.latency);
        self.intended_samples.add(&other.intended_samples);
        self.stream.add(&other.stream);
        self.tokens.add(&other.tokens);
    }

    /// The stage's intended-time latency (see [`RequestStats::intended`]).
    pub fn intended(&self) -> LatencyHistogram {
        intended_time(&self.intended_samples, &self.latency)
    }

    /// The latency `basis` reads (see [`latency_on`]).
    pub fn latency_on(&self, basis: LatencyBasis) -> (Cow<'_, LatencyHistogram>, LatencyBasis) {
        latency_on(&self.latency, &self.intended_samples, basis)
    }

    pub fn duration_secs(&self) -> f64 {
        ((self.ended_at - self.started_at).num_milliseconds() as f64 / 1000.0).max(0.001)
    }
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.duration_secs()
    }
    pub fn items_per_s(&self) -> f64 {
        self.items as f64 / self.duration_secs()
    }
    pub fn error_rate(&self) -> f64 {
        ratio(self.failures, self.requests)
    }
    /// Dropped arrivals / offered arrivals (requests + dropped).
    pub fn dropped_rate(&self) -> f64 {
        ratio(self.dropped, self.requests + self.dropped)
    }
}

/// What one process used: the load generator itself, or an embedded target measured apart
/// ([`RunResult::target_resources`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GeneratorResources {
    pub cpu_seconds: f64,
    pub peak_rss_bytes: u64,
}

/// One worker's (or one merged input's) share of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WorkerContribution {
    pub worker_id: String,
    pub address: Option<String>,
    pub requests: u64,
    pub failures: u64,
    pub joined_at: DateTime<Utc>,
    /// When the manager stopped hearing from it; its last report still counts.
    pub lost_at: Option<DateTime<Utc>>,
    pub resources: GeneratorResources,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunMetadata {
    pub tool_version: String,
    pub git_sha: Option<String>,
    pub scenario_name: String,
    /// Where the scenario came from: a file path, or `scenarios/<name>.toml` for a shipped one.
    pub scenario_source: String,
    /// The resolved settings the run used (after CLI overrides).
    pub scenario_settings: serde_json::Value,
    pub scenario_hash: String,
    pub command_line: Vec<String>,
    pub host: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub machine_cores: usize,
    /// Some data is missing (a worker was lost, the manager died).
    pub partial: bool,
    /// Stopped early by Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// Version-1 results were all closed-model runs.
    #[serde(default)]
    pub load_model: LoadModel,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub format_version: u32,
    pub metadata: RunMetadata,
    /// Sorted by name.
    pub requests: Vec<RequestStats>,
    pub failures: Vec<FailureGroup>,
    pub series: Vec<SecondSample>,
    pub stages: Vec<StageResult>,
    pub thresholds: Vec<SlaThreshold>,
    pub slas: Vec<SlaVerdict>,
    pub resources: GeneratorResources,
    /// What the target used, when Skein knows: the embedded reference server of `skein run`
    /// and `skein demo` without a host runs as a child process, measured apart so that
    /// `resources` is the generator's alone. Absent for a remote target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_resources: Option<GeneratorResources>,
    pub workers: Vec<WorkerContribution>,
    /// Open-model arrivals never sent over the whole run (the series holds them per second,
    /// but a worker's report may carry only the tail of its series).
    #[serde(default)]
    pub dropped_arrivals: u64,
    /// `skein capacity`: every step of the search and its answer (absent for other runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_search: Option<crate::search::CapacitySearch>,
    /// Requests of declared classes not sent for want of a capture, sorted by class and
    /// name; absent when there were none (and in results written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_requests: Vec<SkippedRequests>,
}

impl RunResult {
    /// A result of the current format with nothing measured yet.
    pub fn new(metadata: RunMetadata) -> Self {
        RunResult {
            format_version: FORMAT_VERSION,
            metadata,
            requests: Vec::new(),
            failures: Vec::new(),
            series: Vec::new(),
            stages: Vec::new(),
            thresholds: Vec::new(),
            slas: Vec::new(),
            resources: GeneratorResources::default(),
            target_resources: None,
            workers: Vec::new(),
            dropped_arrivals: 0,
            capacity_search: None,
            skipped_requests: Vec::new(),
        }
    }

    /// All request names added together (the "Aggregated" row).
    pub fn overall(&self) -> RequestStats {
        let mut total = RequestStats::new("", "Aggregated");
        for r in &self.requests {
            total.add(r);
        }
        total
    }

    pub fn duration_secs(&self) -> f64 {
        let ms = (self.metadata.ended_at - self.metadata.started_at).num_milliseconds();
        (ms as f64 / 1000.0).max(0.001)
    }

    /// Requests per second over the whole run.
    pub fn rps(&self) -> f64 {
        self.overall().requests as f64 / self.duration_secs()
    }

    /// Dropped arrivals / offered arrivals (completed requests + dropped), 0..1.
    pub fn dropped_rate(&self) -> f64 {
        ratio(
            self.dropped_arrivals,
            self.overall().requests + self.dropped_arrivals,
        )
    }

    /// Requests of declared classes not sent for want of a capture, over every class.
    pub fn skipped_total(&self) -> u64 {
        self.skipped_requests.iter().map(|s| s.count).sum()
    }

    /// Whether any intended-time latency was recorded (the renderers then show both).
    pub fn has_intended(&self) -> bool {
        self.requests.iter().any(|r| !r.intended_samples.is_empty())
    }

    /// Whether any request streamed its answer (the renderers then show streaming metrics).
    pub fn has_streams(&self) -> bool {
        self.requests.iter().any(|r| !r.stream.is_empty())
    }

    /// Whether any request counted the items it carried.
    pub fn has_items(&self) -> bool {
        self.requests.iter().any(|r| r.items > 0)
    }

    /// True when every SLA verdict passed (vacuously true without thresholds).
    pub fn passed(&self) -> bool {
        self.slas.iter().all(|v| v.passed)
    }

    pub fn read_from(path: &Path) -> Result<RunResult, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&text).map_err(|problem| ModelError::Invalid {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Parses `results.json` text, checking the format version before anything else so that
    /// a file of another version gets a version error, not a confusing field error.
    pub fn from_json(text: &str) -> Result<RunResult, String> {
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<u32>,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|e| format!("not a Skein results file: {e}"))?;
        match version.format_version {
            Some(v) if (OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&v) => {}
            Some(other) => {
                return Err(format!(
                    "results format version {other}, but this skein reads versions \
                     {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}; re-run with the skein \
                     version that wrote it, or regenerate the results"
                ))
            }
            None => return Err("not a Skein results file: no `format_version` field".into()),
        }
        serde_json::from_str(text).map_err(|e| format!("invalid results: {e}"))
    }

    pub fn write_to(&self, path: &Path) -> Result<(), ModelError> {
        let text = serde_json::to_string_pretty(self).expect("the model always serializes");
        std::fs::write(path, text).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

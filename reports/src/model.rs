//! The result of a run: everything measured, in one versioned serde model.
//!
//! This is the contract between the generator (which fills it), the distributed manager (which
//! receives one per worker and merges them) and the renderers. Only measured data lives here.
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
pub use crate::histogram::LatencyHistogram;
use crate::sla::{SlaThreshold, SlaVerdict};

/// Version of the `results.json` layout. Bump on any incompatible change; readers refuse
/// other versions with a message that names both.
pub const FORMAT_VERSION: u32 = 1;

/// One request name's totals over the run (successes and failures alike in `latency`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RequestStats {
    /// HTTP method: "POST" or "GET".
    pub method: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    pub latency: LatencyHistogram,
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
        }
    }

    pub fn add(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.content_bytes += other.content_bytes;
        self.latency.add(&other.latency);
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
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

/// One wall-clock second of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecondSample {
    pub unix_second: i64,
    /// Users active at the end of that second.
    pub users: u64,
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    /// Latencies of the requests completed in that second only.
    pub latency: LatencyHistogram,
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
        }
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
}

impl StageResult {
    pub fn duration_secs(&self) -> f64 {
        ((self.ended_at - self.started_at).num_milliseconds() as f64 / 1000.0).max(0.001)
    }
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.duration_secs()
    }
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

/// What the load generator itself used.
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
    /// Where the scenario came from: a file path or `builtin:<name>`.
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
    pub workers: Vec<WorkerContribution>,
}

impl RunResult {
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
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(format!(
                "results format version {other}, but this skein reads version {FORMAT_VERSION}; \
                     re-run with the skein version that wrote it, or regenerate the results"
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

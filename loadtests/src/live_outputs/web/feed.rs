//! Where the dashboard reads its figures: a [`RunFeed`]. A local run's [`Recorder`] is one;
//! a distributed run's manager is another (its merged worker reports, and a workers table),
//! so `run` and `manager` share the page, the ticker and the endpoints and differ only here.
use chrono::{DateTime, Utc};
use reports::RunResult;
use serde::Serialize;

use crate::engine::StopReason;
use crate::recorder::Recorder;
use crate::results::{self, ResultInput};

/// One worker of a distributed run, as the page's workers table shows it.
#[derive(Clone, Debug, Serialize)]
pub struct WorkerRow {
    pub id: String,
    /// `"waiting"` (joined, no report yet), `"running"`, `"done"` (final report in) or `"lost"`.
    pub state: &'static str,
    pub users: u64,
    /// Requests per second over the dashboard's last tick.
    pub rps: f64,
    pub requests: u64,
    pub failures: u64,
    /// Seconds since its last report.
    pub last_report_age_s: f64,
}

/// The run the dashboard shows, read once a second by the ticker.
pub trait RunFeed: Send + Sync {
    /// The run so far; `tail` finished seconds of the series at least.
    fn result(
        &self,
        input: &ResultInput<'_>,
        stopped: Option<StopReason>,
        tail: usize,
    ) -> RunResult;
    /// The instant the chart's seconds count from.
    fn started_at(&self) -> DateTime<Utc>;
    fn active_users(&self) -> u64;
    /// The generator's CPU seconds so far (in a distributed run: every worker's).
    fn cpu_seconds(&self) -> f64;
    /// The workers table; `None` outside a distributed run.
    fn workers(&self) -> Option<Vec<WorkerRow>> {
        None
    }
}

impl RunFeed for Recorder {
    fn result(
        &self,
        input: &ResultInput<'_>,
        stopped: Option<StopReason>,
        tail: usize,
    ) -> RunResult {
        results::build(input, self, stopped, Some(tail))
    }

    fn started_at(&self) -> DateTime<Utc> {
        Recorder::started_at(self)
    }

    fn active_users(&self) -> u64 {
        Recorder::active_users(self)
    }

    fn cpu_seconds(&self) -> f64 {
        self.resources().cpu_seconds
    }
}

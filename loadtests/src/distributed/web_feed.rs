//! The manager's [`RunFeed`]: the dashboard of `skein manager --web` reads the workers'
//! merged reports and the registry's workers table, under the manager's one lock, once a
//! second (the same merge the final result is built from).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use reports::RunResult;

use super::manager_state::{merged_result, Shared};
use crate::engine::StopReason;
use crate::live_outputs::web::{RunFeed, WorkerRow};
use crate::results::ResultInput;

pub struct ManagerFeed {
    shared: Arc<Mutex<Shared>>,
    /// Each worker's requests at the previous workers-table read, for its req/s.
    previous: Mutex<HashMap<String, (Instant, u64)>>,
}

impl ManagerFeed {
    pub(super) fn new(shared: Arc<Mutex<Shared>>) -> ManagerFeed {
        ManagerFeed {
            shared,
            previous: Mutex::default(),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().expect("manager state poisoned")
    }
}

impl RunFeed for ManagerFeed {
    fn result(&self, input: &ResultInput<'_>, _: Option<StopReason>, tail: usize) -> RunResult {
        merged_result(input, &self.shared(), Utc::now(), Some(tail))
    }

    fn started_at(&self) -> DateTime<Utc> {
        self.shared()
            .run_start
            .unwrap_or_else(SystemTime::now)
            .into()
    }

    fn active_users(&self) -> u64 {
        self.shared().registry.active_users()
    }

    fn cpu_seconds(&self) -> f64 {
        let shared = self.shared();
        shared
            .registry
            .all()
            .iter()
            .map(|w| w.resources.cpu_seconds)
            .sum()
    }

    fn workers(&self) -> Option<Vec<WorkerRow>> {
        let now = Instant::now();
        let shared = self.shared();
        let mut previous = self.previous.lock().expect("workers table poisoned");
        let rows = shared
            .registry
            .all()
            .iter()
            .map(|w| {
                let line = w.contribution();
                let rps = match previous.insert(w.id.clone(), (now, line.requests)) {
                    Some((at, before)) if now > at => {
                        let per_s = line.requests.saturating_sub(before) as f64
                            / now.duration_since(at).as_secs_f64();
                        (per_s * 10.0).round() / 10.0
                    }
                    _ => 0.0,
                };
                WorkerRow {
                    state: if w.is_lost() {
                        "lost"
                    } else if w.final_received {
                        "done"
                    } else if w.has_reported() {
                        "running"
                    } else {
                        "waiting"
                    },
                    id: line.worker_id,
                    users: if w.is_lost() { 0 } else { w.active_users },
                    rps,
                    requests: line.requests,
                    failures: line.failures,
                    last_report_age_s: (w.last_seen.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                }
            })
            .collect();
        Some(rows)
    }
}

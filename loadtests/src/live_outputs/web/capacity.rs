//! A capacity search's progress on the dashboard: the search loop sets the step it runs
//! and records each finished step; the ticker copies it into [`super::Stats`]`.capacity`.
use std::sync::{Arc, Mutex};

use reports::{SearchPhase, SearchStep};
use serde::Serialize;

/// Shared by the search loop (writer) and the dashboard (reader).
#[derive(Clone, Default)]
pub struct CapacityProgress(Arc<Mutex<CapacityNow>>);

/// `/api/stats` `capacity`: the step in progress and the verdicts of the finished ones.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CapacityNow {
    /// 1-based number of the step in progress (0 before the first).
    pub step: usize,
    /// Its load: arrivals/s (open model) or users (closed).
    pub offered: f64,
    pub phase: Option<SearchPhase>,
    pub finished: Vec<FinishedStep>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FinishedStep {
    pub offered: f64,
    pub phase: SearchPhase,
    pub held: bool,
    pub rps: f64,
    pub p95_ms: f64,
    pub broken_by: Vec<String>,
}

impl CapacityProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, CapacityNow> {
        self.0.lock().expect("capacity progress poisoned")
    }

    /// Step `number` (1-based) starts at `offered`.
    pub fn running(&self, number: usize, offered: f64, phase: SearchPhase) {
        let mut now = self.lock();
        now.step = number;
        now.offered = offered;
        now.phase = Some(phase);
    }

    pub fn finished(&self, step: &SearchStep) {
        self.lock().finished.push(FinishedStep {
            offered: step.offered,
            phase: step.phase,
            held: step.held,
            rps: step.rps,
            p95_ms: step.p95_ms,
            broken_by: step.broken_by.clone(),
        });
    }

    pub fn now(&self) -> CapacityNow {
        self.lock().clone()
    }
}

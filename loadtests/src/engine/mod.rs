//! Executors: the only place that knows how users are driven.
//!
//! Input is a [`LaunchPlan`] (users in start order, stages, think times) and the shared
//! [`UserContext`]; users are [`crate::users::ClassBehaviour`]s, so a class runs under any
//! executor. [`closed`] drives closed-loop users on goose (the only module that imports
//! goose: its test-plan text, its user list, its killswitch stay there); [`open`] sends
//! arrivals on a schedule ([`arrivals`]) from pools of users; [`users_gate`] lets a closed run's
//! users change mid-run. A [`StopHandle`] ends a run early from anywhere; what was recorded so
//! far is kept.
pub mod arrivals;
pub mod closed;
pub mod open;
pub mod precise_sleep;
pub mod users_gate;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::plan::LaunchPlan;
use crate::users::UserContext;

/// Why a run stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Interrupted,
    Aborted,
    /// Stopped on a manager's command (end of run or a new assignment): not an interrupt.
    Commanded,
}

impl StopReason {
    fn code(self) -> u8 {
        match self {
            StopReason::Interrupted => 1,
            StopReason::Aborted => 2,
            StopReason::Commanded => 3,
        }
    }

    fn from_code(code: u8) -> Option<StopReason> {
        match code {
            1 => Some(StopReason::Interrupted),
            2 => Some(StopReason::Aborted),
            3 => Some(StopReason::Commanded),
            _ => None,
        }
    }
}

/// Stops a running plan and remembers why (the first reason wins).
#[derive(Clone, Default)]
pub struct StopHandle(Arc<StopState>);

#[derive(Default)]
struct StopState {
    reason: AtomicU8,
    notify: Notify,
}

impl StopHandle {
    pub fn stop(&self, reason: StopReason) {
        let _ =
            self.0
                .reason
                .compare_exchange(0, reason.code(), Ordering::SeqCst, Ordering::SeqCst);
        self.0.notify.notify_waiters();
        closed::stop_users(reason);
    }

    pub fn reason(&self) -> Option<StopReason> {
        StopReason::from_code(self.0.reason.load(Ordering::SeqCst))
    }

    /// Resolves once [`StopHandle::stop`] was called.
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the load engine refused the plan: {0}")]
    Refused(String),
}

/// Runs `plan`'s users until its stages end or `stop` is used.
pub async fn run(
    plan: &LaunchPlan,
    ctx: Arc<UserContext>,
    stop: &StopHandle,
) -> Result<(), EngineError> {
    if plan.is_open() {
        open::run(plan, ctx, stop).await
    } else {
        closed::run(plan, ctx, stop).await
    }
}

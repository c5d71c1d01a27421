//! Changing the open model's arrival rate while a run runs (the web dashboard's control),
//! and what the results say about it.
//!
//! A [`RateControl`] carries the newest requested rate to the dispatcher ([`crate::engine::open`]),
//! which checks it between arrivals and while it sleeps, so a change takes effect within one
//! dispatcher batch. The dispatcher logs each change with its offset from the schedule's start;
//! [`edited_stages`] turns the planned stages and that log into the stages the run really had,
//! the way Locust records a swarm edit: the stage in progress ends at the change, and a new
//! stage holds the new rate for the rest of the run time.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::scenario::Stage;

/// The highest rate the control accepts, per second (a typo guard, not an engine limit).
pub const MAX_RATE: f64 = 1_000_000.0;

/// One change as it took effect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateEdit {
    /// From the schedule's start.
    pub at: Duration,
    pub rate: f64,
}

/// The handle both sides share: the dashboard sets, the dispatcher follows and logs.
#[derive(Clone)]
pub struct RateControl(Arc<State>);

struct State {
    requested: watch::Sender<Option<f64>>,
    edits: Mutex<Vec<RateEdit>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RateError {
    #[error("the arrival rate must be a number from 0 to {MAX_RATE} per second, got {0}")]
    OutOfRange(f64),
}

impl Default for RateControl {
    fn default() -> RateControl {
        RateControl(Arc::new(State {
            requested: watch::channel(None).0,
            edits: Mutex::default(),
        }))
    }
}

impl std::fmt::Debug for RateControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateControl")
            .field("edits", &self.edits())
            .finish()
    }
}

impl PartialEq for RateControl {
    fn eq(&self, other: &RateControl) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl RateControl {
    /// Asks the dispatcher to send `rate` arrivals per second from now on.
    pub fn set(&self, rate: f64) -> Result<(), RateError> {
        if !(0.0..=MAX_RATE).contains(&rate) {
            return Err(RateError::OutOfRange(rate));
        }
        self.0.requested.send_replace(Some(rate));
        Ok(())
    }

    /// What the dispatcher watches.
    pub fn subscribe(&self) -> watch::Receiver<Option<f64>> {
        self.0.requested.subscribe()
    }

    /// The dispatcher applied `rate` at `at`.
    pub fn applied(&self, at: Duration, rate: f64) {
        self.0
            .edits
            .lock()
            .expect("rate edits poisoned")
            .push(RateEdit { at, rate });
    }

    /// The changes applied so far, oldest first.
    pub fn edits(&self) -> Vec<RateEdit> {
        self.0.edits.lock().expect("rate edits poisoned").clone()
    }
}

/// The stages a run had: `planned`, cut at each edit, each edit a stage of its own that holds
/// its rate to the planned end.
pub fn edited_stages(planned: &[Stage], edits: &[RateEdit]) -> Vec<Stage> {
    let total: Duration = planned.iter().map(|s| s.duration).sum();
    let mut stages = planned.to_vec();
    for edit in edits {
        let at = edit.at.min(total);
        let mut kept = Vec::with_capacity(stages.len() + 1);
        let mut offset = Duration::ZERO;
        for mut stage in stages {
            if offset >= at {
                break;
            }
            let end = offset + stage.duration;
            if end > at {
                stage.duration = at - offset;
                stage.ramp = stage.ramp.min(stage.duration);
            }
            offset = end;
            kept.push(stage);
        }
        if total > at {
            kept.push(Stage::open(edit.rate, Duration::ZERO, total - at));
        }
        stages = kept;
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn an_edit_ends_the_stage_in_progress_and_holds_its_rate_to_the_end() {
        let planned = [
            Stage::open(10.0, secs(2), secs(4)),
            Stage::open(20.0, secs(0), secs(6)),
        ];
        let edits = [RateEdit {
            at: Duration::from_millis(5_500),
            rate: 50.0,
        }];
        let stages = edited_stages(&planned, &edits);
        assert_eq!(stages.len(), 3);
        assert_eq!(stages[0], planned[0]);
        assert_eq!(stages[1].duration, Duration::from_millis(1_500));
        assert_eq!(
            stages[2],
            Stage::open(50.0, secs(0), Duration::from_millis(4_500))
        );
        let sum: Duration = stages.iter().map(|s| s.duration).sum();
        assert_eq!(sum, secs(10), "the run time is unchanged");
    }

    #[test]
    fn a_second_edit_replaces_the_first_from_its_instant() {
        let planned = [Stage::open(10.0, secs(0), secs(10))];
        let edits = [
            RateEdit {
                at: secs(2),
                rate: 30.0,
            },
            RateEdit {
                at: secs(7),
                rate: 5.0,
            },
        ];
        let rates: Vec<(Duration, Option<f64>)> = edited_stages(&planned, &edits)
            .iter()
            .map(|s| (s.duration, s.rate))
            .collect();
        assert_eq!(
            rates,
            [
                (secs(2), Some(10.0)),
                (secs(5), Some(30.0)),
                (secs(3), Some(5.0))
            ]
        );
    }

    #[test]
    fn the_control_refuses_rates_out_of_range() {
        let control = RateControl::default();
        assert!(control.set(-1.0).is_err());
        assert!(control.set(f64::NAN).is_err());
        assert!(control.set(MAX_RATE * 2.0).is_err());
        control.set(12.5).unwrap();
        assert_eq!(*control.subscribe().borrow(), Some(12.5));
    }
}

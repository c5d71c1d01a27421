//! Changing a run's load while it runs (the web dashboard's controls), and what the results
//! say about it: an open-model run's arrival rate, a closed-model run's users and spawn rate.
//!
//! A [`LoadControl`] carries the newest requested change to the executor: the open model's
//! dispatcher ([`crate::engine::open`]) checks it between arrivals and while it sleeps; the
//! closed model's users gate ([`crate::engine::users_gate`]) follows it from its own task.
//! Both log each change with its offset from the run's start; [`edited_stages`] turns the
//! planned stages and that log into the stages the run really had, the way Locust records a
//! swarm edit: the stage in progress ends at the change, and a new stage holds the new load
//! for the rest of the run time.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::scenario::Stage;

/// The highest rate the control accepts, per second (a typo guard, not an engine limit).
pub const MAX_RATE: f64 = 1_000_000.0;

/// The highest spawn rate the control accepts, users per second (a typo guard).
pub const MAX_SPAWN_RATE: f64 = 100_000.0;

/// A requested new load, held from its instant to the run's planned end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadChange {
    /// Open model: arrivals per second.
    Rate(f64),
    /// Closed model: users, reached from the current count at `spawn_rate` users per second.
    Users { users: u64, spawn_rate: f64 },
}

impl LoadChange {
    /// The stage this change makes, lasting `duration`.
    fn stage(self, duration: Duration) -> Stage {
        match self {
            LoadChange::Rate(rate) => Stage::open(rate, Duration::ZERO, duration),
            LoadChange::Users { users, spawn_rate } => Stage::closed(users, spawn_rate, duration),
        }
    }
}

/// One change as it took effect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadEdit {
    /// From the run's start.
    pub at: Duration,
    pub change: LoadChange,
}

/// Which change a run accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlKind {
    /// Open model: a new arrival rate.
    Rate,
    /// Closed model: a new user count up to `max_users` (the users started at the run's start,
    /// those beyond the current count waiting, see [`crate::engine::users_gate`]).
    Users { max_users: u64 },
}

/// The handle both sides share: the dashboard sets, the executor follows and logs.
#[derive(Clone)]
pub struct LoadControl(Arc<State>);

struct State {
    kind: ControlKind,
    requested: watch::Sender<Option<LoadChange>>,
    edits: Mutex<Vec<LoadEdit>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("the arrival rate must be a number from 0 to {MAX_RATE} per second, got {0}")]
    RateOutOfRange(f64),
    #[error("this run can have at most {max} users (it started them all, waiting, at its start); got {users}: start the run with `--web-max-users {users}` to allow more")]
    TooManyUsers { users: u64, max: u64 },
    #[error("the spawn rate must be a number above 0 and at most {MAX_SPAWN_RATE} users per second, got {0}")]
    SpawnRateOutOfRange(f64),
    #[error("this is a closed-model run: change its users (POST /api/users with `users` and `spawn_rate`), not an arrival rate")]
    NotOpen,
    #[error("this is an open-model run: change its arrival rate (POST /api/rate with `rate`), not its users")]
    NotClosed,
}

impl std::fmt::Debug for LoadControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadControl")
            .field("kind", &self.0.kind)
            .field("edits", &self.edits())
            .finish()
    }
}

impl PartialEq for LoadControl {
    fn eq(&self, other: &LoadControl) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl LoadControl {
    pub fn new(kind: ControlKind) -> LoadControl {
        LoadControl(Arc::new(State {
            kind,
            requested: watch::channel(None).0,
            edits: Mutex::default(),
        }))
    }

    pub fn kind(&self) -> ControlKind {
        self.0.kind
    }

    /// Asks the executor to hold `change` from now on, if this run takes that kind of change
    /// and its figures are in range.
    pub fn set(&self, change: LoadChange) -> Result<(), ControlError> {
        match (change, self.0.kind) {
            (LoadChange::Rate(rate), ControlKind::Rate) => {
                if !(0.0..=MAX_RATE).contains(&rate) {
                    return Err(ControlError::RateOutOfRange(rate));
                }
            }
            (LoadChange::Users { users, spawn_rate }, ControlKind::Users { max_users }) => {
                if users > max_users {
                    return Err(ControlError::TooManyUsers {
                        users,
                        max: max_users,
                    });
                }
                if !(spawn_rate > 0.0 && spawn_rate <= MAX_SPAWN_RATE) {
                    return Err(ControlError::SpawnRateOutOfRange(spawn_rate));
                }
            }
            (LoadChange::Rate(_), ControlKind::Users { .. }) => return Err(ControlError::NotOpen),
            (LoadChange::Users { .. }, ControlKind::Rate) => return Err(ControlError::NotClosed),
        }
        self.0.requested.send_replace(Some(change));
        Ok(())
    }

    /// What the executor watches.
    pub fn subscribe(&self) -> watch::Receiver<Option<LoadChange>> {
        self.0.requested.subscribe()
    }

    /// The executor applied `change` at `at`.
    pub fn applied(&self, at: Duration, change: LoadChange) {
        self.0
            .edits
            .lock()
            .expect("load edits poisoned")
            .push(LoadEdit { at, change });
    }

    /// The changes applied so far, oldest first.
    pub fn edits(&self) -> Vec<LoadEdit> {
        self.0.edits.lock().expect("load edits poisoned").clone()
    }
}

/// The stages a run had: `planned`, cut at each edit, each edit a stage of its own that holds
/// its load to the planned end.
pub fn edited_stages(planned: &[Stage], edits: &[LoadEdit]) -> Vec<Stage> {
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
            kept.push(edit.change.stage(total - at));
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
        let edits = [LoadEdit {
            at: Duration::from_millis(5_500),
            change: LoadChange::Rate(50.0),
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
            LoadEdit {
                at: secs(2),
                change: LoadChange::Rate(30.0),
            },
            LoadEdit {
                at: secs(7),
                change: LoadChange::Rate(5.0),
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
    fn the_control_refuses_changes_out_of_range_or_of_the_other_model() {
        let control = LoadControl::new(ControlKind::Rate);
        assert!(control.set(LoadChange::Rate(-1.0)).is_err());
        assert!(control.set(LoadChange::Rate(f64::NAN)).is_err());
        assert!(control.set(LoadChange::Rate(MAX_RATE * 2.0)).is_err());
        let users = LoadChange::Users {
            users: 3,
            spawn_rate: 1.0,
        };
        assert!(matches!(control.set(users), Err(ControlError::NotClosed)));
        control.set(LoadChange::Rate(12.5)).unwrap();
        assert_eq!(*control.subscribe().borrow(), Some(LoadChange::Rate(12.5)));

        let control = LoadControl::new(ControlKind::Users { max_users: 10 });
        assert!(matches!(
            control.set(LoadChange::Rate(1.0)),
            Err(ControlError::NotOpen)
        ));
        let too_many = LoadChange::Users {
            users: 11,
            spawn_rate: 1.0,
        };
        let message = control.set(too_many).unwrap_err().to_string();
        assert!(message.contains("--web-max-users 11"), "{message}");
        for spawn_rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let change = LoadChange::Users {
                users: 5,
                spawn_rate,
            };
            assert!(control.set(change).is_err(), "{spawn_rate}");
        }
        control.set(users).unwrap();
        assert_eq!(*control.subscribe().borrow(), Some(users));
    }

    #[test]
    fn a_users_edit_is_a_closed_stage_from_its_instant() {
        let planned = [Stage::closed(4, 2.0, secs(10))];
        let edits = [LoadEdit {
            at: secs(3),
            change: LoadChange::Users {
                users: 9,
                spawn_rate: 5.0,
            },
        }];
        assert_eq!(
            edited_stages(&planned, &edits),
            [
                Stage::closed(4, 2.0, secs(3)),
                Stage::closed(9, 5.0, secs(7))
            ]
        );
    }
}

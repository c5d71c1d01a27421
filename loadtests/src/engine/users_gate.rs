//! A closed-model run whose users may change while it runs (the web dashboard's control).
//!
//! goose fixes a run's users when its attack starts: its test plan cannot be edited, and the
//! only way it adds users mid-run (its telnet controller) starts them in goose's own order,
//! not the launch plan's. So a run that may change starts every user it may ever have at once
//! (`max_users`, in the launch plan's order), and this gate decides which of them run: those
//! whose start index is below the gate's target. The target follows the stages (and their
//! edits) at each stage's spawn rate, as goose's test plan would, but to the millisecond
//! rather than in whole-second steps. A user above the target waits on its own [`Notify`]
//! (so a ramp wakes only the users it admits) and holds no session; a user the target falls
//! below ends its session (its class's `on_stop`) at its next transaction boundary, newest
//! first, as a falling goose stage stops users. A user admitted again starts a new session.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::StopHandle;
use crate::load_control::{edited_stages, LoadChange, LoadControl};
use crate::scenario::Stage;

/// Which of a run's started users run now.
pub struct UsersGate {
    /// Users whose start index is below this run.
    target: AtomicU64,
    /// The run's time is over or it was stopped: nobody is admitted again.
    closed: AtomicBool,
    /// One per user: a rising target wakes exactly the users it admits.
    wake: Box<[Notify]>,
}

impl UsersGate {
    pub fn new(max_users: u64) -> Arc<UsersGate> {
        Arc::new(UsersGate {
            target: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            wake: (0..max_users).map(|_| Notify::new()).collect(),
        })
    }

    /// Whether the user started `index`-th may run now.
    pub fn admits(&self, index: usize) -> bool {
        !self.is_closed() && (index as u64) < self.target.load(Ordering::Acquire)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits until user `index` is admitted or the gate closes, at most `limit` (goose only
    /// sees between transactions that it must stop a user).
    pub async fn wait(&self, index: usize, limit: Duration) {
        let Some(wake) = self.wake.get(index) else {
            tokio::time::sleep(limit).await;
            return;
        };
        let notified = wake.notified();
        if self.admits(index) || self.is_closed() {
            return;
        }
        let _ = tokio::time::timeout(limit, notified).await;
    }

    /// Runs the users below `target` from now.
    fn set_target(&self, target: u64) {
        let before = self.target.swap(target, Ordering::AcqRel);
        let admitted = before.min(self.wake.len() as u64)..target.min(self.wake.len() as u64);
        for index in admitted {
            // A permit is kept if the user is not waiting yet: no admission is lost.
            self.wake[index as usize].notify_one();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.target.store(0, Ordering::Release);
        for wake in self.wake.iter() {
            wake.notify_one();
        }
    }
}

/// Moves the gate's target along `planned` (and the edits `control` brings) from `start`
/// until the run's time is over or `stop` is used; then closes the gate.
pub async fn drive(
    gate: Arc<UsersGate>,
    planned: Vec<Stage>,
    control: LoadControl,
    stop: StopHandle,
    start: Instant,
) {
    let run_time: Duration = planned.iter().map(|s| s.duration).sum();
    let mut requests = control.subscribe();
    requests.mark_unchanged();
    let mut stages = planned.clone();
    loop {
        let now = start.elapsed();
        if now >= run_time || stop.reason().is_some() {
            break;
        }
        let (users, next) = users_at(&stages, now);
        gate.set_target(users);
        let until = next.unwrap_or(run_time).min(run_time);
        tokio::select! {
            _ = tokio::time::sleep_until((start + until).into()) => {}
            changed = requests.changed() => {
                if changed.is_err() {
                    continue;
                }
                if let Some(change @ LoadChange::Users { .. }) = *requests.borrow_and_update() {
                    control.applied(start.elapsed().min(run_time), change);
                    stages = edited_stages(&planned, &control.edits());
                }
            }
            _ = stop.stopped() => break,
        }
    }
    gate.close();
}

/// The users running at `t` into `stages`, and when that count next changes (`None`: not
/// before the stages end). Each stage moves from the count the previous one reached to its
/// own at its spawn rate, the first user of a step at once, as goose and Locust start them.
pub fn users_at(stages: &[Stage], t: Duration) -> (u64, Option<Duration>) {
    let mut level = 0u64;
    let mut offset = Duration::ZERO;
    for stage in stages {
        let end = offset + stage.duration;
        let delta = stage.users.abs_diff(level);
        let step = |spawned: u64| {
            if stage.users >= level {
                level + spawned
            } else {
                level - spawned
            }
        };
        let rate = stage.spawn_rate;
        if t < end {
            if delta == 0 {
                return (level, Some(end));
            }
            if !(rate > 0.0 && rate.is_finite()) {
                return (stage.users, Some(end));
            }
            let spawned = (((t - offset).as_secs_f64() * rate).floor() as u64 + 1).min(delta);
            let next = (spawned < delta)
                .then(|| offset + Duration::from_secs_f64(spawned as f64 / rate))
                .filter(|next| *next < end)
                .unwrap_or(end);
            return (step(spawned), Some(next));
        }
        // The stage is over: the steps due before its end were made.
        let spawned = if rate > 0.0 && rate.is_finite() {
            ((stage.duration.as_secs_f64() * rate).ceil() as u64).min(delta)
        } else {
            delta
        };
        level = step(spawned);
        offset = end;
    }
    (level, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn users_ramp_at_the_spawn_rate_from_the_count_reached_then_hold() {
        let stages = [
            Stage::closed(4, 2.0, Duration::from_secs(5)),
            Stage::closed(1, 10.0, Duration::from_secs(5)),
        ];
        assert_eq!(users_at(&stages, ms(0)), (1, Some(ms(500))));
        assert_eq!(users_at(&stages, ms(499)), (1, Some(ms(500))));
        assert_eq!(users_at(&stages, ms(500)), (2, Some(ms(1_000))));
        assert_eq!(users_at(&stages, ms(1_500)), (4, Some(ms(5_000))));
        // The second stage falls from 4 at 10 users/s: one at once, then one per 100 ms.
        assert_eq!(users_at(&stages, ms(5_000)), (3, Some(ms(5_100))));
        assert_eq!(users_at(&stages, ms(5_250)), (1, Some(ms(10_000))));
        assert_eq!(users_at(&stages, ms(10_000)), (1, None));
    }

    #[test]
    fn a_stage_too_short_for_its_ramp_hands_on_the_count_it_reached() {
        // 1 user/s for 2.5 s reaches 3 (at 0, 1 and 2 s); the next stage ramps on from 3.
        let stages = [
            Stage::closed(10, 1.0, ms(2_500)),
            Stage::closed(5, 100.0, ms(1_000)),
        ];
        assert_eq!(users_at(&stages, ms(2_400)).0, 3);
        assert_eq!(users_at(&stages, ms(2_500)), (4, Some(ms(2_510))));
        assert_eq!(users_at(&stages, ms(2_600)).0, 5);
    }

    #[tokio::test]
    async fn the_gate_admits_by_index_wakes_only_the_admitted_and_closes() {
        let gate = UsersGate::new(4);
        assert!(!gate.admits(0));
        gate.set_target(2);
        assert!(gate.admits(0) && gate.admits(1) && !gate.admits(2));
        // An admission made before the user waits is not lost.
        tokio::time::timeout(ms(100), gate.wait(1, Duration::from_secs(60)))
            .await
            .expect("admitted at once");
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.wait(3, Duration::from_secs(60)).await })
        };
        tokio::time::sleep(ms(20)).await;
        assert!(!waiting.is_finished(), "user 3 is not admitted yet");
        gate.set_target(4);
        tokio::time::timeout(ms(500), waiting)
            .await
            .expect("woken by its admission")
            .unwrap();
        gate.close();
        assert!(!gate.admits(0) && gate.is_closed());
        tokio::time::timeout(ms(100), gate.wait(2, Duration::from_secs(60)))
            .await
            .expect("a closed gate holds nobody");
    }
}

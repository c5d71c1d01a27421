//! Open-model load: arrivals come on a schedule, whether or not earlier ones were answered.
//!
//! A dispatcher task walks the arrival schedule ([`super::arrivals`]), sleeping until each
//! arrival is due with a [`PreciseSleep`] (a timerfd on the runtime's own I/O driver, not the
//! runtime's 1 ms timer wheel and not a thread of its own, so sends stay within a fraction of a
//! millisecond of their schedule without a context switch per wake-up). Each arrival picks a
//! class by the class weights, takes an idle virtual user of that class from a pool (so
//! per-user state, such as the jobs a `TrainingAPIUser` started, carries over), and runs that
//! user's next request as a task beside the dispatcher, timed from the arrival's intended
//! instant. At most `max_in_flight` arrivals await a response; one past that is dropped and
//! counted, never silently. Memory is bounded by `max_in_flight` (sessions in the pools and
//! requests in flight), not by the rate. Think times (a class's or a request's own) do not
//! apply: the schedule, not the users, decides when the next request goes out.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

use super::arrivals::{Arrivals, RateCurve};
use super::precise_sleep::PreciseSleep;
use super::{EngineError, StopHandle};
use crate::load_control::{LoadChange, LoadControl};
use crate::plan::LaunchPlan;
use crate::recorder::Timing;
use crate::users::behaviour::STOP_GRACE;
use crate::users::{Call, ClassBehaviour, Session, UserContext, WeightedPicker, REQUEST_TIMEOUT};

/// Longest single sleep of the dispatcher, so a stop is noticed promptly.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Shortest time between two wake-ups of the dispatcher: arrivals due within it are sent
/// together, so a high rate costs a wake-up per batch rather than per arrival. It bounds the
/// added lateness of a send. (The open-model benchmark's minimal client paces the same.)
pub const BATCH: Duration = Duration::from_micros(150);

/// One class's behaviour and its idle users.
struct ClassPool {
    behaviour: ClassBehaviour,
    idle: Mutex<Vec<Session>>,
}

impl ClassPool {
    fn take(&self) -> Session {
        self.idle
            .lock()
            .expect("user pool poisoned")
            .pop()
            .unwrap_or_else(|| self.behaviour.new_session())
    }

    fn put_back(&self, session: Session) {
        self.idle.lock().expect("user pool poisoned").push(session);
    }
}

/// Arrivals awaiting a response, and a wake-up when the last one is answered.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    drained: Notify,
}

impl InFlight {
    fn finish(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }

    async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Runs the plan's arrivals until the schedule ends (then waits for the answers still in
/// flight, at most a request timeout) or `stop` is used.
pub async fn run(
    plan: &LaunchPlan,
    ctx: Arc<UserContext>,
    stop: &StopHandle,
) -> Result<(), EngineError> {
    let classes: Vec<(Arc<ClassPool>, u32)> = plan
        .class_weights
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(class, weight)| {
            let pool = ClassPool {
                behaviour: class.behaviour(),
                idle: Mutex::new(Vec::new()),
            };
            (Arc::new(pool), *weight)
        })
        .collect();
    if classes.is_empty() {
        return Err(EngineError::Refused(
            "no class has a positive weight".into(),
        ));
    }
    let curve = RateCurve::new(&plan.stages, plan.start_rate);
    let arrivals = Arrivals::new(curve.clone(), plan.arrival);
    let in_flight = Arc::new(InFlight::default());
    let dispatcher_classes: Vec<Arc<ClassPool>> = classes.iter().map(|(p, _)| p.clone()).collect();
    let stop_ctx = ctx.clone();
    let dispatcher = Dispatcher {
        classes,
        ctx,
        in_flight: in_flight.clone(),
        max_in_flight: plan.max_in_flight.max(1),
        stop: stop.clone(),
        arrival: plan.arrival,
        load_control: plan.load_control.clone(),
    };
    let run_time = Duration::from_secs_f64(curve.duration_secs());
    let sleep = PreciseSleep::new()
        .map_err(|e| EngineError::Refused(format!("the arrival dispatcher's timer: {e}")))?;
    let start = plan.schedule_start;
    // A task of its own on a runtime worker (not the caller's thread, which may be outside the
    // runtime): arrivals it starts go to that worker's own queue.
    tokio::spawn(dispatcher.dispatch(arrivals, start, run_time, sleep))
        .await
        .map_err(|e| EngineError::Refused(format!("the arrival dispatcher failed: {e}")))?
        .map_err(|e| EngineError::Refused(format!("the arrival dispatcher's timer: {e}")))?;
    let has_lifecycle = dispatcher_classes
        .iter()
        .any(|p| p.behaviour.lifecycle.is_some());
    if stop.reason().is_none() {
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, in_flight.drained()).await;
    } else if has_lifecycle {
        // Users still answering are stopped too, once back: their sessions must be closed.
        let _ = tokio::time::timeout(STOP_GRACE, in_flight.drained()).await;
    }
    if has_lifecycle {
        stop_idle_users(&dispatcher_classes, &stop_ctx).await;
    }
    Ok(())
}

/// Ends every idle user of the pools (their `on_stop`), all at once, within [`STOP_GRACE`].
async fn stop_idle_users(classes: &[Arc<ClassPool>], ctx: &Arc<UserContext>) {
    let mut stops = tokio::task::JoinSet::new();
    for pool in classes {
        let sessions = std::mem::take(&mut *pool.idle.lock().expect("user pool poisoned"));
        for mut session in sessions {
            let (pool, ctx) = (pool.clone(), ctx.clone());
            stops.spawn(async move {
                let call = Call {
                    ctx,
                    timing: Timing::Open {
                        intended: Instant::now(),
                    },
                };
                pool.behaviour.stop(call, &mut session).await;
            });
        }
    }
    // Each stop is cut at STOP_GRACE itself; this bounds the whole in case one never yields.
    let _ = tokio::time::timeout(STOP_GRACE * 2, async {
        while stops.join_next().await.is_some() {}
    })
    .await;
}

struct Dispatcher {
    classes: Vec<(Arc<ClassPool>, u32)>,
    ctx: Arc<UserContext>,
    in_flight: Arc<InFlight>,
    max_in_flight: usize,
    stop: StopHandle,
    arrival: crate::scenario::Arrival,
    load_control: Option<LoadControl>,
}

/// Why the dispatcher's sleep ended.
enum Wake {
    Due,
    Stopped,
    /// The rate control asked for a new rate.
    RateChanged,
}

/// The schedule being followed: `arrivals` count from `base` after the start.
struct Schedule {
    arrivals: Arrivals,
    base: Duration,
}

impl Dispatcher {
    /// Sends every arrival at its time after `start` (now if `None`; those already due at
    /// once), then waits out the run's time. A rate change replaces the rest of the schedule
    /// with the new rate held to the run's end.
    async fn dispatch(
        self,
        arrivals: Arrivals,
        start: Option<Instant>,
        run_time: Duration,
        mut sleep: PreciseSleep,
    ) -> std::io::Result<()> {
        let start = start.unwrap_or_else(Instant::now);
        let mut picker = WeightedPicker::new(self.classes.iter().map(|(_, w)| *w));
        let mut woke = start;
        let mut rate = self.load_control.as_ref().map(|c| {
            let mut rx = c.subscribe();
            rx.mark_unchanged();
            rx
        });
        let mut schedule = Schedule {
            arrivals,
            base: Duration::ZERO,
        };
        loop {
            let Some(offset) = schedule.arrivals.next() else {
                match self
                    .sleep_until(&mut sleep, start + run_time, &mut rate)
                    .await?
                {
                    Wake::RateChanged => {
                        schedule = self.reschedule(&mut rate, start, run_time);
                        continue;
                    }
                    Wake::Due | Wake::Stopped => return Ok(()),
                }
            };
            let intended = start + schedule.base + Duration::from_secs_f64(offset);
            if self.stop.reason().is_some() {
                return Ok(());
            }
            if rate_changed(&rate) {
                schedule = self.reschedule(&mut rate, start, run_time);
                continue;
            }
            if intended > Instant::now() {
                match self
                    .sleep_until(&mut sleep, intended.max(woke + BATCH), &mut rate)
                    .await?
                {
                    Wake::Due => {}
                    Wake::Stopped => return Ok(()),
                    Wake::RateChanged => {
                        schedule = self.reschedule(&mut rate, start, run_time);
                        continue;
                    }
                }
                woke = Instant::now();
            }
            let Some(class) = picker.pick() else {
                return Ok(());
            };
            self.arrive(&self.classes[class].0, intended);
        }
    }

    /// The schedule from now to the run's end at the rate just requested, logged as an edit.
    fn reschedule(
        &self,
        rate: &mut Option<watch::Receiver<Option<LoadChange>>>,
        start: Instant,
        run_time: Duration,
    ) -> Schedule {
        let requested = rate
            .as_mut()
            .and_then(|rx| match *rx.borrow_and_update() {
                Some(LoadChange::Rate(rate)) => Some(rate),
                // The control of an open run refuses any other change.
                _ => None,
            })
            .unwrap_or(0.0);
        let base = start.elapsed().min(run_time);
        if let Some(control) = &self.load_control {
            control.applied(base, LoadChange::Rate(requested));
        }
        let rest = crate::scenario::Stage::open(requested, Duration::ZERO, run_time - base);
        Schedule {
            arrivals: Arrivals::new(RateCurve::new(&[rest], requested), self.arrival),
            base,
        }
    }

    /// Sleeps until `at`, waking early for a stop or a rate change.
    async fn sleep_until(
        &self,
        sleep: &mut PreciseSleep,
        at: Instant,
        rate: &mut Option<watch::Receiver<Option<LoadChange>>>,
    ) -> std::io::Result<Wake> {
        loop {
            if self.stop.reason().is_some() {
                return Ok(Wake::Stopped);
            }
            if rate_changed(rate) {
                return Ok(Wake::RateChanged);
            }
            let now = Instant::now();
            if now >= at {
                return Ok(Wake::Due);
            }
            sleep.until(at.min(now + STOP_CHECK)).await?;
        }
    }

    fn arrive(&self, pool: &Arc<ClassPool>, intended: Instant) {
        let recorder = &self.ctx.recorder;
        if self.in_flight.count.load(Ordering::Acquire) >= self.max_in_flight {
            recorder.dropped();
            return;
        }
        self.in_flight.count.fetch_add(1, Ordering::AcqRel);
        recorder.user_started();
        let mut session = pool.take();
        let call = Call {
            ctx: self.ctx.clone(),
            timing: Timing::Open { intended },
        };
        let (pool, in_flight) = (pool.clone(), self.in_flight.clone());
        tokio::spawn(async move {
            // The request's own think time, if any, is the closed model's business.
            let _think_time = pool.behaviour.step(call.clone(), &mut session).await;
            pool.put_back(session);
            call.ctx.recorder.user_stopped();
            in_flight.finish();
        });
    }
}

/// A new rate was requested since the dispatcher last looked (never without a control).
fn rate_changed(rate: &Option<watch::Receiver<Option<LoadChange>>>) -> bool {
    rate.as_ref()
        .is_some_and(|rx| rx.has_changed().unwrap_or(false))
}

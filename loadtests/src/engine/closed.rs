//! Closed-loop users on goose: each user sends, waits for the answer, thinks, sends again.
//!
//! This is the only module that knows goose. What it hides:
//! - goose builds its user list from the registered scenarios' weights divided by their GCD,
//!   and starts users from the list's end; a falling stage stops the newest users first.
//!   To start the plan's exact order, every run of equal classes in it is registered as a
//!   scenario of its own, weights being run lengths, under goose's serial scheduler; a run
//!   of one user keeps the GCD at 1 so nothing is divided out ([`registrations`]).
//! - goose's test plan is whole seconds per step ([`test_plan`]).
//! - goose has one killswitch per process, so a process runs one plan at a time.
//! - each goose user holds a [`Session`] in its session data; a class's requests are chosen
//!   by the class itself ([`crate::users::ClassBehaviour::step`]), so goose sees one
//!   transaction per class and its transaction scheduler plays no part.
//! - think time is not goose's wait (one range per scenario): a request may have a think time
//!   of its own. A user thinks inside its transaction, in slices of at most [`THINK_SLICE`],
//!   so goose, which checks between transactions whether a user must stop (a falling stage,
//!   the end of the run), stops a thinking user as promptly as its own wait would.
//! - a run whose users may change mid-run starts all it may have at once, and a
//!   [`UsersGate`] decides which of them run ([`super::users_gate`]).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::client::GooseClientBuilder;
use goose::config::GooseDefault;
use goose::goose::{GooseUser, Scenario as GooseScenario, Transaction};
use goose::prelude::{GooseAttack, GooseDefaultType, GooseScheduler};
use rand::Rng;

use super::users_gate::{self, UsersGate};
use super::{EngineError, StopHandle, StopReason};
use crate::load_control::ControlKind;
use crate::plan::{runs_of, total_users, LaunchPlan};
use crate::recorder::Timing;
use crate::scenario::Stage;
use crate::users::{Call, ClassBehaviour, Session, ThinkTime, UserClass, UserContext};

impl From<goose::GooseError> for EngineError {
    fn from(e: goose::GooseError) -> Self {
        EngineError::Refused(e.to_string())
    }
}

/// Triggers goose's process-wide killswitch (see [`StopHandle::stop`]).
pub(super) fn stop_users(reason: StopReason) {
    goose::trigger_killswitch(match reason {
        StopReason::Interrupted => "interrupted",
        StopReason::Aborted => "aborted",
        StopReason::Commanded => "stopped by the manager",
    });
}

/// Runs the plan's users on goose until its stages end or `stop` is used.
pub async fn run(
    plan: &LaunchPlan,
    ctx: Arc<UserContext>,
    stop: &StopHandle,
) -> Result<(), EngineError> {
    // A run whose users may change starts the most it may have, waiting at the gate.
    let gated = plan.load_control.as_ref().and_then(|c| match c.kind() {
        ControlKind::Users { max_users } => Some((c.clone(), max_users as usize)),
        ControlKind::Rate => None,
    });
    let total = match &gated {
        Some((_, max_users)) => *max_users,
        None => total_users(&plan.stages),
    };
    if total == 0 || plan.start_order.is_empty() {
        // goose refuses a plan without users; an idle share just waits out its stages.
        tokio::select! {
            _ = tokio::time::sleep(plan.run_time()) => {}
            _ = stop.stopped() => {}
        }
        return Ok(());
    }
    let (gate, goose_plan) = match &gated {
        Some((control, max_users)) => {
            let gate = UsersGate::new(*max_users as u64);
            tokio::spawn(users_gate::drive(
                gate.clone(),
                plan.stages.clone(),
                control.clone(),
                stop.clone(),
                Instant::now(),
            ));
            // All at once, held past the run's end, which the gate makes exact.
            let held_s = plan.run_time().as_secs_f64().ceil().max(1.0) as u64;
            (
                Some(gate),
                format!("{max_users},0s;{max_users},{held_s}s;0,0s"),
            )
        }
        None => (None, test_plan(&plan.stages)),
    };
    let mut config = goose::config::GooseConfiguration::default();
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    config.no_status_codes = true;
    // Skein records every request itself (full-response timing); goose's metrics would
    // only cost memory and CPU.
    config.no_metrics = true;
    let mut attack = GooseAttack::initialize_with_config(config)?
        // Users send with the context's shared client; goose's own per-user client stays
        // minimal (no cookie store).
        .set_client_builder_without_cookies(GooseClientBuilder::new().without_cookies())?
        .set_scheduler(GooseScheduler::Serial)
        .set_default(GooseDefault::Host, ctx.base_url.as_str())?
        .set_default(GooseDefault::TestPlan, goose_plan.as_str())?;
    let mut behaviours: Vec<(UserClass, Arc<ClassBehaviour>)> = Vec::new();
    for (class, weight) in registrations(&plan.start_order[..total.min(plan.start_order.len())]) {
        let behaviour = match behaviours.iter().find(|(c, _)| *c == class) {
            Some((_, b)) => b.clone(),
            None => {
                let b = Arc::new(class.behaviour());
                behaviours.push((class, b.clone()));
                b
            }
        };
        let scenario = goose_scenario(behaviour, plan.think_time(class), &ctx, gate.clone())
            .set_weight(weight as usize)?;
        *attack = attack.register_scenario(scenario);
    }
    let outcome = attack.execute().await;
    if let Err(e) = outcome {
        // A goose error after users ran still leaves measurements: they are reported.
        tracing::warn!("load engine ended with an error: {e}");
    }
    Ok(())
}

/// The longest a user sleeps in one transaction while it thinks (goose's own wait sleeps in
/// slices of this length too).
const THINK_SLICE: Duration = Duration::from_millis(500);

/// A goose user's [`Session`], lent out for the length of one request (goose requires
/// session data to be `Clone + Sync`; the slot is, the session need not be), the user's
/// measured pause between requests, and until when it thinks.
#[derive(Clone, Default)]
struct SessionSlot(Arc<Mutex<UserState>>);

#[derive(Default)]
struct UserState {
    session: Option<Session>,
    pause: Pause,
    thinking_until: Option<Instant>,
}

impl SessionSlot {
    /// How long to sleep now if the user is still thinking (at most [`THINK_SLICE`]).
    fn thinking(&self, now: Instant) -> Option<Duration> {
        let state = self.0.lock().expect("session slot poisoned");
        let left = state.thinking_until?.saturating_duration_since(now);
        (!left.is_zero()).then(|| left.min(THINK_SLICE))
    }

    /// Lends the session out, with the interval at which this user is expected to send.
    fn take(&self, think: ThinkTime) -> Option<(Session, Duration)> {
        let mut state = self.0.lock().expect("session slot poisoned");
        let interval = state
            .pause
            .started(Instant::now())
            .unwrap_or_else(|| cadence(think));
        state.session.take().map(|s| (s, interval))
    }

    /// Gives the user a new session, with no pause measured yet.
    fn admit(&self, session: Session) {
        *self.0.lock().expect("session slot poisoned") = UserState {
            session: Some(session),
            ..UserState::default()
        };
    }

    fn has_session(&self) -> bool {
        self.0
            .lock()
            .expect("session slot poisoned")
            .session
            .is_some()
    }

    /// Takes the session for good (the user stops or waits at the gate), with its expected
    /// interval; the next session starts afresh.
    fn end(&self, think: ThinkTime) -> Option<(Session, Duration)> {
        let lent = self.take(think);
        let mut state = self.0.lock().expect("session slot poisoned");
        state.pause = Pause::default();
        state.thinking_until = None;
        lent
    }

    /// Returns the session after a request, and starts the user's think time.
    fn put(&self, session: Session, think: Duration) {
        let mut state = self.0.lock().expect("session slot poisoned");
        state.session = Some(session);
        let now = Instant::now();
        state.pause.ended(now);
        state.thinking_until = Some(now + think);
    }
}

/// The pause a closed user makes between the end of one request and the start of the next:
/// its think time plus the engine's own scheduling, averaged (an exponentially weighted mean
/// of the last ~10 pauses). It does not grow when the server stalls, so with the request's
/// service time it is the cadence the user would keep if answers came on time: the expected
/// interval of the coordinated-omission correction.
#[derive(Default)]
struct Pause {
    last_end: Option<Instant>,
    mean: Option<Duration>,
}

impl Pause {
    /// A request starts now; returns the user's mean pause so far.
    fn started(&mut self, now: Instant) -> Option<Duration> {
        if let Some(end) = self.last_end {
            let pause = now.saturating_duration_since(end);
            self.mean = Some(match self.mean {
                None => pause,
                Some(mean) => mean.mul_f64(0.9) + pause.mul_f64(0.1),
            });
        }
        self.mean
    }

    fn ended(&mut self, now: Instant) {
        self.last_end = Some(now);
    }
}

/// The mean of a think time: a closed user's expected pause before it has made one.
fn cadence(think: ThinkTime) -> Duration {
    (think.min + think.max) / 2
}

/// One pause drawn from `think`: uniform in `min..=max`.
fn draw(think: ThinkTime) -> Duration {
    if think.min >= think.max {
        return think.min;
    }
    rand::rng().random_range(think.min..=think.max)
}

/// How long a user the gate holds waits before goose may check whether it must stop. The gate
/// wakes it at once when it is admitted, when the run's time is over and when the run is
/// stopped, which are all the ways goose stops users here: the slice is a backstop, long so
/// that thousands of waiting users cost little (in a debug build 5,000 of them took ~38 % of
/// a core with a 2-s slice, nothing measurable beside 20 running users with this one).
const PARK_SLICE: Duration = Duration::from_secs(30);

/// One class as a goose scenario: on start a session, then one step per iteration. With a
/// `gate`, a user has a session only while the gate admits it.
fn goose_scenario(
    behaviour: Arc<ClassBehaviour>,
    think: ThinkTime,
    ctx: &Arc<UserContext>,
    gate: Option<Arc<UsersGate>>,
) -> GooseScenario {
    let name = behaviour.name;
    let on_start = {
        let (ctx, behaviour, gated) = (ctx.clone(), behaviour.clone(), gate.is_some());
        Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let slot = SessionSlot::default();
            if !gated {
                slot.admit(behaviour.new_session());
                ctx.recorder.user_started();
            }
            user.set_session_data(slot);
            Box::pin(async { Ok(()) })
        }))
        .set_on_start()
    };
    let on_stop = {
        let (ctx, behaviour) = (ctx.clone(), behaviour.clone());
        Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let slot = user.get_session_data::<SessionSlot>().cloned();
            let (ctx, behaviour) = (ctx.clone(), behaviour.clone());
            Box::pin(async move {
                // goose stops a user between transactions, so its session (if the gate let it
                // have one) is back in the slot.
                if let Some(slot) = slot {
                    end_session(&slot, &behaviour, &ctx, think).await;
                }
                Ok(())
            })
        }))
        .set_on_stop()
    };
    let step = {
        let (ctx, behaviour) = (ctx.clone(), behaviour.clone());
        Transaction::new(Arc::new(move |user: &mut GooseUser| {
            let slot = user.get_session_data::<SessionSlot>().cloned();
            let index = user.weighted_users_index;
            let (ctx, behaviour, gate) = (ctx.clone(), behaviour.clone(), gate.clone());
            Box::pin(async move {
                let Some(slot) = slot else { return Ok(()) };
                if let Some(gate) = gate {
                    if !gate.admits(index) {
                        end_session(&slot, &behaviour, &ctx, think).await;
                        if gate.is_closed() {
                            // The run is over: goose stops this user within a slice.
                            tokio::time::sleep(THINK_SLICE).await;
                        } else {
                            gate.wait(index, PARK_SLICE).await;
                        }
                        return Ok(());
                    }
                    if !slot.has_session() {
                        slot.admit(behaviour.new_session());
                        ctx.recorder.user_started();
                    }
                }
                if let Some(slice) = slot.thinking(Instant::now()) {
                    tokio::time::sleep(slice).await;
                    return Ok(());
                }
                if let Some((mut session, expected_interval)) = slot.take(think) {
                    let call = Call {
                        ctx,
                        timing: Timing::Closed { expected_interval },
                    };
                    let own = behaviour.step(call, &mut session).await;
                    slot.put(session, draw(own.unwrap_or(think)));
                    // The first slice at once: a short think costs no transaction of its own.
                    if let Some(slice) = slot.thinking(Instant::now()) {
                        tokio::time::sleep(slice).await;
                    }
                }
                Ok(())
            })
        }))
        .set_name(name)
    };
    GooseScenario::new(name)
        .register_transaction(on_start)
        .register_transaction(on_stop)
        .register_transaction(step)
}

/// Ends the user's session, if it has one: its class's `on_stop`, and one user fewer.
async fn end_session(
    slot: &SessionSlot,
    behaviour: &ClassBehaviour,
    ctx: &Arc<UserContext>,
    think: ThinkTime,
) {
    let Some((mut session, expected_interval)) = slot.end(think) else {
        return;
    };
    let call = Call {
        ctx: ctx.clone(),
        timing: Timing::Closed { expected_interval },
    };
    behaviour.stop(call, &mut session).await;
    ctx.recorder.user_stopped();
}

/// goose's `--test-plan`: per stage, a ramp at the stage's spawn rate, then a hold until the
/// stage's end; finally all users stop. goose steps are whole seconds: the ramp is rounded
/// up, each stage's total kept.
pub fn test_plan(stages: &[Stage]) -> String {
    let mut steps = Vec::new();
    let mut users_now = 0u64;
    for s in stages {
        let total_ms = u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX);
        let delta = s.users.abs_diff(users_now) as f64;
        let ramp_ms = ((delta / s.spawn_rate) * 1000.0)
            .round()
            .min(u64::MAX as f64) as u64;
        let ramp_s = ramp_ms.min(total_ms).div_ceil(1000);
        let total_s = (total_ms as f64 / 1000.0).round().max(1.0) as u64;
        let ramp_s = ramp_s.min(total_s);
        steps.push(format!("{},{}s", s.users, ramp_s));
        if total_s > ramp_s {
            steps.push(format!("{},{}s", s.users, total_s - ramp_s));
        }
        users_now = s.users;
    }
    steps.push("0,0s".into());
    steps.join(";")
}

/// The scenarios to register, in registration order, with their weights, so that goose's
/// serial scheduler starts exactly `order`.
fn registrations(order: &[UserClass]) -> Vec<(UserClass, u32)> {
    let mut runs = runs_of(order.iter().copied());
    // goose divides the weights by their GCD and repeats the shorter list, which would
    // interleave the runs; a run of one user makes the GCD 1.
    if runs.iter().fold(0, |g, r| gcd(g, r.1)) > 1 {
        let (class, n) = runs[0];
        runs[0].1 = 1;
        runs.insert(1, (class, n - 1));
    }
    // goose starts users from the end of its list.
    runs.reverse();
    runs
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// goose's start order for scenarios registered with these weights under its serial
/// scheduler: the oracle the tests check [`registrations`] against.
#[cfg(test)]
pub(crate) fn goose_serial_order(registered: &[(UserClass, u32)], total: usize) -> Vec<UserClass> {
    let divisor = registered.iter().fold(0, |g, r| gcd(g, r.1));
    if registered.is_empty() || total == 0 || divisor == 0 {
        return Vec::new();
    }
    let pattern: Vec<UserClass> = registered
        .iter()
        .flat_map(|&(c, w)| std::iter::repeat_n(c, (w / divisor) as usize))
        .collect();
    let mut list: Vec<UserClass> = pattern.iter().copied().cycle().take(total).collect();
    list.reverse();
    list
}

/// What goose starts for `order` cut to `total` users (see [`registrations`]).
#[cfg(test)]
pub(crate) fn started_by_goose(order: &[UserClass], total: usize) -> Vec<UserClass> {
    goose_serial_order(&registrations(&order[..total.min(order.len())]), total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;

    #[test]
    fn the_pause_is_averaged_and_ignores_slow_answers() {
        let mut pause = Pause::default();
        let t0 = Instant::now();
        assert_eq!(pause.started(t0), None, "no pause before the first request");
        // Answers take 2 ms, then one takes 1 s (a stall); pauses stay 100 ms throughout.
        let mut now = t0;
        for answer_ms in [2, 2, 1_000, 2, 2] {
            now += Duration::from_millis(answer_ms);
            pause.ended(now);
            now += Duration::from_millis(100);
            let mean = pause.started(now).unwrap();
            assert_eq!(mean, Duration::from_millis(100));
        }
    }
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_user_thinks_in_slices_until_its_pause_ends() {
        let slot = SessionSlot::default();
        let t0 = Instant::now();
        assert_eq!(slot.thinking(t0), None, "no pause before the first request");
        let class = crate::users::ClassBehaviour::new("X", vec![]);
        slot.put(class.new_session(), Duration::from_millis(1_200));
        let now = Instant::now();
        assert_eq!(slot.thinking(now), Some(THINK_SLICE));
        let late = now + Duration::from_millis(1_000);
        let left = slot.thinking(late).unwrap();
        assert!(
            left <= Duration::from_millis(200) && !left.is_zero(),
            "{left:?}"
        );
        assert_eq!(slot.thinking(now + Duration::from_secs(2)), None);
        let fixed = ThinkTime::ms(30, 30);
        assert_eq!(draw(fixed), Duration::from_millis(30));
        let range = ThinkTime::ms(10, 20);
        assert!((0..100).all(|_| (range.min..=range.max).contains(&draw(range))));
    }

    #[test]
    fn any_order_is_started_exactly_whatever_its_runs() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let len = rng.random_range(1..60);
            let runs = rng.random_range(1..5);
            // Few distinct runs make equal run lengths (a GCD above one) likely.
            let order: Vec<UserClass> = (0..len)
                .map(|i| UserClass::ALL[(i * runs / len) % UserClass::ALL.len()])
                .collect();
            let total = rng.random_range(1..=len);
            assert_eq!(
                started_by_goose(&order, total),
                order[..total],
                "{order:?} first {total}"
            );
        }
    }

    #[test]
    fn test_plan_ramps_then_holds_each_stage_and_stops() {
        let stage =
            |users, spawn_rate, secs| Stage::closed(users, spawn_rate, Duration::from_secs(secs));
        assert_eq!(
            test_plan(&[stage(10, 5.0, 10), stage(4, 2.0, 5)]),
            "10,2s;10,8s;4,3s;4,2s;0,0s"
        );
        // A ramp longer than its stage is cut to the stage.
        assert_eq!(test_plan(&[stage(100, 1.0, 3)]), "100,3s;0,0s");
    }

    /// The closed model runs on goose with loadtests/vendor/goose.patch, which halves what a
    /// waiting user holds (docs/generator.md). Losing the patch (a `cargo update` to a goose
    /// without it, the `[patch]` entry removed) would not fail anything else.
    #[test]
    fn goose_is_the_patched_one_whose_users_share_their_configuration() {
        let configuration: &std::sync::Arc<goose::config::GooseConfiguration> =
            &goose::goose::GooseUser::single(
                "http://127.0.0.1:1".parse().unwrap(),
                &goose::config::GooseConfiguration::default(),
            )
            .unwrap()
            .config;
        assert_eq!(std::sync::Arc::strong_count(configuration), 1);
        let user_bytes = std::mem::size_of::<goose::goose::GooseUser>();
        assert!(
            user_bytes <= 1_400,
            "a GooseUser is {user_bytes} bytes: goose 0.19.0 as published holds 2,040 with its own \
             copy of the configuration"
        );
    }
}

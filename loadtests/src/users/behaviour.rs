//! Skein's own model of a user, independent of any load engine.
//!
//! A user class is a [`ClassBehaviour`]: named, weighted [`Request`]s. A request is an async
//! function of a [`Call`] (the shared target plus how this request was scheduled) and the
//! user's [`Session`] (per-user state such as the jobs it started). An executor (closed users
//! on goose, open-model arrivals) owns the sessions and calls [`ClassBehaviour::step`]; it never
//! needs to know what a class sends, and a class never needs to know which executor runs it.
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::UserContext;
pub use crate::recorder::Timing;

/// Pause between two requests of one user: uniform in `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl ThinkTime {
    pub const fn ms(min: u64, max: u64) -> Self {
        ThinkTime {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        }
    }
}

/// The future of one request.
pub type RequestFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What one request of a class does.
pub type RequestFn = dyn for<'a> Fn(Call, &'a mut Session) -> RequestFuture<'a> + Send + Sync;

/// One kind of request a class sends, with its share among the class's requests.
#[derive(Clone)]
pub struct Request {
    /// The name every output and SLA uses (e.g. `training.get_status`).
    pub name: &'static str,
    pub weight: u32,
    pub send: Arc<RequestFn>,
    /// The pause after this request when it is not its class's think time (closed model).
    pub think_time: Option<ThinkTime>,
}

impl Request {
    pub fn new<F>(name: &'static str, weight: u32, send: F) -> Request
    where
        F: for<'a> Fn(Call, &'a mut Session) -> RequestFuture<'a> + Send + Sync + 'static,
    {
        Request {
            name,
            weight,
            send: Arc::new(send),
            think_time: None,
        }
    }

    /// This request with its own think time (`None`: its class's).
    pub fn with_think_time(mut self, think_time: Option<ThinkTime>) -> Request {
        self.think_time = think_time;
        self
    }
}

/// The future of a user's start or stop: whether every request of it succeeded.
pub type LifecycleFuture<'a> = Pin<Box<dyn Future<Output = bool> + Send + 'a>>;

/// What a user sends when it starts or stops.
pub type LifecycleFn = dyn for<'a> Fn(Call, &'a mut Session) -> LifecycleFuture<'a> + Send + Sync;

/// A class's per-user setup and teardown (Locust's `on_start`/`on_stop`): e.g. opening a
/// protocol session and closing it. Both are sent and recorded like any request.
#[derive(Clone)]
pub struct Lifecycle {
    /// Sent once per user before its first request; `false` if it failed, and the user is
    /// not started: it retries after a backoff ([`start_backoff`]) and sends nothing else.
    pub start: Arc<LifecycleFn>,
    /// Sent when a started user stops (the run's end, a falling stage, an interrupt, a stop
    /// from the manager), within [`STOP_GRACE`].
    pub stop: Arc<LifecycleFn>,
}

/// The longest a user's stop may take: its requests are cut after this, so an interrupt or a
/// hung server never holds the run's end (and its results) for long.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The request name under which users that stopped without ever starting are counted among
/// a run's skipped requests (per class, merged across workers like them).
pub const NOT_STARTED: &str = "(user not started: on_start failed)";

/// How long a user whose start failed `attempts` times waits before its next attempt: 1 s,
/// doubling, at most 30 s, with ±20 % jitter so users that failed together do not retry
/// together.
pub fn start_backoff(attempts: u32) -> Duration {
    let base = Duration::from_secs(1) * 2u32.saturating_pow(attempts.saturating_sub(1).min(5));
    let base = base.min(Duration::from_secs(30));
    base.mul_f64(rand::random_range(0.8..=1.2))
}

/// A user class: what its users send, in which proportions.
#[derive(Clone)]
pub struct ClassBehaviour {
    pub name: &'static str,
    pub requests: Vec<Request>,
    /// Per-user setup and teardown, when the class has any.
    pub lifecycle: Option<Lifecycle>,
    /// Names the class records requests under besides its requests' (its start's and stop's,
    /// a re-subscription): what SLAs by name may name.
    pub other_names: Vec<&'static str>,
}

impl ClassBehaviour {
    /// A class whose users need no setup or teardown.
    pub fn new(name: &'static str, requests: Vec<Request>) -> ClassBehaviour {
        ClassBehaviour {
            name,
            requests,
            lifecycle: None,
            other_names: Vec::new(),
        }
    }

    /// This class with more names it records requests under (see [`Self::other_names`]).
    pub fn recording(mut self, names: impl IntoIterator<Item = &'static str>) -> ClassBehaviour {
        self.other_names.extend(names);
        self
    }

    /// This class with a setup and teardown per user.
    pub fn with_lifecycle(mut self, lifecycle: Lifecycle) -> ClassBehaviour {
        self.lifecycle = Some(lifecycle);
        self
    }

    /// Every name this class records requests under that is known before it runs: its
    /// requests' and [`Self::other_names`] (a class may also record names it learns while it
    /// runs, e.g. tools it lists).
    pub fn recorded_names(&self) -> Vec<&'static str> {
        let own = self.requests.iter().map(|r| r.name);
        own.chain(self.other_names.iter().copied()).collect()
    }

    /// A fresh user of this class.
    pub fn new_session(&self) -> Session {
        Session {
            picker: WeightedPicker::new(self.requests.iter().map(|r| r.weight)),
            data: HashMap::new(),
            start: StartState::default(),
        }
    }

    /// The user's next request, chosen by the request weights, sent and recorded (after its
    /// start, the first time). Returns that request's own think time, if it has one: the
    /// pause a closed user makes before its next request instead of its class's; for a user
    /// whose start failed, the backoff before it tries again.
    pub async fn step(&self, call: Call, session: &mut Session) -> Option<ThinkTime> {
        if let Some(lifecycle) = &self.lifecycle {
            if let Some(wait) = self.ensure_started(lifecycle, &call, session).await {
                return Some(ThinkTime {
                    min: wait,
                    max: wait,
                });
            }
        }
        let index = session.picker.pick()?;
        let request = &self.requests[index];
        (request.send)(call, session).await;
        request.think_time
    }

    /// Starts the user unless it has; `Some(wait)` when it is not started (yet), `wait` being
    /// what is left of its backoff.
    async fn ensure_started(
        &self,
        lifecycle: &Lifecycle,
        call: &Call,
        session: &mut Session,
    ) -> Option<Duration> {
        match session.start {
            StartState::Started => return None,
            StartState::Failed { retry_at, .. } => {
                let left = retry_at.saturating_duration_since(Instant::now());
                if !left.is_zero() {
                    return Some(left);
                }
            }
            StartState::Pending => {}
        }
        if (lifecycle.start)(call.clone(), session).await {
            session.start = StartState::Started;
            return None;
        }
        let attempts = match session.start {
            StartState::Failed { attempts, .. } => attempts + 1,
            _ => 1,
        };
        let wait = start_backoff(attempts);
        session.start = StartState::Failed {
            attempts,
            retry_at: Instant::now() + wait,
        };
        Some(wait)
    }

    /// Ends a user: its stop requests if it started (cut after [`STOP_GRACE`]); a user whose
    /// start failed and never succeeded is counted as not started ([`NOT_STARTED`]).
    pub async fn stop(&self, call: Call, session: &mut Session) {
        let Some(lifecycle) = &self.lifecycle else {
            return;
        };
        match session.start {
            StartState::Started => {
                let stopped =
                    tokio::time::timeout(STOP_GRACE, (lifecycle.stop)(call, session)).await;
                if stopped.is_err() {
                    tracing::warn!(
                        "{}: a user's on_stop took longer than {}s and was cut",
                        self.name,
                        STOP_GRACE.as_secs()
                    );
                }
            }
            StartState::Failed { .. } => call.ctx.recorder.skipped(self.name, NOT_STARTED),
            StartState::Pending => {}
        }
        session.start = StartState::Pending;
    }
}

/// Where a user is in its start (for a class with a [`Lifecycle`]).
#[derive(Clone, Copy, Debug, Default)]
enum StartState {
    /// Not tried yet.
    #[default]
    Pending,
    Started,
    /// Its start failed `attempts` times in a row; the next try is not before `retry_at`.
    Failed {
        attempts: u32,
        retry_at: Instant,
    },
}

/// Everything a request needs besides the user's own state.
#[derive(Clone)]
pub struct Call {
    pub ctx: Arc<UserContext>,
    pub timing: Timing,
}

/// One user's state: which request comes next, and whatever its class remembers.
pub struct Session {
    picker: WeightedPicker,
    data: HashMap<TypeId, Box<dyn Any + Send>>,
    start: StartState,
}

impl Session {
    /// This user's `T` (created on first use): e.g. the jobs a training user started.
    pub fn data<T: Default + Send + 'static>(&mut self) -> &mut T {
        self.data
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("session data is keyed by its own type")
    }
}

/// Smooth weighted round-robin (nginx's): every window of `sum(weights)` picks has each index
/// exactly `weight` times, interleaved rather than in blocks, whatever the executor. Ties go
/// to the lowest index, so equal weights pick the indices in order, looping (what a declared
/// class's sequence mode relies on).
#[derive(Clone, Debug)]
pub struct WeightedPicker {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl WeightedPicker {
    pub fn new(weights: impl IntoIterator<Item = u32>) -> WeightedPicker {
        let weights: Vec<i64> = weights.into_iter().map(i64::from).collect();
        let total = weights.iter().sum();
        WeightedPicker {
            current: vec![0; weights.len()],
            weights,
            total,
        }
    }

    /// The next index, or `None` when every weight is 0.
    pub fn pick(&mut self) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_gives_each_index_its_weight_in_every_window() {
        let mut p = WeightedPicker::new([40, 30, 20, 10]);
        for _ in 0..3 {
            let mut counts = [0; 4];
            for _ in 0..100 {
                counts[p.pick().unwrap()] += 1;
            }
            assert_eq!(counts, [40, 30, 20, 10]);
        }
    }

    #[test]
    fn picker_interleaves_instead_of_blocks() {
        let mut p = WeightedPicker::new([2, 1]);
        let picks: Vec<usize> = (0..6).map(|_| p.pick().unwrap()).collect();
        assert_eq!(picks, [0, 1, 0, 0, 1, 0]);
        let mut longest = 0;
        let mut p = WeightedPicker::new([40, 30, 20, 10]);
        let mut run = 0;
        let mut last = usize::MAX;
        for _ in 0..1000 {
            let i = p.pick().unwrap();
            run = if i == last { run + 1 } else { 1 };
            last = i;
            longest = longest.max(run);
        }
        assert!(longest <= 2, "runs of {longest}");
    }

    #[test]
    fn equal_weights_pick_every_index_in_order_looping() {
        for n in 1..40 {
            let mut p = WeightedPicker::new(std::iter::repeat_n(1, n));
            let picks: Vec<usize> = (0..3 * n).map(|_| p.pick().unwrap()).collect();
            let expected: Vec<usize> = (0..3).flat_map(|_| 0..n).collect();
            assert_eq!(picks, expected, "{n} requests");
        }
    }

    #[test]
    fn picker_skips_zero_weights_and_all_zero_gives_none() {
        let mut p = WeightedPicker::new([0, 3, 0]);
        assert!((0..9).all(|_| p.pick() == Some(1)));
        assert_eq!(WeightedPicker::new([0, 0]).pick(), None);
    }

    #[test]
    fn session_data_is_per_type_and_kept() {
        let class = ClassBehaviour::new("X", vec![]);
        let mut s = class.new_session();
        s.data::<Vec<u32>>().push(3);
        *s.data::<u64>() += 2;
        assert_eq!(s.data::<Vec<u32>>(), &vec![3]);
        assert_eq!(*s.data::<u64>(), 2);
    }
}

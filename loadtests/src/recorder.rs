//! The recorder: every finished request goes here, on the hot path of every user.
//!
//! Latency is the full response time (send → last body byte) in microseconds, into HDR
//! histograms per request name, per wall-clock second, and (at the end) per stage. Each
//! runtime thread writes into its own shard (chosen once per thread), so the lock a request
//! takes is almost never contended; a snapshot merges the shards. Nothing is stored per request: memory grows with request
//! names, failure kinds and run seconds, never with request count.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reports::{
    FailureGroup, LatencyHistogram, RequestStats, SecondSample, SkippedRequests, StreamTiming,
    TokenTiming,
};

use crate::resources;

const SHARDS: usize = 16;

thread_local! {
    /// This thread's shard, handed out round-robin on first use.
    static SHARD: usize = {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS
    };
}

/// A request name's stats on one shard, and its typical (median) service time: the
/// closed-model correction's estimate of a request's own share of a user's cadence, and the
/// least a send held back by a stall would have taken. A median, not the fastest answer:
/// with the fastest, every ordinarily slow answer looked like a stall.
struct NameStats {
    stats: RequestStats,
    typical_micros: u64,
}

impl NameStats {
    /// Re-reads the median after the 1st, 2nd, 4th, … 1024th request, then every 1024th:
    /// it settles early and costs a walk over the histogram's counters only rarely.
    fn refresh_typical(&mut self) {
        let n = self.stats.requests;
        if n.is_power_of_two() && n <= 1024 || n.is_multiple_of(1024) {
            let median = self.stats.latency.value_at_quantile(0.5);
            self.typical_micros = (median * 1000.0) as u64;
        }
    }
}

#[derive(Default)]
struct Shard {
    names: HashMap<&'static str, NameStats>,
    /// Open model: how late each request went out after its intended instant.
    send_lag: LatencyHistogram,
    /// Seconds not yet rolled into the series (usually the current one).
    seconds: BTreeMap<i64, SecondSample>,
    failures: HashMap<(&'static str, String), FailureGroup>,
}

/// When a request was meant to be sent, so latency can be measured from there too.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Timing {
    /// A closed-loop user: it sends again after its response and a pause. Its intended send
    /// time is when it sends (the end of its previous request and its think time: with zero
    /// think, the end of the previous request), so the answer's own intended-time latency is
    /// its service time; its cadence is the pause it keeps between requests plus the
    /// request's typical service time, and an answer slower than a cadence and a service
    /// time held back the sends the user would have made meanwhile (see
    /// `LatencyHistogram::record_with_held_back`).
    Closed { expected_interval: Duration },
    /// An open-model arrival scheduled for this instant: latency counts from it.
    Open { intended: Instant },
}

/// One finished request, as a user class reports it.
pub struct Sample<'a> {
    pub method: &'static str,
    pub name: &'static str,
    /// Service time: from the actual send to the last byte of the response.
    pub latency: Duration,
    /// When the request actually went out.
    pub sent_at: Instant,
    pub timing: Timing,
    pub content_bytes: u64,
    /// Items the request carried (events in a batch, trajectories exported, chunks
    /// streamed), where the class counts them; 0 otherwise.
    pub items: u64,
    /// A streamed answer's chunk timings.
    pub stream: Option<&'a StreamTiming>,
    /// An LLM answer's tokens and their timings (recorded for successful answers only). Its
    /// content chunks are also its stream figures (time to first chunk, gaps) when `stream`
    /// is `None`: one timing, read twice, not copied.
    pub tokens: Option<&'a TokenTiming>,
    /// `Some(message)` when the request failed.
    pub error: Option<&'a str>,
}

/// Cumulative measurements of a run; share it as `Arc<Recorder>`.
pub struct Recorder {
    enabled: bool,
    started_at: DateTime<Utc>,
    shards: Vec<Mutex<Shard>>,
    /// Finished seconds, each with the users active when it was rolled.
    series: Mutex<BTreeMap<i64, SecondSample>>,
    active_users: AtomicU64,
    peak_users: AtomicU64,
    dropped: AtomicU64,
    /// Requests of declared classes not sent for want of a capture, by (class, request):
    /// rare, so one lock rather than shards.
    skipped: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    cpu_at_start: f64,
}

fn micros_of(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// How a sample's intended-time latency is recorded.
enum Intended {
    /// Open model: the latency from the arrival's scheduled instant.
    Exact(u64),
    /// Closed model: the service time, and the sends a stall held back.
    HeldBack {
        micros: u64,
        interval: u64,
        typical: u64,
    },
}

impl Intended {
    /// A closed user's expected interval between sends is its measured pause (think time and
    /// scheduling, see `engine::closed`) plus the request's typical service time: the cadence
    /// it keeps while answers come as usual.
    fn of(sample: &Sample<'_>, micros: u64, typical_micros: u64) -> Intended {
        match sample.timing {
            Timing::Open { intended } => Intended::Exact(micros_of(
                sample.sent_at.saturating_duration_since(intended) + sample.latency,
            )),
            Timing::Closed { expected_interval } => Intended::HeldBack {
                micros,
                interval: micros_of(expected_interval).saturating_add(typical_micros),
                typical: typical_micros,
            },
        }
    }

    fn record(&self, into: &mut LatencyHistogram) {
        match *self {
            Intended::Exact(micros) => into.record(micros),
            Intended::HeldBack {
                micros,
                interval,
                typical,
            } => into.record_with_held_back(micros, interval, typical),
        }
    }
}

fn unix_second(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Recorder {
    pub fn new() -> Recorder {
        Self::with_recording(true)
    }

    /// `enabled = false` makes [`Recorder::record`] a no-op: the benchmark's baseline.
    pub fn with_recording(enabled: bool) -> Recorder {
        Recorder {
            enabled,
            started_at: Utc::now(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            series: Mutex::new(BTreeMap::new()),
            active_users: AtomicU64::new(0),
            peak_users: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            skipped: Mutex::new(BTreeMap::new()),
            cpu_at_start: resources::cpu_seconds(),
        }
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Records one request: its service time, and its latency from the intended send time
    /// (see [`Timing`]).
    pub fn record(&self, sample: Sample<'_>) {
        if !self.enabled {
            return;
        }
        let now = SystemTime::now();
        let micros = micros_of(sample.latency);
        let failed = sample.error.is_some();
        let index = SHARD.with(|i| *i);
        let mut guard = self.shards[index].lock().expect("recorder poisoned");
        let shard = &mut *guard;
        let named = shard.names.entry(sample.name).or_insert_with(|| NameStats {
            stats: RequestStats::new(sample.method, sample.name),
            typical_micros: micros,
        });
        let intended = Intended::of(&sample, micros, named.typical_micros);
        let send_lag = match sample.timing {
            Timing::Open { intended } => Some(micros_of(
                sample.sent_at.saturating_duration_since(intended),
            )),
            Timing::Closed { .. } => None,
        };
        if let Some(lag) = send_lag {
            shard.send_lag.record(lag);
        }
        let stats = &mut named.stats;
        stats.requests += 1;
        stats.failures += failed as u64;
        stats.content_bytes += sample.content_bytes;
        stats.items += sample.items;
        stats.latency.record(micros);
        intended.record(&mut stats.intended_samples);
        match (sample.stream, sample.tokens) {
            (Some(stream), _) => stats.stream.record(stream),
            (None, Some(t)) => stats.stream.record_chunks(t.ttft_micros, &t.itl_micros),
            (None, None) => {}
        }
        let tokens = sample.tokens.filter(|_| !failed);
        if let Some(tokens) = tokens {
            stats.tokens.record(tokens, send_lag);
        }
        named.refresh_typical();
        let second = unix_second(now);
        let s = shard
            .seconds
            .entry(second)
            .or_insert_with(|| SecondSample::empty(second));
        s.requests += 1;
        s.failures += failed as u64;
        s.content_bytes += sample.content_bytes;
        s.items += sample.items;
        s.latency.record(micros);
        intended.record(&mut s.intended_samples);
        match (sample.stream, sample.tokens) {
            (Some(stream), _) => s.stream.record(stream),
            (None, Some(t)) => s.stream.record_chunks(t.ttft_micros, &t.itl_micros),
            (None, None) => {}
        }
        if let Some(tokens) = tokens {
            s.tokens.record(tokens, send_lag);
        }
        if let Some(error) = sample.error {
            let group = FailureGroup::new(sample.method, sample.name, error, now.into());
            match shard.failures.get_mut(&(sample.name, error.to_string())) {
                Some(g) => g.add(&group),
                None => {
                    shard
                        .failures
                        .insert((sample.name, error.to_string()), group);
                }
            }
        }
    }

    /// Counts an open-model arrival that was never sent (too many in flight).
    pub fn dropped(&self) {
        if !self.enabled {
            return;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        let second = unix_second(SystemTime::now());
        let index = SHARD.with(|i| *i);
        let mut shard = self.shards[index].lock().expect("recorder poisoned");
        shard
            .seconds
            .entry(second)
            .or_insert_with(|| SecondSample::empty(second))
            .dropped += 1;
    }

    pub fn dropped_arrivals(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts a request of a declared class that was not sent because a value it uses was
    /// not captured yet: neither a request nor a failure (see `users::declared`).
    pub fn skipped(&self, class: &'static str, request: &'static str) {
        if !self.enabled {
            return;
        }
        *self
            .skipped
            .lock()
            .expect("recorder poisoned")
            .entry((class, request))
            .or_default() += 1;
    }

    /// Every skipped request so far, sorted by class and request name.
    pub fn skipped_requests(&self) -> Vec<SkippedRequests> {
        let skipped = self.skipped.lock().expect("recorder poisoned");
        skipped
            .iter()
            .map(|(&(class, name), &count)| SkippedRequests {
                class: class.to_string(),
                name: name.to_string(),
                count,
            })
            .collect()
    }

    /// Open model: how late requests went out after their intended instants (the
    /// generator's own precision; large values mean it could not keep up with its schedule).
    pub fn send_lag(&self) -> LatencyHistogram {
        let mut lag = LatencyHistogram::new();
        for shard in &self.shards {
            lag.add(&shard.lock().expect("recorder poisoned").send_lag);
        }
        lag
    }

    pub fn user_started(&self) {
        let now = self.active_users.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_users.fetch_max(now, Ordering::Relaxed);
    }

    pub fn user_stopped(&self) {
        let _ = self
            .active_users
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    pub fn active_users(&self) -> u64 {
        self.active_users.load(Ordering::Relaxed)
    }

    /// Moves every second before the current one from the shards into the series, stamping
    /// it with the active users. Call about once a second, and once with `all = true` when
    /// the users have stopped (every second, the current one included, is then finished).
    pub fn roll(&self, all: bool) {
        let current = unix_second(SystemTime::now());
        let users = self.active_users();
        let mut done: Vec<SecondSample> = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.lock().expect("recorder poisoned");
            let keep = if all {
                BTreeMap::new()
            } else {
                shard.seconds.split_off(&current)
            };
            done.extend(std::mem::replace(&mut shard.seconds, keep).into_values());
        }
        let mut series = self.series.lock().expect("recorder poisoned");
        let first = unix_second(self.started_at.into());
        let last = if all { current } else { current - 1 };
        // Every second of the run gets a sample, with or without requests.
        for t in first..=last {
            series.entry(t).or_insert_with(|| {
                let mut s = SecondSample::empty(t);
                s.users = users;
                s
            });
        }
        let mut touched = Vec::with_capacity(done.len());
        for s in done {
            let into = series
                .entry(s.unix_second)
                .or_insert_with(|| SecondSample::empty(s.unix_second));
            // Shard samples carry no users: the second is stamped with the active users.
            into.add(&s);
            into.users = into.users.max(users);
            touched.push(s.unix_second);
        }
        // Finished seconds keep only their recorded buckets: the series then costs a few
        // KiB per second instead of a dense histogram (~72 KiB) per second.
        for t in touched {
            if let Some(s) = series.get_mut(&t) {
                s.compact();
            }
        }
    }

    /// Cumulative totals since the start: per-name stats (sorted by name), failure groups,
    /// and the finished seconds of the series.
    pub fn totals(&self) -> (Vec<RequestStats>, Vec<FailureGroup>, Vec<SecondSample>) {
        self.totals_with_tail(None)
    }

    /// [`Recorder::totals`] with only the last `tail` finished seconds of the series (a
    /// worker's regular report), or all of them for `None`.
    pub fn totals_with_tail(
        &self,
        tail: Option<usize>,
    ) -> (Vec<RequestStats>, Vec<FailureGroup>, Vec<SecondSample>) {
        let mut names: BTreeMap<&'static str, RequestStats> = BTreeMap::new();
        let mut failures: BTreeMap<(String, String), FailureGroup> = BTreeMap::new();
        for shard in &self.shards {
            let shard = shard.lock().expect("recorder poisoned");
            for (name, named) in &shard.names {
                names
                    .entry(name)
                    .or_insert_with(|| RequestStats::new(&named.stats.method, name))
                    .add(&named.stats);
            }
            for ((name, error), g) in &shard.failures {
                match failures.get_mut(&(name.to_string(), error.clone())) {
                    Some(into) => into.add(g),
                    None => {
                        failures.insert((name.to_string(), error.clone()), g.clone());
                    }
                }
            }
        }
        let series = {
            let all = self.series.lock().expect("recorder poisoned");
            let skip = tail.map_or(0, |n| all.len().saturating_sub(n));
            all.values().skip(skip).cloned().collect()
        };
        (
            names.into_values().collect(),
            failures.into_values().collect(),
            series,
        )
    }

    /// CPU seconds this process used since the recorder was made, and its peak RSS.
    pub fn resources(&self) -> reports::GeneratorResources {
        reports::GeneratorResources {
            cpu_seconds: (resources::cpu_seconds() - self.cpu_at_start).max(0.0),
            peak_rss_bytes: resources::peak_rss_bytes(),
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A closed user's answers as the engine reports them: its think times averaged as
    /// `engine::closed` measures its pause, service times from `base` with `spread` and, one
    /// answer in `stall_every`, a stall of `stall_ms`.
    fn closed_user(
        recorder: &Recorder,
        name: &'static str,
        think_ms: (f64, f64),
        (base_ms, spread_ms): (f64, f64),
        stall: Option<(usize, f64)>,
        seed: u64,
        answers: usize,
    ) {
        let mut x = seed.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(3);
        let mut uniform = move || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut pause: Option<f64> = None;
        for i in 0..answers {
            let think = think_ms.0 + (think_ms.1 - think_ms.0) * uniform();
            pause = Some(pause.map_or(think, |p| 0.9 * p + 0.1 * think));
            let mut service = base_ms + spread_ms * uniform();
            if let Some((every, ms)) = stall {
                if i % every == every - 1 {
                    service += ms * uniform();
                }
            }
            recorder.record(Sample {
                method: "POST",
                name,
                latency: Duration::from_secs_f64(service / 1000.0),
                sent_at: Instant::now(),
                timing: Timing::Closed {
                    expected_interval: Duration::from_secs_f64(pause.unwrap_or(0.0) / 1000.0),
                },
                content_bytes: 0,
                items: 0,
                stream: None,
                tokens: None,
                error: None,
            });
        }
    }

    /// Intended-time ≥ service time at every quantile and in the mean.
    fn never_below(service: &LatencyHistogram, intended: &LatencyHistogram) -> Result<(), String> {
        if let Some((q, low, high)) = intended.first_quantile_below(service) {
            return Err(format!("q {q}: intended {low} ms < service {high} ms"));
        }
        if intended.mean() < service.mean() {
            return Err(format!(
                "mean: intended {} < service {}",
                intended.mean(),
                service.mean()
            ));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Whatever the think time (0, tiny, random), the spread of service times and the
        /// stalls, the intended-time latency is never below the service time: per name, over
        /// all names, and in every second.
        #[test]
        fn intended_time_is_never_below_the_service_time(
            think in prop_oneof![Just((0.0, 0.0)), Just((0.5, 2.0)), (0.0..300.0f64, 0.0..300.0f64).prop_map(|(a, b)| (a.min(b), a.max(b)))],
            base in 0.2..200.0f64,
            spread in 0.0..400.0f64,
            stall in prop::option::of((2usize..400, 50.0..3_000.0f64)),
            users in 1u64..5,
        ) {
            let recorder = Recorder::new();
            for user in 0..users {
                closed_user(&recorder, "a", think, (base, spread), stall, user, 300);
                closed_user(&recorder, "b", (0.0, 0.0), (base * 0.5, spread), None, user + 7, 100);
            }
            recorder.roll(true);
            let (names, _, series) = recorder.totals();
            let mut all = RequestStats::new("POST", "all");
            for n in &names {
                all.add(n);
                never_below(&n.latency, &n.intended()).map_err(|e| TestCaseError::fail(format!("{}: {e}", n.name)))?;
            }
            never_below(&all.latency, &all.intended()).map_err(TestCaseError::fail)?;
            for s in &series {
                never_below(&s.latency, &s.intended()).map_err(TestCaseError::fail)?;
            }
        }

        /// When answers vary less than twofold, nothing held a send back: the intended-time
        /// latency is the service time, exactly, whatever the think time.
        #[test]
        fn with_no_stall_intended_time_is_the_service_time(
            think in prop_oneof![Just((0.0, 0.0)), (0.0..100.0f64).prop_map(|a| (a, a * 2.0))],
            base in 0.2..200.0f64,
            relative_spread in 0.0..0.9f64,
        ) {
            let recorder = Recorder::new();
            closed_user(&recorder, "a", think, (base, base * relative_spread), None, 1, 500);
            let (names, _, _) = recorder.totals();
            prop_assert_eq!(&names[0].intended(), &names[0].latency);
            prop_assert_eq!(&names[0].intended_samples, &names[0].latency);
        }
    }

    #[test]
    fn a_stall_adds_the_sends_it_held_back() {
        // 2 ms answers, no think, one 1 s stall: the user would have sent ~500 more.
        let recorder = Recorder::new();
        closed_user(
            &recorder,
            "a",
            (0.0, 0.0),
            (2.0, 0.2),
            Some((1000, 0.0)),
            1,
            999,
        );
        let stall = Sample {
            method: "POST",
            name: "a",
            latency: Duration::from_secs(1),
            sent_at: Instant::now(),
            timing: Timing::Closed {
                expected_interval: Duration::ZERO,
            },
            content_bytes: 0,
            items: 0,
            stream: None,
            tokens: None,
            error: None,
        };
        recorder.record(stall);
        let (names, _, _) = recorder.totals();
        let held_back = names[0].intended_samples.count() - names[0].requests;
        assert!(
            (450..=500).contains(&held_back),
            "{held_back} sends held back"
        );
        let intended = names[0].intended();
        assert!(
            intended.value_at_quantile(0.9) > 500.0,
            "{}",
            intended.value_at_quantile(0.9)
        );
        assert!(names[0].latency.value_at_quantile(0.9) < 3.0);
    }
}

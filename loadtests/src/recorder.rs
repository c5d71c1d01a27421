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

/// A request name's stats on one shard, and the fastest service time seen for it (the
/// closed-model correction's estimate of a request's own share of a user's cadence).
struct NameStats {
    stats: RequestStats,
    fastest_micros: u64,
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
    /// A closed-loop user: it sends again after its response and a pause, so its intended
    /// cadence is known only as the pause it keeps between requests (the recorder adds the
    /// request's fastest service time); HdrHistogram's expected-interval correction fills in
    /// the sends a slow response held back.
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
    /// Closed model: the service time, with HdrHistogram's expected-interval correction.
    Corrected { micros: u64, interval: u64 },
}

impl Intended {
    /// A closed user's expected interval between sends is its measured pause (think time and
    /// scheduling, see `engine::closed`) plus the request's fastest service time seen so far:
    /// the cadence it keeps while answers come on time. An answer slower than that held back
    /// the sends the user would have made meanwhile.
    fn of(sample: &Sample<'_>, micros: u64, fastest_micros: u64) -> Intended {
        match sample.timing {
            Timing::Open { intended } => Intended::Exact(micros_of(
                sample.sent_at.saturating_duration_since(intended) + sample.latency,
            )),
            Timing::Closed { expected_interval } => Intended::Corrected {
                micros,
                interval: micros_of(expected_interval).saturating_add(fastest_micros),
            },
        }
    }

    fn record(&self, into: &mut LatencyHistogram) {
        match *self {
            Intended::Exact(micros) => into.record(micros),
            Intended::Corrected { micros, interval } => into.record_corrected(micros, interval),
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
            fastest_micros: micros,
        });
        named.fastest_micros = named.fastest_micros.min(micros);
        let intended = Intended::of(&sample, micros, named.fastest_micros);
        if let Timing::Open { intended } = sample.timing {
            shard.send_lag.record(micros_of(
                sample.sent_at.saturating_duration_since(intended),
            ));
        }
        let stats = &mut named.stats;
        stats.requests += 1;
        stats.failures += failed as u64;
        stats.content_bytes += sample.content_bytes;
        stats.items += sample.items;
        stats.latency.record(micros);
        intended.record(&mut stats.intended);
        if let Some(stream) = sample.stream {
            stats.stream.record(stream);
        }
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
        intended.record(&mut s.intended);
        if let Some(stream) = sample.stream {
            s.stream.record(stream);
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

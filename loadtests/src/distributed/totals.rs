//! Cumulative measurements that grow by [`Increment`]s: the manager's merged state of all its
//! workers, and a worker's copy of what the manager holds of it.
//!
//! Both sides apply the same increments with the same code, so the worker's copy is exactly
//! the manager's view of that worker, and the next increment (measurements minus the copy,
//! [`Totals::increment_to`]) is exactly what the manager lacks. The manager never re-merges:
//! applying a report costs in proportion to what changed in it (new buckets, the newest
//! seconds), not to the run's length or the number of workers. HDR addition is exact, so the
//! sum of increments equals the sum of the workers' own results.
use std::collections::{BTreeMap, BTreeSet};

use reports::{
    FailureGroup, LatencyHistogram, RequestStats, SecondSample, SkippedRequests, StreamStats,
    TokenStats,
};

use super::protocol::{
    Buckets, Growth, Increment, NameIncrement, SecondIncrement, StreamGrowth, TokenGrowth,
};

/// A worker's cumulative measurements as its recorder gives them (see
/// `Recorder::totals_with_tail`): per-name stats, failure groups, some seconds of the series.
pub struct Measurements {
    pub requests: Vec<RequestStats>,
    pub failures: Vec<FailureGroup>,
    pub seconds: Vec<SecondSample>,
    pub dropped_arrivals: u64,
    /// Requests of declared classes skipped for want of a capture, sorted by class and name.
    pub skipped: Vec<SkippedRequests>,
}

type FailureKey = (String, String, String);
/// A skipped request's class and name.
type SkippedKey = (String, String);

pub struct Totals {
    names: BTreeMap<String, RequestStats>,
    /// All names added together, kept up to date so that `/metrics` and the live line read
    /// it in place instead of adding every name's histogram on each read.
    overall: RequestStats,
    failures: BTreeMap<FailureKey, FailureGroup>,
    series: BTreeMap<i64, SecondSample>,
    /// Seconds changed since they were last compacted (dense histograms, ~72 KiB each).
    hot: BTreeSet<i64>,
    dropped_arrivals: u64,
    skipped: BTreeMap<SkippedKey, u64>,
}

/// The buckets `new` has beyond `old` (`old` must be an earlier state of `new`: recorded
/// counts only grow). Equal counts mean equal histograms, so that case costs nothing.
fn bucket_increase(old: Option<&LatencyHistogram>, new: &LatencyHistogram) -> Buckets {
    let old_count = old.map_or(0, LatencyHistogram::count);
    if new.count() == old_count {
        return Buckets::default();
    }
    let new = new.buckets();
    let Some(old) = old.filter(|o| !o.is_empty()) else {
        return Buckets(new);
    };
    let old = old.buckets();
    let mut out = Vec::with_capacity(new.len());
    let mut previous = old.iter().peekable();
    for (value, count) in new {
        while previous.next_if(|(v, _)| *v < value).is_some() {}
        let before = previous
            .next_if(|(v, _)| *v == value)
            .map_or(0, |&(_, c)| c);
        if count > before {
            out.push((value, count - before));
        }
    }
    Buckets(out)
}

fn failure_key(f: &FailureGroup) -> FailureKey {
    (f.method.clone(), f.name.clone(), f.error.clone())
}

/// What a request name's stats and a second of the series both count.
struct Counts<'a> {
    requests: u64,
    failures: u64,
    content_bytes: u64,
    items: u64,
    latency: &'a LatencyHistogram,
    intended: &'a LatencyHistogram,
    stream: &'a StreamStats,
    tokens: &'a TokenStats,
}

struct CountsMut<'a> {
    requests: &'a mut u64,
    failures: &'a mut u64,
    content_bytes: &'a mut u64,
    items: &'a mut u64,
    latency: &'a mut LatencyHistogram,
    intended: &'a mut LatencyHistogram,
    stream: &'a mut StreamStats,
    tokens: &'a mut TokenStats,
}

/// The counts a request name's stats and a second of the series both keep.
trait Counted {
    fn counts(&self) -> Counts<'_>;
    fn counts_mut(&mut self) -> CountsMut<'_>;
}

/// Both types name these fields alike: one implementation for the two.
macro_rules! counted {
    ($($t:ty),*) => {$(
        impl Counted for $t {
            fn counts(&self) -> Counts<'_> {
                Counts {
                    requests: self.requests,
                    failures: self.failures,
                    content_bytes: self.content_bytes,
                    items: self.items,
                    latency: &self.latency,
                    intended: &self.intended_samples,
                    stream: &self.stream,
                    tokens: &self.tokens,
                }
            }
            fn counts_mut(&mut self) -> CountsMut<'_> {
                CountsMut {
                    requests: &mut self.requests,
                    failures: &mut self.failures,
                    content_bytes: &mut self.content_bytes,
                    items: &mut self.items,
                    latency: &mut self.latency,
                    intended: &mut self.intended_samples,
                    stream: &mut self.stream,
                    tokens: &mut self.tokens,
                }
            }
        }
    )*};
}
counted!(RequestStats, SecondSample);

impl Counts<'_> {
    /// Every count that only grows: equal fingerprints mean nothing changed.
    fn fingerprint(&self) -> [u64; 12] {
        let (s, t) = (self.stream, self.tokens);
        [
            self.requests,
            self.failures,
            self.content_bytes,
            self.items,
            self.latency.count(),
            self.intended.count(),
            s.streams,
            s.chunks,
            s.gap.count(),
            s.chunk_rate.count(),
            t.answers,
            t.itl.count(),
        ]
    }
}

/// What `new` gained over `old` (an earlier state of it); `None` when nothing.
fn growth<T: Counted>(old: Option<&T>, new: &T) -> Option<Growth> {
    let new = new.counts();
    let old = old.map(Counted::counts);
    if old.as_ref().map_or([0; 12], Counts::fingerprint) == new.fingerprint() {
        return None;
    }
    let (r0, f0, c0, i0) = old.as_ref().map_or((0, 0, 0, 0), |o| {
        (o.requests, o.failures, o.content_bytes, o.items)
    });
    let was = old.as_ref().map(|o| o.stream);
    Some(Growth {
        requests: new.requests - r0,
        failures: new.failures - f0,
        content_bytes: new.content_bytes - c0,
        latency: bucket_increase(old.as_ref().map(|o| o.latency), new.latency),
        intended: bucket_increase(old.as_ref().map(|o| o.intended), new.intended),
        items: new.items - i0,
        stream: StreamGrowth {
            streams: new.stream.streams - was.map_or(0, |w| w.streams),
            chunks: new.stream.chunks - was.map_or(0, |w| w.chunks),
            ttfc: bucket_increase(was.map(|w| &w.ttfc), &new.stream.ttfc),
            gap: bucket_increase(was.map(|w| &w.gap), &new.stream.gap),
            chunk_rate: bucket_increase(was.map(|w| &w.chunk_rate), &new.stream.chunk_rate),
        },
        tokens: token_growth(old.as_ref().map(|o| o.tokens), new.tokens),
    })
}

/// What `new` gained over `was` (an earlier state of it).
fn token_growth(was: Option<&TokenStats>, new: &TokenStats) -> TokenGrowth {
    let count = |f: fn(&TokenStats) -> u64| f(new) - was.map_or(0, f);
    TokenGrowth {
        answers: count(|t| t.answers),
        estimated: count(|t| t.estimated),
        tokenized: count(|t| t.tokenized),
        checked: count(|t| t.checked),
        checked_input_tokens: count(|t| t.checked_input_tokens),
        checked_output_tokens: count(|t| t.checked_output_tokens),
        input_tokens: count(|t| t.input_tokens),
        output_tokens: count(|t| t.output_tokens),
        ttft: bucket_increase(was.map(|w| &w.ttft), &new.ttft),
        intended_ttft: bucket_increase(was.map(|w| &w.intended_ttft), &new.intended_ttft),
        itl: bucket_increase(was.map(|w| &w.itl), &new.itl),
        tpot: bucket_increase(was.map(|w| &w.tpot), &new.tpot),
        output_rate: bucket_increase(was.map(|w| &w.output_rate), &new.output_rate),
        judged: count(|t| t.judged),
        good: count(|t| t.good),
    }
}

fn add_growth(into: &mut impl Counted, g: &Growth) {
    let into = into.counts_mut();
    *into.requests += g.requests;
    *into.failures += g.failures;
    *into.content_bytes += g.content_bytes;
    *into.items += g.items;
    into.latency.add_buckets(&g.latency.0);
    into.intended.add_buckets(&g.intended.0);
    let (stream, gained) = (into.stream, &g.stream);
    stream.streams += gained.streams;
    stream.chunks += gained.chunks;
    stream.ttfc.add_buckets(&gained.ttfc.0);
    stream.gap.add_buckets(&gained.gap.0);
    stream.chunk_rate.add_buckets(&gained.chunk_rate.0);
    let (tokens, gained) = (into.tokens, &g.tokens);
    tokens.answers += gained.answers;
    tokens.estimated += gained.estimated;
    tokens.tokenized += gained.tokenized;
    tokens.checked += gained.checked;
    tokens.checked_input_tokens += gained.checked_input_tokens;
    tokens.checked_output_tokens += gained.checked_output_tokens;
    tokens.input_tokens += gained.input_tokens;
    tokens.output_tokens += gained.output_tokens;
    tokens.ttft.add_buckets(&gained.ttft.0);
    tokens.intended_ttft.add_buckets(&gained.intended_ttft.0);
    tokens.itl.add_buckets(&gained.itl.0);
    tokens.tpot.add_buckets(&gained.tpot.0);
    tokens.output_rate.add_buckets(&gained.output_rate.0);
    tokens.judged += gained.judged;
    tokens.good += gained.good;
}

impl Default for Totals {
    fn default() -> Self {
        Self::new()
    }
}

impl Totals {
    pub fn new() -> Totals {
        Totals {
            names: BTreeMap::new(),
            overall: RequestStats::new("", "Aggregated"),
            failures: BTreeMap::new(),
            series: BTreeMap::new(),
            hot: BTreeSet::new(),
            dropped_arrivals: 0,
            skipped: BTreeMap::new(),
        }
    }

    /// Adds an increment: counts and histograms add, sightings widen.
    pub fn apply(&mut self, change: &Increment) {
        for n in &change.names {
            let stats = self
                .names
                .entry(n.name.clone())
                .or_insert_with(|| RequestStats::new(&n.method, &n.name));
            add_growth(stats, &n.growth);
            add_growth(&mut self.overall, &n.growth);
        }
        for f in &change.failures {
            match self.failures.get_mut(&failure_key(f)) {
                Some(into) => into.add(f),
                None => {
                    self.failures.insert(failure_key(f), f.clone());
                }
            }
        }
        for s in &change.seconds {
            let into = self
                .series
                .entry(s.unix_second)
                .or_insert_with(|| SecondSample::empty(s.unix_second));
            into.users += s.users;
            into.dropped += s.dropped;
            add_growth(into, &s.growth);
            self.hot.insert(s.unix_second);
        }
        self.dropped_arrivals += change.dropped_arrivals;
        for s in &change.skipped {
            *self
                .skipped
                .entry((s.class.clone(), s.name.clone()))
                .or_default() += s.count;
        }
    }

    /// Compacts the seconds before `second` that changed since their last compaction: a
    /// second stays dense while reports for it still arrive, then costs only its buckets.
    pub fn compact_before(&mut self, second: i64) {
        let later = self.hot.split_off(&second);
        for t in std::mem::replace(&mut self.hot, later) {
            if let Some(s) = self.series.get_mut(&t) {
                s.compact();
            }
        }
    }

    /// What `now` has beyond these totals: the increment that turns them into `now`'s
    /// names, failures and seconds (`now` holds at least everything applied here).
    pub fn increment_to(&self, now: &Measurements) -> Increment {
        let names = now
            .requests
            .iter()
            .filter_map(|r| {
                let growth = growth(self.names.get(&r.name), r)?;
                Some(NameIncrement {
                    method: r.method.clone(),
                    name: r.name.clone(),
                    growth,
                })
            })
            .collect();
        let failures = now
            .failures
            .iter()
            .filter_map(|f| {
                let before = self
                    .failures
                    .get(&failure_key(f))
                    .map_or(0, |g| g.occurrences);
                (f.occurrences > before).then(|| FailureGroup {
                    occurrences: f.occurrences - before,
                    ..f.clone()
                })
            })
            .collect();
        let seconds = now
            .seconds
            .iter()
            .filter_map(|s| {
                let old = self.series.get(&s.unix_second);
                let growth = growth(old, s);
                let (users, dropped) = old.map_or((0, 0), |o| (o.users, o.dropped));
                if old.is_some() && growth.is_none() && (users, dropped) == (s.users, s.dropped) {
                    return None;
                }
                Some(SecondIncrement {
                    unix_second: s.unix_second,
                    users: s.users.saturating_sub(users),
                    dropped: s.dropped - dropped,
                    growth: growth.unwrap_or_default(),
                })
            })
            .collect();
        let skipped = now
            .skipped
            .iter()
            .filter_map(|s| {
                let key = (s.class.clone(), s.name.clone());
                let before = self.skipped.get(&key).copied().unwrap_or(0);
                (s.count > before).then(|| SkippedRequests {
                    count: s.count - before,
                    ..s.clone()
                })
            })
            .collect();
        Increment {
            names,
            failures,
            seconds,
            dropped_arrivals: now.dropped_arrivals - self.dropped_arrivals,
            skipped,
        }
    }

    /// Every name added together (read in place: no copy).
    pub fn overall(&self) -> &RequestStats {
        &self.overall
    }

    pub fn second(&self, unix_second: i64) -> Option<&SecondSample> {
        self.series.get(&unix_second)
    }

    pub fn newest_second(&self) -> Option<i64> {
        self.series.keys().next_back().copied()
    }

    pub fn dropped_arrivals(&self) -> u64 {
        self.dropped_arrivals
    }

    /// Skipped requests of declared classes, sorted by class and name.
    pub fn skipped_requests(&self) -> Vec<SkippedRequests> {
        self.skipped
            .iter()
            .map(|((class, name), &count)| SkippedRequests {
                class: class.clone(),
                name: name.clone(),
                count,
            })
            .collect()
    }

    /// Per-name stats, sorted by name (a copy, for the final result).
    pub fn requests(&self) -> Vec<RequestStats> {
        self.names.values().cloned().collect()
    }

    pub fn failures(&self) -> Vec<FailureGroup> {
        self.failures.values().cloned().collect()
    }

    /// The whole series, compacted (a copy, for the final result).
    pub fn series(&self) -> Vec<SecondSample> {
        self.series_tail(None)
    }

    /// The last `tail` seconds of the series (all of it with `None`), compacted: the
    /// dashboard's once-a-second read copies a few seconds, not a long run's every second.
    pub fn series_tail(&self, tail: Option<usize>) -> Vec<SecondSample> {
        let skip = tail.map_or(0, |n| self.series.len().saturating_sub(n));
        self.series
            .values()
            .skip(skip)
            .map(|s| {
                let mut s = s.clone();
                s.compact();
                s
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn stats(name: &str, samples: &[u64]) -> RequestStats {
        let mut r = RequestStats::new("GET", name);
        for &s in samples {
            r.requests += 1;
            r.content_bytes += 10;
            r.latency.record(s);
            r.intended_samples.record(s * 2);
            r.items += 3;
            r.stream.record(&reports::StreamTiming {
                ttfc_micros: Some(s / 3),
                gaps_micros: vec![s / 5, s / 7],
            });
        }
        r
    }

    fn second(t: i64, users: u64, samples: &[u64]) -> SecondSample {
        let mut s = SecondSample::empty(t);
        s.users = users;
        for &v in samples {
            s.requests += 1;
            s.items += 2;
            s.latency.record(v);
            s.stream.record(&reports::StreamTiming {
                ttfc_micros: Some(v / 2),
                gaps_micros: vec![v / 4],
            });
        }
        s.compact();
        s
    }

    fn measured(a: &[u64], b: &[u64], seconds: Vec<SecondSample>, fails: u64) -> Measurements {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        Measurements {
            requests: vec![stats("a", a), stats("b", b)],
            failures: vec![FailureGroup {
                occurrences: fails,
                last_seen: at + chrono::Duration::seconds(fails as i64),
                ..FailureGroup::new("GET", "a", "HTTP 500", at)
            }],
            seconds,
            dropped_arrivals: fails,
            skipped: vec![SkippedRequests {
                class: "C".into(),
                name: "b".into(),
                count: 2 * fails,
            }],
        }
    }

    #[test]
    fn increments_applied_in_turn_give_the_last_measurements_exactly() {
        let samples: Vec<u64> = (1..=400).map(|i| 900 + i * i * 7).collect();
        let steps = [
            measured(&samples[..50], &[], vec![second(10, 1, &samples[..50])], 1),
            measured(
                &samples[..200],
                &samples[..5],
                vec![
                    second(10, 1, &samples[..60]),
                    second(11, 2, &samples[60..205]),
                ],
                1,
            ),
            measured(
                &samples[..200],
                &samples[..9],
                vec![second(11, 3, &samples[60..209]), second(12, 3, &[])],
                4,
            ),
        ];
        let mut held = Totals::new();
        for now in &steps {
            let change = held.increment_to(now);
            held.apply(&change);
            held.compact_before(i64::MAX);
            assert!(held.increment_to(now).is_empty(), "nothing left to send");
        }
        let last = &steps[2];
        assert_eq!(held.requests(), last.requests);
        assert_eq!(held.overall().requests, 209);
        assert_eq!(held.overall().latency.count(), 209);
        assert_eq!(held.failures(), last.failures);
        assert_eq!(held.dropped_arrivals(), 4);
        assert_eq!(held.skipped_requests(), last.skipped);
        let series = held.series();
        assert_eq!(series[0], second(10, 1, &samples[..60]));
        assert_eq!(series[1..], last.seconds[..]);
        // The dashboard's read: the newest seconds only, the same as the whole series' tail.
        assert_eq!(held.series_tail(Some(2))[..], series[series.len() - 2..]);
        assert_eq!(held.series_tail(Some(100)), series);
        // An unchanged name or second is not sent again.
        let change = Totals::new().increment_to(&steps[0]);
        let mut once = Totals::new();
        once.apply(&change);
        let again = once.increment_to(&steps[1]);
        assert_eq!(again.names.len(), 2);
        assert_eq!(
            again
                .seconds
                .iter()
                .map(|s| s.unix_second)
                .collect::<Vec<_>>(),
            [10, 11]
        );
        assert_eq!(
            again.seconds[0].growth.requests, 10,
            "only the second's growth"
        );
    }

    #[test]
    fn bucket_increase_is_the_difference_of_two_histograms() {
        let mut old = LatencyHistogram::new();
        let mut new = LatencyHistogram::new();
        for v in [5, 5, 1_000, 70_000] {
            old.record(v);
            new.record(v);
        }
        for v in [5, 999, 1_000, 3_000_000] {
            new.record(v);
        }
        let diff = bucket_increase(Some(&old), &new);
        assert_eq!(diff.0.iter().map(|b| b.1).sum::<u64>(), 4);
        old.add_buckets(&diff.0);
        assert_eq!(old, new);
        assert!(bucket_increase(Some(&new), &new).0.is_empty());
    }
}

//! The manager/worker protocol: versioned messages over HTTP, workers calling the manager.
//!
//! Every request carries `Authorization: Bearer <token>` and `X-Skein-Protocol` (the version,
//! checked before any body is read); every reply
//! carries the token back in `X-Skein-Token`, so each side proves to the other that it holds
//! the shared secret. Refusals say why (token, version, scenario).
//!
//! Registration and replies are JSON (rare, small, readable in a packet capture); the report
//! a worker sends every second is [postcard](https://docs.rs/postcard) (varints, no field
//! names), because the manager decodes a thousand of them a second. A report carries only
//! what changed since the state the manager holds for that worker (see [`Report`]), so a
//! lost, repeated or late report still loses or double-counts nothing.
use reports::{FailureGroup, GeneratorResources, SkippedRequests};
use serde::{Deserialize, Serialize};

use crate::scenario::DataFile;

/// Bump on any incompatible change to the messages below.
///
/// 4: reports are postcard-encoded increments over the state the manager acknowledged
/// (`session`, `base`, `change`), with the worker's cumulative totals beside them; the reply
/// says which report the manager holds (`applied`).
/// 5: a share can be of the open model (a stage's `rate` and `ramp_ms`, the assignment's
/// `max_in_flight`).
/// 6: an increment carries the requests of declared classes skipped for want of a capture
/// (`skipped`); the scenario carries its data files, an assignment the worker's place;
/// growth carries items and streamed answers' measurements ([`StreamGrowth`]).
/// 7: growth carries LLM answers' token measurements ([`TokenGrowth`]).
/// 8: token growth says which counts came from a `--tokenizer`, and its counts beside usage;
///    it carries the open model's intended-time TTFT (`intended_ttft`).
/// 9: the scenario's `data_files` carry LLM datasets too, and a worker reads datasets only
///    from them (an older manager sends none, so the worker would refuse the scenario).
pub const PROTOCOL_VERSION: u32 = 9;
pub const PROTOCOL_HEADER: &str = "x-skein-protocol";
/// The manager's proof of the token on every reply.
pub const REPLY_TOKEN_HEADER: &str = "x-skein-token";
pub const REGISTER_PATH: &str = "/v1/register";
pub const REPORT_PATH: &str = "/v1/report";
/// The content type of an encoded [`Report`].
pub const REPORT_CONTENT_TYPE: &str = "application/x-skein-report";

/// Seconds of the per-second series a regular report compares with what the manager holds
/// (more when reports were lost for longer); the final report compares the whole series.
pub const SERIES_TAIL_SECONDS: usize = 10;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Register {
    pub worker_id: String,
    /// Set when the worker was started with `--scenario`: the manager must run the same.
    pub scenario_hash: Option<String>,
}

/// The scenario as the manager resolved it: its text, data files and overrides, so the worker
/// resolves exactly the same scenario (and hash) without having the files.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioSpec {
    pub name: String,
    pub source: String,
    pub text: String,
    pub users: Option<u64>,
    pub spawn_rate: Option<f64>,
    #[serde(default)]
    pub rate: Option<f64>,
    pub run_time_ms: Option<u64>,
    pub hash: String,
    /// The data files the scenario's declared classes read (`data = "..."`), as the manager
    /// read them: a worker reads none of its own.
    #[serde(default)]
    pub data_files: Vec<DataFile>,
    /// `--a2a-version` given to the manager.
    #[serde(default)]
    pub a2a_version: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Registered {
    pub run_id: String,
    pub scenario: ScenarioSpec,
    pub host: String,
    pub target_token: String,
}

/// One stage of a worker's share: its users (closed model) or its part of the arrival rate
/// (open model, `rate` set).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StageShare {
    pub users: u64,
    pub spawn_rate: f64,
    pub duration_ms: u64,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub ramp_ms: u64,
}

/// `users` consecutive users of one class in a worker's launch order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClassRun {
    /// A user class name as in scenario files (`TrainingAPIUser`, ...).
    pub class: String,
    pub users: u32,
}

/// What one worker runs: its users in every stage of the run's schedule, and which class
/// each of them is, in the order it starts them. A new `version` replaces the previous
/// assignment (rebalance after a worker was lost or joined).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Assignment {
    pub version: u64,
    /// The agreed start of the whole run (unix ms); stage times count from it.
    pub run_start_unix_ms: i64,
    pub stages: Vec<StageShare>,
    /// The worker's users by class, in start order (see [`super::share`]).
    pub launch_order: Vec<ClassRun>,
    /// Open model: this worker's part of the scenario's `max_in_flight`.
    #[serde(default)]
    pub max_in_flight: usize,
    /// This worker's place among the `worker_count` workers sharing the run (its users are
    /// the run's users `worker_rank`, `worker_rank + worker_count`, ...): which rows of a
    /// data file its users take (see `share::row_deals`).
    #[serde(default)]
    pub worker_rank: usize,
    #[serde(default)]
    pub worker_count: usize,
}

/// A worker's report: its state as an increment over a state the manager already holds.
///
/// The manager keeps, per worker session, the sequence number of the last report it applied
/// (`applied`), and applies a report only when the report's `base` is that number; every
/// reply tells the worker `applied`, and the worker builds its next report on it. So a lost
/// report is covered by the next one (built on the same base), a repeated or late one no
/// longer matches the base and changes nothing, and a manager that holds nothing for the
/// worker answers `applied: None`, which makes the worker send everything again (a full
/// report, `base: None`). Within `change`, every count is an increment and every instant
/// (a failure's first and last sighting) an absolute value.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub worker_id: String,
    pub run_id: String,
    pub scenario_hash: String,
    /// Random per worker process: a worker restarted under the same id starts a new chain
    /// (the old process's applied reports still count).
    pub session: u64,
    pub seq: u64,
    /// The report whose state `change` is added to; `None`: added to nothing.
    pub base: Option<u64>,
    pub final_report: bool,
    pub active_users: u64,
    /// The worker's own cumulative totals since its start (absolute, not increments): the
    /// workers table, and a check the manager's sum can be held against.
    pub requests: u64,
    pub failures: u64,
    pub resources: GeneratorResources,
    pub machine_cores: u32,
    pub change: Increment,
}

impl Report {
    /// The wire form (postcard).
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a report always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Report, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// What changed in a worker's measurements between two of its reports.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Increment {
    pub names: Vec<NameIncrement>,
    /// Failure groups that grew: `occurrences` is the increment, the sightings absolute.
    pub failures: Vec<FailureGroup>,
    pub seconds: Vec<SecondIncrement>,
    pub dropped_arrivals: u64,
    /// Requests of declared classes skipped since the base (`count` is the increment).
    pub skipped: Vec<SkippedRequests>,
}

impl Increment {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
            && self.failures.is_empty()
            && self.seconds.is_empty()
            && self.dropped_arrivals == 0
            && self.skipped.is_empty()
    }
}

/// What a request name or a second of the series gained since the base.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Growth {
    pub requests: u64,
    pub failures: u64,
    pub content_bytes: u64,
    pub latency: Buckets,
    pub intended: Buckets,
    pub items: u64,
    pub stream: StreamGrowth,
    pub tokens: TokenGrowth,
}

/// What LLM answers gained since the base (see `reports::TokenStats`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenGrowth {
    pub answers: u64,
    pub estimated: u64,
    pub tokenized: u64,
    pub checked: u64,
    pub checked_input_tokens: u64,
    pub checked_output_tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub ttft: Buckets,
    /// Open model: TTFT from the intended send instant.
    pub intended_ttft: Buckets,
    pub itl: Buckets,
    pub tpot: Buckets,
    pub output_rate: Buckets,
    pub judged: u64,
    pub good: u64,
}

/// What streamed answers gained since the base (see `reports::StreamStats`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StreamGrowth {
    pub streams: u64,
    pub chunks: u64,
    pub ttfc: Buckets,
    pub gap: Buckets,
    pub chunk_rate: Buckets,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NameIncrement {
    pub method: String,
    pub name: String,
    pub growth: Growth,
}

/// One second of the series: what it gained since the base (a second can still gain
/// requests after it was first reported, e.g. across a rebalance).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SecondIncrement {
    pub unix_second: i64,
    /// Growth of the second's user stamp (the recorder only ever raises it).
    pub users: u64,
    pub dropped: u64,
    pub growth: Growth,
}

/// Histogram buckets as (highest equivalent value, count), ascending (see
/// `LatencyHistogram::buckets`). On the wire each value is the gap from the previous one, so
/// neighbouring buckets cost a byte or two each instead of base64 of a DEFLATE stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Buckets(pub Vec<(u64, u64)>);

impl Serialize for Buckets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        let mut previous = 0;
        for &(value, count) in &self.0 {
            seq.serialize_element(&(value - previous, count))?;
            previous = value;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut buckets = Vec::<(u64, u64)>::deserialize(d)?;
        let mut previous: u64 = 0;
        for (value, _) in &mut buckets {
            previous = previous
                .checked_add(*value)
                .ok_or_else(|| serde::de::Error::custom("bucket value overflows"))?;
            *value = previous;
        }
        Ok(Buckets(buckets))
    }
}

/// The manager's answer to a report.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReportReply {
    /// The newest report of this worker session the manager holds: the next report's base.
    pub applied: Option<u64>,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Not started yet: keep reporting.
    Wait,
    /// Run (or keep running) this assignment.
    Run { assignment: Assignment },
    /// Stop the users and send the final report.
    Stop,
    /// The final report arrived: exit.
    Ack,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Refusal {
    pub error: String,
}

/// `Bearer <token>` matches `token` (constant-time comparison of equal-length strings).
pub fn token_matches(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn token_check_needs_the_exact_bearer_token() {
        assert!(token_matches(Some("Bearer s3cret"), "s3cret"));
        assert!(!token_matches(Some("Bearer s3cre"), "s3cret"));
        assert!(!token_matches(Some("s3cret"), "s3cret"));
        assert!(!token_matches(None, "s3cret"));
    }

    #[test]
    fn commands_are_tagged_json() {
        let text = serde_json::to_string(&Command::Stop).unwrap();
        assert_eq!(text, r#"{"command":"stop"}"#);
        let reply = ReportReply {
            applied: Some(7),
            command: Command::Stop,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(text, r#"{"applied":7,"command":"stop"}"#);
        assert_eq!(serde_json::from_str::<ReportReply>(&text).unwrap(), reply);
    }

    #[test]
    fn a_report_round_trips_and_buckets_cost_about_two_bytes() {
        let buckets = Buckets((0..100).map(|i| (2_000 + 3 * i, 1 + i % 3)).collect());
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let report = Report {
            worker_id: "w".into(),
            run_id: "r".into(),
            scenario_hash: "h".into(),
            session: u64::MAX,
            seq: 3,
            base: Some(2),
            final_report: false,
            active_users: 4,
            requests: 100,
            failures: 1,
            resources: GeneratorResources::default(),
            machine_cores: 2,
            change: Increment {
                names: vec![NameIncrement {
                    method: "GET".into(),
                    name: "n".into(),
                    growth: Growth {
                        requests: 100,
                        failures: 1,
                        content_bytes: 0,
                        latency: buckets.clone(),
                        intended: Buckets::default(),
                        items: 0,
                        stream: StreamGrowth::default(),
                        tokens: TokenGrowth::default(),
                    },
                }],
                failures: vec![FailureGroup::new("GET", "n", "HTTP 500", at)],
                seconds: Vec::new(),
                dropped_arrivals: 0,
                skipped: vec![SkippedRequests {
                    class: "SearchUser".into(),
                    name: "item".into(),
                    count: 3,
                }],
            },
        };
        let bytes = report.encode();
        assert_eq!(Report::decode(&bytes).unwrap(), report);
        let alone = postcard::to_allocvec(&buckets).unwrap().len();
        assert!(alone <= 100 * 2 + 2, "{alone} bytes for 100 buckets");
        assert!(Report::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}

//! The manager/worker protocol: versioned JSON over HTTP, workers calling the manager.
//!
//! Every request carries `Authorization: Bearer <token>` and `X-Skein-Protocol` (the version,
//! checked before any body is read); every reply
//! carries the token back in `X-Skein-Token`, so each side proves to the other that it holds
//! the shared secret. Reports are cumulative with a sequence number, so a lost or repeated
//! report loses or double-counts nothing. Refusals say why (token, version, scenario).
use reports::RunResult;
use serde::{Deserialize, Serialize};

/// Bump on any incompatible change to the messages below.
pub const PROTOCOL_VERSION: u32 = 4;
pub const PROTOCOL_HEADER: &str = "x-skein-protocol";
/// The manager's proof of the token on every reply.
pub const REPLY_TOKEN_HEADER: &str = "x-skein-token";
pub const REGISTER_PATH: &str = "/v1/register";
pub const REPORT_PATH: &str = "/v1/report";

/// Seconds of the per-second series each regular report repeats, so that up to this many
/// consecutive lost reports lose no series data; the final report carries the whole series.
pub const SERIES_TAIL_SECONDS: usize = 10;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Register {
    pub worker_id: String,
    /// Set when the worker was started with `--scenario`: the manager must run the same.
    pub scenario_hash: Option<String>,
}

/// The scenario as the manager resolved it: its text and overrides, so the worker resolves
/// exactly the same scenario (and hash) without having the file.
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
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub worker_id: String,
    pub run_id: String,
    pub seq: u64,
    pub scenario_hash: String,
    pub active_users: u64,
    /// Cumulative since the worker's start; `series` holds only the last
    /// [`SERIES_TAIL_SECONDS`] finished seconds unless `final_report`.
    pub result: RunResult,
    pub final_report: bool,
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
    }
}

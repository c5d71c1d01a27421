//! Scenarios: declarative load profiles (user classes and weights, users and spawn rate and
//! duration or stages, think times, SLA thresholds, default host), shipped or from a file.
//!
//! [`load`] finds a scenario by shipped name or path and validates it (see [`file`] and, for
//! users or arrival rates, [`shape`]); [`Scenario::with_overrides`] applies the CLI's
//! `-u/-r/--rate/-t/--host` so CI can shorten any of them.
mod carried;
pub mod data_file;
pub mod declared;
pub mod duration;
pub mod error;
pub mod file;
mod llm;
mod llm_dataset;
mod llm_shape;
mod mcp;
mod raw_request;
pub mod request;
pub mod shape;
mod templates;

use std::path::Path;
use std::time::Duration;

use reports::SlaThreshold;
use serde_json::json;

pub use data_file::DataFile;
pub use duration::{format_duration, parse_duration};
pub use error::ScenarioError;

use crate::users::{ThinkTime, UserClass};

/// Weights (of classes and of declared requests) are ratios; anything larger is a typo (and
/// would not fit the engine's counters).
pub const MAX_WEIGHT: i64 = 1_000_000;

/// One user class in the mix.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassMix {
    pub class: UserClass,
    pub weight: u32,
    pub think_time: ThinkTime,
}

/// One stage of a run, lasting `duration`. Closed model: ramp to `users` at `spawn_rate`
/// users/s, then hold. Open model (`rate` is set, `users` is 0): arrivals per second move
/// linearly from the previous stage's rate to `rate` over `ramp`, then hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub users: u64,
    pub spawn_rate: f64,
    pub duration: Duration,
    pub rate: Option<f64>,
    pub ramp: Duration,
}

impl Stage {
    pub fn closed(users: u64, spawn_rate: f64, duration: Duration) -> Stage {
        Stage {
            users,
            spawn_rate,
            duration,
            rate: None,
            ramp: Duration::ZERO,
        }
    }

    pub fn open(rate: f64, ramp: Duration, duration: Duration) -> Stage {
        Stage {
            users: 0,
            spawn_rate: 0.0,
            duration,
            rate: Some(rate),
            ramp,
        }
    }
}

/// How open-model arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Evenly: the n-th arrival comes when the rate's integral reaches n.
    Constant,
    /// Exponential gaps (a Poisson process at the stage's rate), as independent clients.
    Poisson,
}

/// Users started over `stages`: the sum of every rise.
pub fn total_users(stages: &[Stage]) -> usize {
    let mut now = 0u64;
    let mut total = 0u64;
    for s in stages {
        total = total.saturating_add(s.users.saturating_sub(now));
        now = s.users;
    }
    usize::try_from(total).unwrap_or(usize::MAX)
}

/// The order in which users of the classes are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// Interleaved by weight, like Locust: any prefix of the users has the weights' mix.
    RoundRobin,
    /// Class by class in file order, weights being user counts: a later stage's extra
    /// users all come from the later classes (how `spike` bursts BurstTrainingUser only).
    Serial,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The file it came from, or `scenarios/<name>.toml` for a shipped one.
    pub source: String,
    pub classes: Vec<ClassMix>,
    /// A flat scenario has exactly one stage.
    pub stages: Vec<Stage>,
    pub staged: bool,
    pub allocation: Allocation,
    /// Open model: how arrivals are spaced.
    pub arrival: Arrival,
    /// Open model: arrivals awaiting a response at most; later ones are dropped and counted.
    pub max_in_flight: usize,
    pub host: Option<String>,
    pub token: Option<String>,
    pub thresholds: Vec<SlaThreshold>,
    /// The files its declared classes read (data files and LLM datasets, each path once), to
    /// send to workers with its text.
    pub data_files: Vec<DataFile>,
    /// Which A2A generation AgentChatUsers speak (`a2a_version`, `--a2a-version`).
    pub a2a_version: crate::users::a2a::Choice,
}

/// The scenarios shipped in `scenarios/`, compiled into the binary so `skein` works anywhere.
pub const SHIPPED: [(&str, &str); 14] = [
    ("light", include_str!("../../../scenarios/light.toml")),
    ("moderate", include_str!("../../../scenarios/moderate.toml")),
    ("heavy", include_str!("../../../scenarios/heavy.toml")),
    ("stress", include_str!("../../../scenarios/stress.toml")),
    (
        "gradual-ramp",
        include_str!("../../../scenarios/gradual-ramp.toml"),
    ),
    ("spike", include_str!("../../../scenarios/spike.toml")),
    (
        "sustained",
        include_str!("../../../scenarios/sustained.toml"),
    ),
    (
        "orchestration",
        include_str!("../../../scenarios/orchestration.toml"),
    ),
    (
        "open-steady",
        include_str!("../../../scenarios/open-steady.toml"),
    ),
    (
        "open-ramp",
        include_str!("../../../scenarios/open-ramp.toml"),
    ),
    (
        "agent-chat",
        include_str!("../../../scenarios/agent-chat.toml"),
    ),
    (
        "mcp-tools",
        include_str!("../../../scenarios/mcp-tools.toml"),
    ),
    ("llm-chat", include_str!("../../../scenarios/llm-chat.toml")),
    (
        "llm-shaped",
        include_str!("../../../scenarios/llm-shaped.toml"),
    ),
];

/// 64-bit FNV-1a of `text`, in hex: a stable hash of settings and data files.
pub(crate) fn fnv1a_hex(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Loads a shipped scenario by name, or a scenario file by path.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    let source = load_source(name_or_path)?;
    file::parse(&source.name, &source.file, &source.text)
}

/// A scenario's text and where it came from, before validation.
pub struct ScenarioSource {
    pub name: String,
    /// Shown in error locations: the path, or `scenarios/<name>.toml` for a shipped one.
    pub file: String,
    pub text: String,
}

/// Finds a scenario's text by shipped name or path (the manager sends it to workers).
pub fn load_source(name_or_path: &str) -> Result<ScenarioSource, ScenarioError> {
    if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(ScenarioSource {
            name: name.to_string(),
            file: format!("scenarios/{name}.toml"),
            text: text.to_string(),
        });
    }
    let path = Path::new(name_or_path);
    if path.exists() || name_or_path.ends_with(".toml") || name_or_path.contains('/') {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: name_or_path.to_string(),
            source,
        })?;
        let name = path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        return Ok(ScenarioSource {
            name,
            file: name_or_path.to_string(),
            text,
        });
    }
    Err(ScenarioError::Unknown {
        name: name_or_path.to_string(),
        shipped: SHIPPED
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A target base URL Skein can load: `http` or `https`, with a host name. The error says
/// what is wrong and what to write instead.
pub fn target_url(host: &str) -> Result<reqwest::Url, String> {
    let example = "write e.g. http://127.0.0.1:8080";
    let url = reqwest::Url::parse(host)
        .map_err(|e| format!("host `{host}` is not a URL ({e}); {example}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "host `{host}` uses `{}://`, but Skein sends HTTP: use http:// or https://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("host `{host}` has no host name; {example}"));
    }
    Ok(url)
}

/// The CLI's overrides of a scenario.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub users: Option<u64>,
    pub spawn_rate: Option<f64>,
    /// Arrivals per second (the open model).
    pub rate: Option<f64>,
    pub run_time: Option<Duration>,
    pub host: Option<String>,
    /// `--a2a-version`: `auto`, `1.0` or `0.3`.
    pub a2a_version: Option<String>,
}

impl Scenario {
    /// Applies CLI overrides. On a flat scenario they replace its values. On a staged one the
    /// shape is kept: `--users` scales every stage so the peak equals it, `--run-time` scales
    /// every stage's duration so they add up to it, `--spawn-rate` replaces every stage's rate.
    /// `--rate` scales an open scenario's rates so the peak equals it, and turns a closed one
    /// open: each stage's rate is its users scaled so the peak equals `--rate`, ramping over
    /// the time its users took to start.
    pub fn with_overrides(mut self, o: &Overrides) -> Result<Scenario, ScenarioError> {
        if let Some(rate) = o.rate {
            if !(rate > 0.0 && rate <= shape::MAX_RATE) {
                return Err(ScenarioError::Override(format!(
                    "--rate {rate}: give arrivals per second above 0 and at most {}",
                    shape::MAX_RATE
                )));
            }
            if o.users.is_some() || o.spawn_rate.is_some() {
                return Err(ScenarioError::Override(
                    "--rate (arrivals per second, the open model) and -u/-r (closed-loop users) do not go together: give one".into(),
                ));
            }
            self.set_peak_rate(rate);
        }
        if self.load_model() == reports::LoadModel::Open
            && (o.users.is_some() || o.spawn_rate.is_some())
        {
            return Err(ScenarioError::Override(format!(
                "-u/-r set closed-loop users, but `{}` is an open scenario (arrivals per second): use --rate",
                self.name
            )));
        }
        if o.users == Some(0) {
            return Err(ScenarioError::Override(
                "--users 0: nothing would run; give a positive count".into(),
            ));
        }
        if matches!(o.spawn_rate, Some(r) if !(r > 0.0 && r.is_finite())) {
            return Err(ScenarioError::Override(
                "--spawn-rate must be a positive number of users per second".into(),
            ));
        }
        if let Some(text) = &o.a2a_version {
            self.a2a_version = crate::users::a2a::Choice::parse(text).ok_or_else(|| {
                ScenarioError::Override(format!(
                    "--a2a-version {text}: give `auto` (the agent card decides), `1.0` or `0.3`"
                ))
            })?;
        }
        if o.run_time == Some(Duration::ZERO) {
            return Err(ScenarioError::Override(
                "--run-time 0: nothing would run; give e.g. `-t 30s`".into(),
            ));
        }
        if let Some(users) = o.users.filter(|u| *u > shape::MAX_USERS) {
            return Err(ScenarioError::Override(format!(
                "--users {users}: {}",
                shape::too_many_users(users)
            )));
        }
        if let Some(users) = o.users {
            let peak = self.peak_users().max(1) as f64;
            for s in &mut self.stages {
                s.users = ((s.users as f64 * users as f64 / peak).round() as u64).max(1);
            }
        }
        if let Some(rate) = o.spawn_rate {
            self.stages.iter_mut().for_each(|s| s.spawn_rate = rate);
        }
        if let Some(total) = o.run_time {
            let scale = total.as_secs_f64() / self.run_time().as_secs_f64();
            for s in &mut self.stages {
                s.duration = Duration::from_secs_f64(s.duration.as_secs_f64() * scale);
                s.ramp = Duration::from_secs_f64(s.ramp.as_secs_f64() * scale).min(s.duration);
            }
        }
        if let Some(host) = &o.host {
            target_url(host).map_err(|e| ScenarioError::Override(format!("--{e}")))?;
            self.host = Some(host.clone());
        }
        let total = total_users(&self.stages) as u64;
        if total > shape::MAX_USERS {
            return Err(ScenarioError::Override(format!(
                "--users: {}; give a smaller --users",
                shape::too_many_users(total)
            )));
        }
        Ok(self)
    }

    /// Makes the scenario open with `rate` as its peak arrival rate (see `with_overrides`).
    fn set_peak_rate(&mut self, rate: f64) {
        if self.load_model() == reports::LoadModel::Open {
            let peak = self.peak_rate().max(f64::MIN_POSITIVE);
            for s in &mut self.stages {
                s.rate = s.rate.map(|r| r * rate / peak);
            }
            return;
        }
        let peak = self.peak_users().max(1) as f64;
        let mut before = 0u64;
        for s in &mut self.stages {
            let ramp = Duration::try_from_secs_f64(s.users.abs_diff(before) as f64 / s.spawn_rate)
                .unwrap_or(s.duration)
                .min(s.duration);
            before = s.users;
            *s = Stage::open(s.users as f64 * rate / peak, ramp, s.duration);
        }
    }

    /// `200 peak users` or `peak 50 arrivals/s (poisson), at most 10000 in flight`.
    pub fn describe_load(&self) -> String {
        match self.load_model() {
            reports::LoadModel::Closed => format!("{} peak users", self.peak_users()),
            reports::LoadModel::Open => format!(
                "peak {} arrivals/s ({}), at most {} in flight",
                self.peak_rate(),
                format!("{:?}", self.arrival).to_lowercase(),
                self.max_in_flight
            ),
        }
    }

    /// The highest arrival rate of an open scenario (0 for a closed one).
    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .filter_map(|s| s.rate)
            .fold(0.0, f64::max)
    }

    pub fn run_time(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// Open when the stages give arrival rates, closed when they give users.
    pub fn load_model(&self) -> reports::LoadModel {
        if self.stages.iter().any(|s| s.rate.is_some()) {
            reports::LoadModel::Open
        } else {
            reports::LoadModel::Closed
        }
    }

    pub fn peak_users(&self) -> u64 {
        self.stages.iter().map(|s| s.users).max().unwrap_or(0)
    }

    /// The resolved settings as JSON, for the results' metadata and the scenario hash.
    /// The token is left out: it is a secret, not a setting.
    pub fn settings_json(&self) -> serde_json::Value {
        let mut settings = json!({
            "name": self.name,
            "staged": self.staged,
            "allocation": format!("{:?}", self.allocation),
            "user_classes": self.classes.iter().map(|c| {
                let mut class = json!({
                    "class": c.class.name(), "weight": c.weight,
                    "think_time_ms": [c.think_time.min.as_millis() as u64, c.think_time.max.as_millis() as u64],
                });
                if let UserClass::Mcp(settings) = c.class {
                    if !settings.definition.is_null() {
                        class["mcp"] = settings.definition.clone();
                    }
                }
                if let UserClass::Declared(declared) = c.class {
                    class["requests"] = declared.definition.clone();
                    class["mode"] = json!(format!("{:?}", declared.order).to_lowercase());
                    if let Some(data) = &declared.data {
                        class["data"] = json!({
                            "file": data.file, "columns": data.columns,
                            "rows": data.rows.len(), "hash": data.content_hash,
                        });
                    }
                }
                class
            }).collect::<Vec<_>>(),
            "stages": self.stages.iter().map(|s| match s.rate {
                None => json!({
                    "users": s.users, "spawn_rate": s.spawn_rate, "duration_s": s.duration.as_secs_f64(),
                }),
                Some(rate) => json!({
                    "rate": rate, "ramp_s": s.ramp.as_secs_f64(), "duration_s": s.duration.as_secs_f64(),
                }),
            }).collect::<Vec<_>>(),
            "load_model": self.load_model().as_str(),
            "arrival": format!("{:?}", self.arrival).to_lowercase(),
            "max_in_flight": self.max_in_flight,
            "thresholds": self.thresholds,
        });
        // Only when set, so scenarios that say nothing keep the hash they always had.
        if self.a2a_version != crate::users::a2a::Choice::Auto {
            settings["a2a_version"] = json!(self.a2a_version.as_str());
        }
        settings
    }

    /// A stable hash of the resolved settings (64-bit FNV-1a of their JSON, in hex; data
    /// files enter by their own hash). Workers and manager compare it to refuse running
    /// different scenarios under one run.
    pub fn hash(&self) -> String {
        fnv1a_hex(&self.settings_json().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_is_valid() {
        for (name, _) in SHIPPED {
            let s = load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(s.run_time() > Duration::ZERO, "{name}");
            assert!(!s.thresholds.is_empty(), "{name}");
        }
    }

    #[test]
    fn total_users_counts_every_rise() {
        let stage = |users| Stage::closed(users, 1.0, Duration::from_secs(1));
        assert_eq!(
            total_users(&[stage(10), stage(50), stage(20), stage(30)]),
            60
        );
    }

    #[test]
    fn overrides_keep_a_staged_shape() {
        let s = load("gradual-ramp").unwrap();
        let short = s
            .clone()
            .with_overrides(&Overrides {
                users: Some(20),
                run_time: Some(Duration::from_secs(10)),
                ..Overrides::default()
            })
            .unwrap();
        assert_eq!(short.stages.len(), s.stages.len());
        assert_eq!(short.peak_users(), 20);
        assert!((short.run_time().as_secs_f64() - 10.0).abs() < 0.01);
        assert_ne!(short.hash(), s.hash());
        assert_eq!(s.hash(), load("gradual-ramp").unwrap().hash());
    }
}

//! A scenario file's load shape: users (the closed model) or arrival rates (the open model),
//! flat or in stages, validated with `file:line:col` errors.
//!
//! Closed: `users`, `spawn_rate`, `run_time`, or `[[stages]]` of `users` and `duration`.
//! Open: `rate` (arrivals per second) with `run_time`, or `[[stages]]` of `rate`, `duration`
//! and an optional `ramp` (the rate moves linearly from the previous stage's over it; default
//! a step), plus `arrival` (`constant` or `poisson`) and `max_in_flight`. A file is one or
//! the other: mixing them is an error, as is a knob of one model in a file of the other.
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{parse_duration, MAX_DURATION};
use super::error::{Locator, ScenarioError};
use super::{format_duration, total_users, Arrival, Stage};
use crate::users::ThinkTime;

/// The most users one run starts (every rise of its stages added up): at ~5 KiB per waiting
/// user (measured at 10,000 users, docs/generator.md), 100,000 users take about 0.5 GiB.
pub const MAX_USERS: u64 = 100_000;
/// Memory one waiting user costs, measured by the `recording_overhead` benchmark at 10,000
/// users (RSS growth / users: 4.6–4.7 KiB with goose's patch, loadtests/vendor/goose.patch;
/// at 500 users the run's fixed costs make it ~21 KiB).
pub const USER_MEMORY_BYTES: u64 = 5 * 1024;
/// The highest arrival rate a scenario may ask for (per second, the whole run).
pub const MAX_RATE: f64 = 1_000_000.0;
/// Arrivals awaiting a response, at most, unless the file says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;
/// The highest `max_in_flight` (each arrival in flight holds a user session and a socket).
pub const MAX_IN_FLIGHT: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStage {
    users: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    duration: Spanned<toml::Value>,
    spawn_rate: Option<Spanned<f64>>,
    ramp: Option<Spanned<toml::Value>>,
}

/// The load keys of a scenario file.
pub(super) struct RawLoad<'a> {
    pub users: Option<&'a Spanned<i64>>,
    pub rate: Option<&'a Spanned<f64>>,
    pub spawn_rate: Option<&'a Spanned<f64>>,
    pub run_time: Option<&'a Spanned<toml::Value>>,
    pub stages: Option<&'a Spanned<Vec<RawStage>>>,
    pub arrival: Option<&'a Spanned<String>>,
    pub max_in_flight: Option<&'a Spanned<i64>>,
}

/// A validated load shape.
pub(super) struct Load {
    pub stages: Vec<Stage>,
    pub arrival: Arrival,
    pub max_in_flight: usize,
}

pub(super) fn duration_of(
    value: &Spanned<toml::Value>,
    at: &Locator<'_>,
) -> Result<Duration, ScenarioError> {
    let text =
        match value.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => return Err(at.at(
                value.span(),
                format!("expected a duration, found {}", other.type_str()),
                "write seconds (`90`) or a string with units (`\"30s\"`, `\"5m\"`, `\"1h30m\"`)",
            )),
        };
    parse_duration(&text).map_err(|problem| at.at(value.span(), problem, ""))
}

fn positive_duration(
    value: &Spanned<toml::Value>,
    what: &str,
    at: &Locator<'_>,
) -> Result<Duration, ScenarioError> {
    let d = duration_of(value, at)?;
    if d.is_zero() {
        return Err(at.at(
            value.span(),
            format!("{what} is zero: nothing would run"),
            format!("give {what} a positive duration, e.g. `{what} = \"60s\"`"),
        ));
    }
    Ok(d)
}

fn user_count(value: &Spanned<i64>, at: &Locator<'_>) -> Result<u64, ScenarioError> {
    let n = *value.get_ref();
    if n < 0 {
        return Err(at.at(
            value.span(),
            format!("users is {n}: a user count cannot be negative"),
            "write a count of 0 or more, e.g. `users = 20`",
        ));
    }
    let n = n as u64;
    if n > MAX_USERS {
        return Err(at.at(value.span(), too_many_users(n), users_hint()));
    }
    Ok(n)
}

/// What a user count over [`MAX_USERS`] would cost, for the error message.
pub fn too_many_users(n: u64) -> String {
    let gib = n as f64 * USER_MEMORY_BYTES as f64 / (1u64 << 30) as f64;
    format!(
        "{n} users would hold about {gib:.1} GiB of memory (~{} KiB each); a run holds at most {MAX_USERS}",
        USER_MEMORY_BYTES / 1024
    )
}

fn users_hint() -> String {
    format!("write at most {MAX_USERS} users; past a few thousand, spread them over workers (docs/distributed.md)")
}

fn spawn_rate(value: &Spanned<f64>, at: &Locator<'_>) -> Result<f64, ScenarioError> {
    let r = *value.get_ref();
    if !(r > 0.0 && r.is_finite()) {
        return Err(at.at(
            value.span(),
            format!("spawn_rate is {r}: users would never start"),
            "write the users started per second, e.g. `spawn_rate = 10`",
        ));
    }
    Ok(r)
}

fn arrival_rate(value: &Spanned<f64>, at: &Locator<'_>) -> Result<f64, ScenarioError> {
    let r = *value.get_ref();
    if !(0.0..=MAX_RATE).contains(&r) {
        return Err(at.at(
            value.span(),
            format!("rate is {r}: not a usable arrival rate"),
            format!("write arrivals per second from 0 to {MAX_RATE}, e.g. `rate = 50`"),
        ));
    }
    Ok(r)
}

/// A key of the other load model given in this file.
fn misplaced(
    span: std::ops::Range<usize>,
    key: &str,
    model: &str,
    at: &Locator<'_>,
) -> ScenarioError {
    let hint = if model == "open" {
        "an open scenario sends arrivals at `rate`; users, spawn_rate and think times do not apply: remove it"
    } else {
        "`rate`, `ramp`, `arrival` and `max_in_flight` belong to an open scenario (one with `rate`): remove it, or give `rate` instead of `users`"
    };
    at.at(
        span,
        format!(
            "`{key}` does not apply to {} {model} scenario",
            if model == "open" { "an" } else { "a" }
        ),
        hint,
    )
}

/// Validates the load keys into stages (users or rates), arrival process and in-flight bound.
pub(super) fn validate(raw: RawLoad<'_>, at: &Locator<'_>) -> Result<Load, ScenarioError> {
    let flat_key = raw
        .users
        .map(|u| u.span())
        .or_else(|| raw.rate.map(|r| r.span()));
    if let (Some(stages), Some(span)) = (raw.stages, flat_key.clone()) {
        return Err(at.at(
            span,
            "both a flat load and `[[stages]]` are given",
            format!(
                "a scenario is either flat (`users` or `rate`, with `run_time`) or staged (`[[stages]]` at line {}); remove one",
                super::error::line_col(at.text, stages.span().start).0
            ),
        ));
    }
    if let (Some(users), Some(_)) = (raw.users, raw.rate) {
        return Err(at.at(
            users.span(),
            "both `users` and `rate` are given",
            "give `users` for closed-loop users or `rate` for arrivals per second, not both",
        ));
    }
    let open = match raw.stages {
        Some(stages) => stages_are_open(stages, at)?,
        None if flat_key.is_none() => {
            return Err(at.at(
                0..0,
                "the scenario has neither `users`, `rate` nor `[[stages]]`",
                "add `users = 20` and `run_time = \"5m\"` (closed users), `rate = 50` and `run_time` (arrivals per second), or `[[stages]]` tables",
            ))
        }
        None => raw.rate.is_some(),
    };
    if open {
        if let Some(r) = raw.spawn_rate {
            return Err(misplaced(r.span(), "spawn_rate", "open", at));
        }
    } else {
        if let Some(a) = raw.arrival {
            return Err(misplaced(a.span(), "arrival", "closed", at));
        }
        if let Some(m) = raw.max_in_flight {
            return Err(misplaced(m.span(), "max_in_flight", "closed", at));
        }
    }
    let stages = match raw.stages {
        Some(stages) => staged(stages, raw.spawn_rate, at)?,
        None => vec![flat(&raw, at)?],
    };
    let load_span = raw.stages.map(|s| s.span()).or(flat_key).unwrap_or(0..0);
    check_totals(&stages, load_span, at)?;
    let arrival = match raw.arrival {
        None => Arrival::Constant,
        Some(a) => at.choice(
            a,
            "arrival",
            &[("constant", Arrival::Constant), ("poisson", Arrival::Poisson)],
            "write `arrival = \"constant\"` (evenly spaced, the default) or `\"poisson\"` (exponential gaps, as independent clients)",
        )?,
    };
    let max_in_flight = match raw.max_in_flight {
        None => DEFAULT_MAX_IN_FLIGHT,
        Some(m) => {
            let n = *m.get_ref();
            if !(1..=MAX_IN_FLIGHT).contains(&n) {
                return Err(at.at(
                    m.span(),
                    format!("max_in_flight is {n}"),
                    format!("write how many arrivals may await a response at once, 1 to {MAX_IN_FLIGHT}, e.g. `max_in_flight = {DEFAULT_MAX_IN_FLIGHT}`"),
                ));
            }
            n as usize
        }
    };
    Ok(Load {
        stages,
        arrival,
        max_in_flight,
    })
}

/// Whether the stages are rate stages; every stage must be of one kind.
fn stages_are_open(
    stages: &Spanned<Vec<RawStage>>,
    at: &Locator<'_>,
) -> Result<bool, ScenarioError> {
    let Some(first) = stages.get_ref().first() else {
        return Err(at.at(
            stages.span(),
            "`stages` is empty",
            "add at least one `[[stages]]` table with `users` (or `rate`) and `duration`",
        ));
    };
    let open = first.rate.is_some();
    for s in stages.get_ref() {
        match (&s.users, &s.rate) {
            (Some(u), Some(_)) => {
                return Err(at.at(
                    u.span(),
                    "a stage gives both `users` and `rate`",
                    "give `users` (closed-loop users) or `rate` (arrivals per second)",
                ))
            }
            (None, None) => {
                return Err(at.at(
                    s.duration.span(),
                    "a stage gives neither `users` nor `rate`",
                    "add `users = 20` or `rate = 50` to the stage",
                ))
            }
            (Some(u), None) if open => return Err(at.at(
                u.span(),
                "this stage gives `users` but the first gives `rate`",
                "a scenario is closed (users) or open (rate) throughout: give every stage `rate`",
            )),
            (None, Some(r)) if !open => return Err(at.at(
                r.span(),
                "this stage gives `rate` but the first gives `users`",
                "a scenario is closed (users) or open (rate) throughout: give every stage `users`",
            )),
            _ => {}
        }
    }
    Ok(open)
}

fn flat(raw: &RawLoad<'_>, at: &Locator<'_>) -> Result<Stage, ScenarioError> {
    let (span, what) = match (raw.users, raw.rate) {
        (Some(u), _) => (u.span(), "users"),
        (None, Some(r)) => (r.span(), "rate"),
        (None, None) => (0..0, "users"),
    };
    let Some(run_time) = raw.run_time else {
        return Err(at.at(
            span,
            "a flat scenario needs `run_time`",
            format!("add e.g. `run_time = \"5m\"` next to `{what}`"),
        ));
    };
    let duration = positive_duration(run_time, "run_time", at)?;
    if let Some(rate) = raw.rate {
        return Ok(Stage::open(
            arrival_rate(rate, at)?,
            Duration::ZERO,
            duration,
        ));
    }
    let users = raw
        .users
        .map(|u| user_count(u, at))
        .transpose()?
        .unwrap_or(0);
    let spawn_rate = match raw.spawn_rate {
        Some(r) => spawn_rate(r, at)?,
        None => users.max(1) as f64,
    };
    Ok(Stage::closed(users, spawn_rate, duration))
}

fn staged(
    stages: &Spanned<Vec<RawStage>>,
    default_spawn_rate: Option<&Spanned<f64>>,
    at: &Locator<'_>,
) -> Result<Vec<Stage>, ScenarioError> {
    let default_spawn_rate = default_spawn_rate.map(|r| spawn_rate(r, at)).transpose()?;
    stages
        .get_ref()
        .iter()
        .map(|s| {
            let duration = positive_duration(&s.duration, "duration", at)?;
            if let Some(rate) = &s.rate {
                if let Some(r) = &s.spawn_rate {
                    return Err(misplaced(r.span(), "spawn_rate", "open", at));
                }
                let ramp = match &s.ramp {
                    None => Duration::ZERO,
                    Some(r) => {
                        let ramp = duration_of(r, at)?;
                        if ramp > duration {
                            return Err(at.at(
                                r.span(),
                                format!(
                                    "ramp ({}) is longer than its stage ({})",
                                    format_duration(ramp),
                                    format_duration(duration)
                                ),
                                "the rate ramps at the start of its stage: make `ramp` at most the stage's `duration`",
                            ));
                        }
                        ramp
                    }
                };
                return Ok(Stage::open(arrival_rate(rate, at)?, ramp, duration));
            }
            if let Some(r) = &s.ramp {
                return Err(misplaced(r.span(), "ramp", "closed", at));
            }
            let users = s.users.as_ref().map(|u| user_count(u, at)).transpose()?.unwrap_or(0);
            let spawn_rate = match &s.spawn_rate {
                Some(r) => spawn_rate(r, at)?,
                None => default_spawn_rate.unwrap_or(users.max(1) as f64),
            };
            Ok(Stage::closed(users, spawn_rate, duration))
        })
        .collect()
}

/// Limits over all stages: users started in all, total duration, something to run.
fn check_totals(
    stages: &[Stage],
    span: std::ops::Range<usize>,
    at: &Locator<'_>,
) -> Result<(), ScenarioError> {
    let total = total_users(stages) as u64;
    if total > MAX_USERS {
        return Err(at.at(
            span,
            format!(
                "the stages start {total} users in all (every rise added up): {}",
                too_many_users(total)
            ),
            users_hint(),
        ));
    }
    if stages
        .iter()
        .try_fold(Duration::ZERO, |sum, s| sum.checked_add(s.duration))
        .is_none_or(|sum| sum > MAX_DURATION)
    {
        return Err(at.at(
            span,
            format!(
                "the stages last longer than the longest run Skein accepts ({})",
                format_duration(MAX_DURATION)
            ),
            "shorten the stages' durations",
        ));
    }
    let open = stages.iter().any(|s| s.rate.is_some());
    if open && stages.iter().all(|s| s.rate == Some(0.0)) {
        return Err(at.at(
            span,
            "every stage has a rate of 0: nothing would arrive",
            "give at least one stage a positive `rate`",
        ));
    }
    if !open && stages.iter().all(|s| s.users == 0) {
        return Err(at.at(
            span,
            "every stage has 0 users: nothing would run",
            "give at least one stage a positive `users`",
        ));
    }
    Ok(())
}
/// A `think_time = ["1s", "5s"]` (of a class, or of a declared request).
pub(super) fn think_time_of(
    pair: &Spanned<Vec<toml::Value>>,
    at: &Locator<'_>,
) -> Result<ThinkTime, ScenarioError> {
    let values = pair.get_ref();
    if values.len() != 2 {
        return Err(at.at(
            pair.span(),
            format!("think_time has {} values", values.len()),
            "write `think_time = [\"1s\", \"5s\"]` (minimum, maximum)",
        ));
    }
    let spanned = |v: &toml::Value| Spanned::new(pair.span(), v.clone());
    let min = duration_of(&spanned(&values[0]), at)?;
    let max = duration_of(&spanned(&values[1]), at)?;
    if min > max {
        return Err(at.at(
            pair.span(),
            "think_time minimum is above its maximum",
            "write `[minimum, maximum]`, e.g. `[\"1s\", \"5s\"]`",
        ));
    }
    Ok(ThinkTime { min, max })
}

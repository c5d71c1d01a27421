//! The scenario file format (TOML) and its validation into a [`Scenario`].
//!
//! Parsing is two steps: serde reads the file into raw types that keep every value's span
//! (`deny_unknown_fields`, so a misspelt key is an error, not silently ignored), then
//! validation turns them into a [`Scenario`] the rest of Skein trusts, reporting semantic
//! problems (negative users, zero duration, unknown class, weights summing to 0) at the
//! exact `file:line:col` with what to write instead.
use std::collections::BTreeMap;

use reports::{LatencyBasis, SlaMetric, SlaThreshold};
use serde::Deserialize;
use toml::Spanned;

use super::data_file::{DataFile, DataSource};
use super::declared::{self, DeclaredSpec};
use super::error::{Locator, ScenarioError};
use super::request::RawRequest;
use super::shape::{self, think_time_of, RawLoad, RawStage};
use super::{Allocation, ClassMix, Scenario, MAX_WEIGHT};
use crate::users::a2a::Choice as A2aChoice;
use crate::users::UserClass;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    description: String,
    host: Option<Spanned<String>>,
    token: Option<String>,
    users: Option<Spanned<i64>>,
    rate: Option<Spanned<f64>>,
    spawn_rate: Option<Spanned<f64>>,
    run_time: Option<Spanned<toml::Value>>,
    stages: Option<Spanned<Vec<RawStage>>>,
    arrival: Option<Spanned<String>>,
    max_in_flight: Option<Spanned<i64>>,
    #[serde(default)]
    allocation: Option<Spanned<String>>,
    user_classes: Spanned<Vec<RawClass>>,
    sla: Option<RawSla>,
    /// Which A2A generation AgentChatUsers speak: `auto` (from the agent card), `1.0`, `0.3`.
    a2a_version: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    /// A built-in class.
    class: Option<Spanned<String>>,
    /// A class declared here, with `requests` (see `scenario::declared`).
    name: Option<Spanned<String>>,
    weight: Spanned<i64>,
    think_time: Option<Spanned<Vec<toml::Value>>>,
    requests: Option<Spanned<Vec<RawRequest>>>,
    /// A declared class's per-user setup and teardown (Locust's `on_start`/`on_stop`).
    on_start: Option<Spanned<Vec<RawRequest>>>,
    on_stop: Option<Spanned<Vec<RawRequest>>>,
    /// A declared class's data file (see `scenario::data_file`).
    data: Option<Spanned<String>>,
    /// A declared class's request order: `weighted` (default) or `sequence`.
    mode: Option<Spanned<String>>,
    /// `McpUser`'s settings (see `scenario::mcp`).
    mcp: Option<Spanned<super::mcp::RawMcp>>,
}

/// Declares a table of SLA limits: one optional field per metric key (`p95_ms`,
/// `ttfc_p95_ms`, `min_items_per_s`, ...) plus the table's own fields, and `limits()` listing
/// them with their metric. `[sla]` and `[sla.requests."name"]` share the keys, but serde's
/// `flatten` would lose the spans errors point at, so both are declared through this.
macro_rules! limits_table {
    ($(#[$meta:meta])* struct $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        struct $name {
            p50_ms: Option<Spanned<f64>>,
            p90_ms: Option<Spanned<f64>>,
            p95_ms: Option<Spanned<f64>>,
            p99_ms: Option<Spanned<f64>>,
            avg_ms: Option<Spanned<f64>>,
            error_rate: Option<Spanned<f64>>,
            min_rps: Option<Spanned<f64>>,
            ttfc_p50_ms: Option<Spanned<f64>>,
            ttfc_p90_ms: Option<Spanned<f64>>,
            ttfc_p95_ms: Option<Spanned<f64>>,
            ttfc_p99_ms: Option<Spanned<f64>>,
            gap_p50_ms: Option<Spanned<f64>>,
            gap_p90_ms: Option<Spanned<f64>>,
            gap_p95_ms: Option<Spanned<f64>>,
            gap_p99_ms: Option<Spanned<f64>>,
            min_items_per_s: Option<Spanned<f64>>,
            ttft_p50_ms: Option<Spanned<f64>>,
            ttft_p95_ms: Option<Spanned<f64>>,
            ttft_p99_ms: Option<Spanned<f64>>,
            tpot_p50_ms: Option<Spanned<f64>>,
            tpot_p95_ms: Option<Spanned<f64>>,
            tpot_p99_ms: Option<Spanned<f64>>,
            itl_p95_ms: Option<Spanned<f64>>,
            itl_p99_ms: Option<Spanned<f64>>,
            min_output_tokens_per_s: Option<Spanned<f64>>,
            min_goodput_ratio: Option<Spanned<f64>>,
            $($(#[$fmeta])* $field: $ty,)*
        }

        impl $name {
            fn limits(&self) -> [(SlaMetric, Option<&Spanned<f64>>); 26] {
                [
                    (SlaMetric::P50Ms, self.p50_ms.as_ref()),
                    (SlaMetric::P90Ms, self.p90_ms.as_ref()),
                    (SlaMetric::P95Ms, self.p95_ms.as_ref()),
                    (SlaMetric::P99Ms, self.p99_ms.as_ref()),
                    (SlaMetric::AvgMs, self.avg_ms.as_ref()),
                    (SlaMetric::ErrorRate, self.error_rate.as_ref()),
                    (SlaMetric::MinRps, self.min_rps.as_ref()),
                    (SlaMetric::TtfcP50Ms, self.ttfc_p50_ms.as_ref()),
                    (SlaMetric::TtfcP90Ms, self.ttfc_p90_ms.as_ref()),
                    (SlaMetric::TtfcP95Ms, self.ttfc_p95_ms.as_ref()),
                    (SlaMetric::TtfcP99Ms, self.ttfc_p99_ms.as_ref()),
                    (SlaMetric::GapP50Ms, self.gap_p50_ms.as_ref()),
                    (SlaMetric::GapP90Ms, self.gap_p90_ms.as_ref()),
                    (SlaMetric::GapP95Ms, self.gap_p95_ms.as_ref()),
                    (SlaMetric::GapP99Ms, self.gap_p99_ms.as_ref()),
                    (SlaMetric::MinItemsPerS, self.min_items_per_s.as_ref()),
                    (SlaMetric::TtftP50Ms, self.ttft_p50_ms.as_ref()),
                    (SlaMetric::TtftP95Ms, self.ttft_p95_ms.as_ref()),
                    (SlaMetric::TtftP99Ms, self.ttft_p99_ms.as_ref()),
                    (SlaMetric::TpotP50Ms, self.tpot_p50_ms.as_ref()),
                    (SlaMetric::TpotP95Ms, self.tpot_p95_ms.as_ref()),
                    (SlaMetric::TpotP99Ms, self.tpot_p99_ms.as_ref()),
                    (SlaMetric::ItlP95Ms, self.itl_p95_ms.as_ref()),
                    (SlaMetric::ItlP99Ms, self.itl_p99_ms.as_ref()),
                    (SlaMetric::MinOutputTokensPerS, self.min_output_tokens_per_s.as_ref()),
                    (SlaMetric::MinGoodputRatio, self.min_goodput_ratio.as_ref()),
                ]
            }
        }
    };
}

limits_table! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawLimits {}
}

limits_table! {
    /// `[sla]`: every limit of [`RawLimits`], for all requests together, and the run-wide keys.
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawSla {
        /// Open model: dropped arrivals / offered arrivals, a fraction (run-wide only).
        dropped_rate: Option<Spanned<f64>>,
        /// Which latency the latency limits judge: `intended` (default) or `service`.
        latency: Option<Spanned<String>>,
        #[serde(default)]
        requests: BTreeMap<String, Spanned<RawLimits>>,
    }
}

const DOCS: &str = "see docs/scenarios.md for the format";

/// Parses and validates scenario `text` read from `file` (used in error locations and to
/// find data files beside it).
pub fn parse(name: &str, file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse_with_data(name, file, text, DataSource::BesideScenario)
}

/// [`parse`] with the data files read from `data` (a worker's: sent by the manager).
pub fn parse_with_data(
    name: &str,
    file: &str,
    text: &str,
    data: DataSource<'_>,
) -> Result<Scenario, ScenarioError> {
    let at = Locator { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at.at(span, e.message().trim().to_string(), DOCS)
    })?;
    validate(name, file, raw, data, &at)
}

fn validate(
    name: &str,
    file: &str,
    raw: RawScenario,
    data: DataSource<'_>,
    at: &Locator<'_>,
) -> Result<Scenario, ScenarioError> {
    let load = shape::validate(
        RawLoad {
            users: raw.users.as_ref(),
            rate: raw.rate.as_ref(),
            spawn_rate: raw.spawn_rate.as_ref(),
            run_time: raw.run_time.as_ref(),
            stages: raw.stages.as_ref(),
            arrival: raw.arrival.as_ref(),
            max_in_flight: raw.max_in_flight.as_ref(),
        },
        at,
    )?;

    let mut classes = Vec::new();
    let mut data_files: Vec<DataFile> = Vec::new();
    for c in raw.user_classes.get_ref() {
        let think_time = c
            .think_time
            .as_ref()
            .map(|t| think_time_of(t, at))
            .transpose()?;
        let (user_class, name_span) = match (&c.class, &c.name, &c.requests) {
            (Some(class), None, None) => {
                let class_name = class.get_ref();
                let Some(user_class) = UserClass::from_name(class_name) else {
                    return Err(at.at(
                        class.span(),
                        format!("unknown user class `{class_name}`"),
                        format!("use one of: {}, or declare a class with `name` and `[[user_classes.requests]]` (docs/custom-workloads.md)", UserClass::names()),
                    ));
                };
                let user_class = match (&c.mcp, user_class) {
                    (Some(raw), UserClass::Mcp(_)) => UserClass::Mcp(super::mcp::settings(raw.get_ref(), at)?),
                    (Some(raw), _) => {
                        return Err(at.at(
                            raw.span(),
                            format!("`mcp` settings are for class `McpUser`, not `{class_name}`"),
                            "move the `[user_classes.mcp]` table under the `class = \"McpUser\"` entry",
                        ))
                    }
                    (None, class) => class,
                };
                if let Some(list) = c.on_start.as_ref().or(c.on_stop.as_ref()) {
                    return Err(at.at(
                        list.span(),
                        format!("built-in class `{class_name}` takes no `on_start` or `on_stop`"),
                        "a built-in class starts and stops its users itself; declare a class with `name` to send your own (docs/custom-workloads.md)",
                    ));
                }
                if let Some(key) = c.data.as_ref().or(c.mode.as_ref()) {
                    return Err(at.at(
                        key.span(),
                        format!("built-in class `{class_name}` takes no `data` or `mode`"),
                        "data files and sequence mode are for classes declared with `name` and `[[user_classes.requests]]` (docs/custom-workloads.md)",
                    ));
                }
                (user_class, class.span())
            }
            (None, Some(name), Some(requests)) => {
                if UserClass::from_name(name.get_ref()).is_some() || name.get_ref().trim().is_empty() {
                    return Err(at.at(
                        name.span(),
                        format!("`{}` cannot name a declared class", name.get_ref()),
                        "choose a new, non-empty name; use `class = \"...\"` for a built-in class",
                    ));
                }
                let spec = DeclaredSpec {
                    name,
                    think_time: think_time.unwrap_or(declared::DEFAULT_THINK_TIME),
                    mode: c.mode.as_ref(),
                    data: c.data.as_ref(),
                    requests,
                    on_start: c.on_start.as_ref(),
                    on_stop: c.on_stop.as_ref(),
                };
                let (class, files) = declared::class(spec, data, at)?;
                for file in files {
                    if !data_files.iter().any(|d| d.path == file.path) {
                        data_files.push(file);
                    }
                }
                (UserClass::Declared(class), name.span())
            }
            (None, Some(name), None) => {
                return Err(at.at(
                    name.span(),
                    format!("declared class `{}` has no requests", name.get_ref()),
                    "add `[[user_classes.requests]]` tables after it, or write `class = \"...\"` for a built-in class",
                ))
            }
            (Some(class), Some(_), _) => {
                return Err(at.at(
                    class.span(),
                    "a user class has both `class` and `name`",
                    "`class` names a built-in class; `name` declares a new one with `[[user_classes.requests]]`",
                ))
            }
            (Some(class), None, Some(_)) => {
                return Err(at.at(
                    class.span(),
                    "a built-in class cannot take `requests`",
                    "declare a new class with `name = \"...\"` instead of `class`",
                ))
            }
            (None, None, _) => {
                return Err(at.at(
                    c.weight.span(),
                    "a user class has neither `class` nor `name`",
                    format!("write `class = \"...\"` (one of: {}) or declare one with `name`", UserClass::names()),
                ))
            }
        };
        let class_name = user_class.name();
        if classes.iter().any(|m: &ClassMix| m.class == user_class) {
            return Err(at.at(
                name_span,
                format!("user class `{class_name}` is listed twice"),
                "list each class once and give it the combined weight",
            ));
        }
        let weight = *c.weight.get_ref();
        if weight < 0 {
            return Err(at.at(
                c.weight.span(),
                format!("weight is {weight}: weights cannot be negative"),
                "write a weight of 0 or more, e.g. `weight = 3`",
            ));
        }
        if weight > MAX_WEIGHT {
            return Err(at.at(
                c.weight.span(),
                format!("weight is {weight}: weights are ratios, at most {MAX_WEIGHT}"),
                "write the classes' shares in small numbers, e.g. `weight = 3` and `weight = 1`",
            ));
        }
        let think_time = think_time.unwrap_or_else(|| user_class.default_think_time());
        classes.push(ClassMix {
            class: user_class,
            weight: weight as u32,
            think_time,
        });
    }
    if classes.iter().map(|c| c.weight as u64).sum::<u64>() == 0 {
        return Err(at.at(
            raw.user_classes.span(),
            "the user class weights sum to 0: no user could be started",
            "give at least one class a positive weight, e.g. `weight = 1`",
        ));
    }
    let allocation = match &raw.allocation {
        None => Allocation::RoundRobin,
        Some(a) => at.choice(
            a,
            "allocation",
            &[("round-robin", Allocation::RoundRobin), ("serial", Allocation::Serial)],
            "write `allocation = \"round-robin\"` (users interleaved by weight, the default) or `\"serial\"` (class by class in file order)",
        )?,
    };

    let sla = raw.sla.unwrap_or_default();
    let basis = match &sla.latency {
        None => LatencyBasis::Intended,
        Some(b) => at.choice(
            b,
            "latency",
            &[("intended", LatencyBasis::Intended), ("service", LatencyBasis::Service)],
            "write `latency = \"intended\"` (from the intended send time, the default) or `\"service\"` (from the actual send)",
        )?,
    };
    let mut thresholds = Vec::new();
    push_limits(sla.limits(), None, &mut thresholds, at, true)?;
    if let Some(v) = &sla.dropped_rate {
        let value = *v.get_ref();
        if !(0.0..=1.0).contains(&value) {
            return Err(at.at(
                v.span(),
                format!("dropped_rate = {value} is not a usable limit"),
                "dropped_rate is a fraction: `dropped_rate = 0.001` means 0.1 %",
            ));
        }
        thresholds.push(SlaThreshold::new(SlaMetric::DroppedRate, None, value));
    }
    for (request, limits) in &sla.requests {
        // A threshold on a request no class sends would pass on no data: say so instead.
        let sent: Vec<&str> = classes
            .iter()
            .filter(|c| c.weight > 0)
            .flat_map(|c| c.class.behaviour().recorded_names())
            .collect();
        if !sent.contains(&request.as_str()) {
            let mut names = sent.clone();
            names.sort_unstable();
            names.dedup();
            return Err(at.at(
                limits.span(),
                format!("SLA for request `{request}`, which no user class of this scenario sends"),
                format!("use one of: {}", names.join(", ")),
            ));
        }
        push_limits(
            limits.get_ref().limits(),
            Some(request.clone()),
            &mut thresholds,
            at,
            false,
        )?;
    }

    for t in &mut thresholds {
        t.latency = basis;
    }
    let host = match raw.host {
        None => None,
        Some(h) => {
            super::target_url(h.get_ref())
                .map_err(|e| at.at(h.span(), e, "or leave `host` out and give --host"))?;
            Some(h.into_inner())
        }
    };
    let a2a_version = match &raw.a2a_version {
        None => A2aChoice::Auto,
        Some(v) => A2aChoice::parse(v.get_ref()).ok_or_else(|| {
            at.at(
                v.span(),
                format!("a2a_version `{}` is not one Skein speaks", v.get_ref()),
                "write `a2a_version = \"auto\"` (the agent card decides, the default), `\"1.0\"` or `\"0.3\"`",
            )
        })?,
    };
    Ok(Scenario {
        name: name.to_string(),
        description: raw.description,
        source: file.to_string(),
        staged: raw.stages.is_some(),
        allocation,
        classes,
        stages: load.stages,
        arrival: load.arrival,
        max_in_flight: load.max_in_flight,
        host,
        token: raw.token,
        thresholds,
        data_files,
        a2a_version,
    })
}

/// The defaults every scenario gets unless it sets them: p95 < 200 ms, error rate < 1 %.
const DEFAULT_P95_MS: f64 = 200.0;
const DEFAULT_ERROR_RATE: f64 = 0.01;

fn push_limits(
    limits: [(SlaMetric, Option<&Spanned<f64>>); 26],
    request: Option<String>,
    out: &mut Vec<SlaThreshold>,
    at: &Locator<'_>,
    with_defaults: bool,
) -> Result<(), ScenarioError> {
    for (metric, given) in limits {
        let default = match metric {
            SlaMetric::P95Ms => Some(DEFAULT_P95_MS),
            SlaMetric::ErrorRate => Some(DEFAULT_ERROR_RATE),
            _ => None,
        };
        let limit = match given {
            Some(v) => {
                let value = *v.get_ref();
                let fraction = matches!(metric, SlaMetric::ErrorRate | SlaMetric::MinGoodputRatio);
                let valid = if fraction {
                    (0.0..=1.0).contains(&value)
                } else {
                    value > 0.0 && value.is_finite()
                };
                if !valid {
                    let hint = match metric {
                        SlaMetric::ErrorRate => {
                            "error_rate is a fraction: `error_rate = 0.01` means 1 %"
                        }
                        SlaMetric::MinGoodputRatio => {
                            "min_goodput_ratio is a fraction: `min_goodput_ratio = 0.9` means 90 %"
                        }
                        _ => "write a positive number, e.g. `p95_ms = 200`",
                    };
                    return Err(at.at(
                        v.span(),
                        format!("{} = {value} is not a usable limit", metric.key()),
                        hint,
                    ));
                }
                value
            }
            None => match (with_defaults, default) {
                (true, Some(d)) => d,
                _ => continue,
            },
        };
        out.push(SlaThreshold::new(metric, request.clone(), limit));
    }
    Ok(())
}

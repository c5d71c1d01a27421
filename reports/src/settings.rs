//! A run's settings as rows a person reads — "Stage 2: 100 users, spawn 10/s, 60 s" rather
//! than the resolved scenario's JSON — for the report's Run table and for the settings that
//! differ between two compared runs.
use serde_json::Value;

use crate::model::RunResult;

/// A scalar as text: strings unquoted, whole numbers without ".0".
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join("–"),
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), scalar(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// "think_time_ms" → "Think time ms".
fn title(key: &str) -> String {
    let text = key.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One row per setting of the resolved scenario, lists one row per item.
pub fn scenario_rows(settings: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = settings else {
        return vec![("Settings".into(), scalar(settings))];
    };
    let mut rows = Vec::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            ("user_classes", Value::Array(classes)) => {
                for c in classes {
                    let think = c.get("think_time_ms").map(scalar).unwrap_or_default();
                    rows.push((
                        format!(
                            "User class {}",
                            c.get("class").map(scalar).unwrap_or_default()
                        ),
                        format!(
                            "weight {}, think time {think} ms",
                            c.get("weight").map(scalar).unwrap_or_default()
                        ),
                    ));
                }
            }
            ("stages", Value::Array(stages)) => {
                for (i, s) in stages.iter().enumerate() {
                    let field = |k: &str| s.get(k).map(scalar).unwrap_or_default();
                    rows.push((
                        format!("Stage {}", i + 1),
                        format!(
                            "{} users, spawn {}/s, {} s",
                            field("users"),
                            field("spawn_rate"),
                            field("duration_s")
                        ),
                    ));
                }
            }
            ("thresholds", Value::Array(items)) => {
                for t in items {
                    let scope = t
                        .get("request")
                        .filter(|r| !r.is_null())
                        .map_or("all requests".to_string(), scalar);
                    rows.push((
                        format!(
                            "SLA {} ({scope})",
                            t.get("metric").map(scalar).unwrap_or_default()
                        ),
                        format!(
                            "limit {}{}",
                            t.get("limit").map(scalar).unwrap_or_default(),
                            t.get("latency")
                                .map(|l| format!(", {} latency", scalar(l)))
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
            ("name", _) => {}
            (_, Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    rows.push((format!("{} {}", title(key), i + 1), scalar(item)));
                }
            }
            _ => rows.push((title(key), scalar(value))),
        }
    }
    rows
}

/// Every setting of `result` a reader may want: what ran, where, with what, then the
/// scenario's resolved settings.
pub fn run_rows(result: &RunResult) -> Vec<(String, String)> {
    let m = &result.metadata;
    let mut rows: Vec<(String, String)> = vec![
        (
            "Scenario".into(),
            format!("{} ({})", m.scenario_name, m.scenario_source),
        ),
        ("Scenario hash".into(), m.scenario_hash.clone()),
        ("Target".into(), m.host.clone()),
        ("Load model".into(), m.load_model.as_str().into()),
        (
            "Duration".into(),
            format!("{:.0} s", result.duration_secs()),
        ),
        (
            "Tool version".into(),
            format!(
                "skein {}{}",
                m.tool_version,
                m.git_sha
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ),
        ),
        ("Machine cores".into(), m.machine_cores.to_string()),
        ("Workers".into(), result.workers.len().max(1).to_string()),
        ("Command line".into(), m.command_line.join(" ")),
    ];
    rows.extend(scenario_rows(&m.scenario_settings));
    rows
}

/// The settings whose values differ between two runs (a setting only one run has shows
/// "–" on the other side): (setting, baseline, current).
pub fn differences(baseline: &RunResult, current: &RunResult) -> Vec<(String, String, String)> {
    let (b, c) = (run_rows(baseline), run_rows(current));
    let find = |rows: &[(String, String)], k: &str| {
        rows.iter()
            .find(|(key, _)| key == k)
            .map_or("–".to_string(), |(_, v)| v.clone())
    };
    let mut keys: Vec<&String> = b.iter().map(|(k, _)| k).collect();
    keys.extend(
        c.iter()
            .map(|(k, _)| k)
            .filter(|k| !b.iter().any(|(bk, _)| bk == *k)),
    );
    keys.into_iter()
        .filter(|k| k.as_str() != "Command line" || find(&b, k) != find(&c, k))
        .map(|k| (k.clone(), find(&b, k), find(&c, k)))
        .filter(|(_, bv, cv)| bv != cv)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_sentences_not_json() {
        let rows = scenario_rows(&serde_json::json!({
            "name": "light", "staged": false, "allocation": "Weighted",
            "user_classes": [{"class": "TrainingAPIUser", "weight": 3, "think_time_ms": [500, 1500]}],
            "stages": [{"users": 20, "spawn_rate": 5.0, "duration_s": 300.0}],
            "thresholds": [{"metric": "p95_ms", "request": null, "limit": 200.0, "latency": "intended"}],
        }));
        let text: Vec<String> = rows.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        assert!(
            text.contains(
                &"User class TrainingAPIUser: weight 3, think time 500–1500 ms".to_string()
            ),
            "{text:?}"
        );
        assert!(
            text.contains(&"Stage 1: 20 users, spawn 5/s, 300 s".to_string()),
            "{text:?}"
        );
        assert!(
            text.contains(&"SLA p95_ms (all requests): limit 200, intended latency".to_string()),
            "{text:?}"
        );
        assert!(text.contains(&"Staged: no".to_string()), "{text:?}");
        assert!(
            text.iter().all(|t| !t.contains('{') && !t.contains('"')),
            "{text:?}"
        );
    }
}

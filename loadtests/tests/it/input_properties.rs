//! Generated scenario files and flag sets: every input gives a valid scenario or a located
//! error, never a panic; and whatever `skein scenarios --check` accepts, `skein run` accepts
//! (everything `run` does before sending a request: overrides, launch plan, engine plan).
use clap::Parser;
use proptest::prelude::*;
use skein::cli::{Cli, Command};
use skein::scenario::{file, ScenarioError};

/// Values a field might be given: plausible ones, edge cases, and garbage.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..50).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("4294967296".to_string()),
        Just("4294967297".to_string()),
        Just("1000000000000".to_string()),
        Just("-1".to_string()),
        (0.0f64..100.0).prop_map(|f| format!("{f:.3}")),
        Just("1e30".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-0.0".to_string()),
        Just("\"30s\"".to_string()),
        Just("\"1e30\"".to_string()),
        Just("\"99999999999999999999h\"".to_string()),
        Just("\"10000000000000000000\"".to_string()),
        Just("\"744h\"".to_string()),
        Just("\"5m\"".to_string()),
        Just("\"\"".to_string()),
        Just("\"ms\"".to_string()),
        Just("\"1.5.5s\"".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("[\"1s\", \"2s\"]".to_string()),
        Just("[\"3s\", \"1s\"]".to_string()),
        Just("\"ftp://x\"".to_string()),
        Just("\"http://127.0.0.1:9\"".to_string()),
        Just("\"serial\"".to_string()),
        Just("\"round-robin\"".to_string()),
        Just("\"service\"".to_string()),
        Just("\"poisson\"".to_string()),
        Just("\"constant\"".to_string()),
        "\"[a-zA-Z0-9 .:/_-]{0,12}\"",
    ]
}

fn key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "users",
        "spawn_rate",
        "run_time",
        "host",
        "allocation",
        "description",
        "token",
        "colour",
        "rate",
        "arrival",
        "max_in_flight",
    ])
}

fn class_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "TrainingAPIUser",
            "BurstTrainingUser",
            "OrchestrationUser",
            "HighThroughputUser",
        ])
        .prop_map(|s| format!("\"{s}\"")),
        value(),
    ]
}

/// A scenario file: top-level keys, maybe stages, classes, maybe an [sla] table.
fn scenario_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((key(), value()), 0..5),
        prop::collection::vec(
            (
                prop::sample::select(vec!["users", "rate"]),
                value(),
                value(),
                prop::option::of((prop::sample::select(vec!["spawn_rate", "ramp"]), value())),
            ),
            0..4,
        ),
        prop::collection::vec((class_name(), value(), prop::option::of(value())), 0..4),
        prop::option::of(prop::collection::vec(
            (
                prop::sample::select(vec![
                    "p95_ms",
                    "p99_ms",
                    "error_rate",
                    "min_rps",
                    "latency",
                    "dropped_rate",
                ]),
                value(),
            ),
            0..3,
        )),
    )
        .prop_map(|(top, stages, classes, sla)| {
            let mut text = String::new();
            let mut seen = Vec::new();
            for (k, v) in top {
                if !seen.contains(&k) {
                    seen.push(k);
                    text.push_str(&format!("{k} = {v}\n"));
                }
            }
            for (load, amount, duration, extra) in stages {
                text.push_str(&format!(
                    "[[stages]]\n{load} = {amount}\nduration = {duration}\n"
                ));
                if let Some((key, v)) = extra {
                    text.push_str(&format!("{key} = {v}\n"));
                }
            }
            for (class, weight, think) in classes {
                text.push_str(&format!(
                    "[[user_classes]]\nclass = {class}\nweight = {weight}\n"
                ));
                if let Some(t) = think {
                    text.push_str(&format!("think_time = {t}\n"));
                }
            }
            if let Some(limits) = sla {
                text.push_str("[sla]\n");
                let mut seen = Vec::new();
                for (k, v) in limits {
                    if !seen.contains(&k) {
                        seen.push(k);
                        text.push_str(&format!("{k} = {v}\n"));
                    }
                }
            }
            text
        })
}

/// What `skein run` does with an accepted scenario before it sends anything.
fn prepare_run(scenario: skein::scenario::Scenario) {
    let plan = skein::runner::RunPlan::new(scenario, "http://127.0.0.1:9".into(), "t".into());
    let _ = plan.run_time();
    let _ = skein::engine::closed::test_plan(&plan.launch.stages);
    let curve = skein::engine::arrivals::RateCurve::new(&plan.launch.stages, 0.0);
    assert!(curve.expected().is_finite() && curve.expected() >= 0.0);
    let _ = curve.time_of(curve.expected() / 2.0);
    assert_eq!(
        plan.launch.start_order.len(),
        skein::plan::total_users(&plan.launch.stages),
        "every started user has a class"
    );
}

fn assert_located(err: &ScenarioError, file_name: &str) {
    let text = err.to_string();
    match err {
        ScenarioError::At(_) => assert!(
            text.starts_with(&format!("{file_name}:")),
            "not located: {text}"
        ),
        other => panic!("a file error must be located, got: {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn any_scenario_file_is_valid_or_a_located_error(text in scenario_text()) {
        match file::parse("gen", "gen.toml", &text) {
            Ok(scenario) => {
                // Whatever --check accepts, run accepts.
                let scenario = scenario
                    .with_overrides(&skein::scenario::Overrides::default())
                    .unwrap_or_else(|e| panic!("--check accepted but run refused: {e}\n{text}"));
                prepare_run(scenario);
            }
            Err(e) => assert_located(&e, "gen.toml"),
        }
    }

    #[test]
    fn any_flags_give_a_run_or_a_usage_error(
        users in prop::option::of(prop_oneof![Just("0".to_string()), Just("1000000000000".to_string()), Just("18446744073709551615".to_string()), (1u64..500).prop_map(|n| n.to_string())]),
        rate in prop::option::of(prop_oneof![Just("0".to_string()), Just("-1".to_string()), Just("1e308".to_string()), Just("nan".to_string()), (1u32..100).prop_map(|n| n.to_string())]),
        run_time in prop::option::of(prop_oneof![Just("1e30".to_string()), Just("0".to_string()), Just("99999999999999999999h".to_string()), Just("744h".to_string()), Just("2s".to_string()), Just("-3".to_string())]),
        host in prop::option::of(prop_oneof![Just("ftp://x".to_string()), Just("http://".to_string()), Just("x".to_string()), Just("https://127.0.0.1:9".to_string()), Just("http://[::1]:9".to_string())]),
        arrivals in prop::option::of(prop_oneof![Just("0".to_string()), Just("-5".to_string()), Just("1e300".to_string()), Just("nan".to_string()), (1u32..5000).prop_map(|n| n.to_string())]),
        scenario in prop::sample::select(skein::scenario::SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
    ) {
        let mut args = vec!["skein".to_string(), "run".into(), "--scenario".into(), scenario.into()];
        for (flag, v) in [("-u", &users), ("-r", &rate), ("-t", &run_time), ("--host", &host), ("--rate", &arrivals)] {
            if let Some(v) = v {
                args.push(flag.into());
                args.push(v.clone());
            }
        }
        let Ok(cli) = Cli::try_parse_from(&args) else {
            // clap's own errors exit 2: a usage error.
            return Ok(());
        };
        let Command::Run(run) = cli.command else { panic!("parsed as another command") };
        let loaded = skein::scenario::load(scenario).unwrap();
        match loaded.with_overrides(&run.load.overrides()) {
            Ok(s) => prepare_run(s),
            Err(ScenarioError::Override(message)) => prop_assert!(!message.is_empty()),
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }
}

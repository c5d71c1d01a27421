//! Bad scenario files and arguments exit 2 with file:line:col and what to write instead.
use crate::support::*;

const GOOD_TAIL: &str = "[[user_classes]]\nclass = \"TrainingAPIUser\"\nweight = 1\n";

/// (file text, expected line:col, a phrase of the message, a phrase of the hint)
fn cases() -> Vec<(String, &'static str, &'static str, &'static str)> {
    vec![
        (format!("users = 5\nrun_time = \"5s\"\nspawn_rat = 2\n{GOOD_TAIL}"), "3:1", "unknown field `spawn_rat`", "spawn_rate"),
        (format!("users = \"many\"\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:9", "invalid type", ""),
        (format!("users = -5\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:9", "cannot be negative", "users = 20"),
        (format!("users = 5\nrun_time = \"0s\"\n{GOOD_TAIL}"), "2:12", "zero", "run_time = \"60s\""),
        ("users = 5\nrun_time = \"5s\"\n[[user_classes]]\nclass = \"TrainingUser\"\nweight = 1\n".to_string(), "4:9", "unknown user class `TrainingUser`", "TrainingAPIUser"),
        ("users = 5\nrun_time = \"5s\"\n[[user_classes]]\nclass = \"TrainingAPIUser\"\nweight = 0\n".to_string(), "", "weights sum to 0", "positive weight"),
        (format!("users = 5\nrun_time = \"5 minutes\"\n{GOOD_TAIL}"), "2:12", "not a duration", ""),
        (format!("users = 5\nrun_time = \"5s\"\n{GOOD_TAIL}[sla.requests.\"training.get_stats\"]\np95_ms = 100\n"), "", "which no user class of this scenario sends", "training.get_status"),
        // Found by generated input: each once panicked or was silently misread.
        (format!("users = 5\nrun_time = 1e30\n{GOOD_TAIL}"), "2:12", "longer than the longest duration", "shorter"),
        (format!("users = 5\nrun_time = \"99999999999999999999h\"\n{GOOD_TAIL}"), "2:12", "longer than the longest duration", "shorter"),
        (format!("[[stages]]\nusers = 1\nduration = \"10000000000000000000\"\n[[stages]]\nusers = 2\nduration = \"10000000000000000000\"\n{GOOD_TAIL}"), "3:12", "longer than the longest duration", "shorter"),
        (format!("[[stages]]\nusers = 1\nduration = \"744h\"\n[[stages]]\nusers = 2\nduration = \"744h\"\n{GOOD_TAIL}"), "1:1", "stages last longer", "shorten"),
        ("users = 5\nrun_time = \"5s\"\n[[user_classes]]\nclass = \"TrainingAPIUser\"\nweight = 4294967297\n".to_string(), "5:10", "weights are ratios", "weight = 3"),
        (format!("users = 1000000000000\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:9", "GiB of memory", "workers"),
        (format!("host = \"ftp://x\"\nusers = 5\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:8", "use http:// or https://", "--host"),
        (format!("users = 5\nrun_time = \"5s\"\n{GOOD_TAIL}[sla]\nlatency = \"wall\"\n"), "", "unknown latency `wall`", "service"),
        // The open model's keys.
        (format!("users = 5\nrate = 3\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:9", "both `users` and `rate`", "not both"),
        (format!("rate = -2\nrun_time = \"5s\"\n{GOOD_TAIL}"), "1:8", "not a usable arrival rate", "rate = 50"),
        (format!("rate = 5\nspawn_rate = 2\nrun_time = \"5s\"\n{GOOD_TAIL}"), "2:14", "`spawn_rate` does not apply to an open scenario", "remove it"),
        (format!("users = 5\narrival = \"poisson\"\nrun_time = \"5s\"\n{GOOD_TAIL}"), "2:11", "`arrival` does not apply to a closed scenario", "give `rate` instead"),
        (format!("rate = 5\nmax_in_flight = 0\nrun_time = \"5s\"\n{GOOD_TAIL}"), "2:17", "max_in_flight is 0", "max_in_flight = 10000"),
        (format!("rate = 5\narrival = \"bursty\"\nrun_time = \"5s\"\n{GOOD_TAIL}"), "2:11", "unknown arrival `bursty`", "poisson"),
        (format!("[[stages]]\nusers = 5\nduration = \"5s\"\n[[stages]]\nrate = 5\nduration = \"5s\"\n{GOOD_TAIL}"), "5:8", "gives `rate` but the first gives `users`", "every stage `users`"),
        (format!("[[stages]]\nrate = 5\nramp = \"10s\"\nduration = \"5s\"\n{GOOD_TAIL}"), "3:8", "ramp (10s) is longer than its stage (5s)", "at most the stage"),
        (format!("[[stages]]\nrate = 0\nduration = \"5s\"\n{GOOD_TAIL}"), "1:1", "rate of 0", "positive `rate`"),
    ]
}

#[test]
fn every_kind_of_bad_file_names_its_location_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (text, at, message, hint)) in cases().into_iter().enumerate() {
        let path = scenario_file(dir.path(), &format!("bad{i}"), &text);
        let err = skein::scenario::load(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        let location = format!("{}:{at}", path.display());
        if !at.is_empty() {
            assert!(
                err.contains(&location),
                "case {i}: expected {location} in:\n{err}"
            );
        } else {
            assert!(
                err.contains(&format!("{}:", path.display())),
                "case {i}: {err}"
            );
        }
        assert!(
            err.contains(message),
            "case {i}: expected `{message}` in:\n{err}"
        );
        assert!(
            err.contains(hint),
            "case {i}: expected hint `{hint}` in:\n{err}"
        );
    }
}

#[test]
fn the_binary_exits_2_on_a_bad_file_and_on_bad_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "neg",
        &format!("users = -1\nrun_time = \"5s\"\n{GOOD_TAIL}"),
    );
    let o = run(&[
        "run",
        "--scenario",
        path.to_str().unwrap(),
        "--host",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{}:1:9", path.display())),
        "{}",
        stderr(&o)
    );

    let o = run(&["run", "--scenario", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("gradual-ramp"),
        "lists the shipped ones: {}",
        stderr(&o)
    );

    let o = run(&["run", "--scenario", "light", "-u", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&["run", "--scenario", "light", "-t", "soon"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for (flags, says) in [
        (&["-t", "1e30"][..], "longest duration"),
        (&["-u", "1000000000000"][..], "GiB of memory"),
        (&["--host", "ftp://x"][..], "use http:// or https://"),
        (&["--token", "x"][..], "--target-token"),
        (&["--target-token", "a\nb", "-t", "1s"][..], "cannot carry"),
    ] {
        let mut args = vec!["run", "--scenario", "light"];
        args.extend_from_slice(flags);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{flags:?}: {}", stderr(&o));
    }
}

/// Numeric flags are judged before the target is: with a host that refuses connections, a
/// value out of range still exits 2 (usage), not 3 (target unreachable), and names the flag.
#[test]
fn every_numeric_flag_is_checked_before_the_target_is() {
    let unreachable = "http://127.0.0.1:9";
    for (flags, says) in [
        (&["capacity", "--max-rate", "0"][..], "--max-rate 0"),
        (&["capacity", "--max-rate", "-5"][..], "--max-rate -5"),
        (&["capacity", "--max-rate", "NaN"][..], "--max-rate NaN"),
        (
            &["capacity", "--model", "open", "--max-rate", "1e9"][..],
            "at most",
        ),
        (&["capacity", "--max-users", "0"][..], "--max-users 0"),
        (&["capacity", "--start", "-1"][..], "--start -1"),
        (&["capacity", "--step-time", "0s"][..], "--step-time"),
        (
            &["capacity", "--expect-workers", "0"][..],
            "--expect-workers",
        ),
        (
            &["capacity", "--resolution", "150%"][..],
            "between 0 and 100",
        ),
        (
            &["run", "--scenario", "light", "--spawn-rate", "0"][..],
            "--spawn-rate",
        ),
        (
            &["run", "--scenario", "open-steady", "--rate", "0"][..],
            "--rate 0",
        ),
        (&["manager", "--expect-workers", "0"][..], "expect-workers"),
    ] {
        let mut args = flags.to_vec();
        args.extend(["--host", unreachable]);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{flags:?}: {}", stderr(&o));
    }
}

#[test]
fn skein_scenarios_lists_every_shipped_scenario() {
    let o = run(&["scenarios"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [
        "light",
        "moderate",
        "heavy",
        "stress",
        "gradual-ramp",
        "spike",
        "sustained",
        "orchestration",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
}

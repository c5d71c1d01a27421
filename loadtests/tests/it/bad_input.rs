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

/// `skein ARGS`, killed after 30 s: a value that is not refused would start a run (or a wait
/// for workers), and the test must still end.
fn run_with_timeout(args: &[&str]) -> std::process::Output {
    let mut child = skein()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run skein");
    let began = std::time::Instant::now();
    while child.try_wait().unwrap().is_none()
        && began.elapsed() < std::time::Duration::from_secs(30)
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().unwrap()
}

/// Numeric flags are judged as they are parsed, before a scenario is read or the target
/// reached: with a host that refuses connections, a value out of range still exits 2
/// (usage), not 3 (target unreachable), and the message names the flag, the value and what
/// to give instead. Every numeric flag of every command is here, with zero, a negative and
/// NaN where they mean nothing.
#[test]
fn every_numeric_flag_is_checked_before_the_target_is() {
    let unreachable = "http://127.0.0.1:9";
    let rate = "arrivals per second above 0";
    let users = "a user count from 1";
    let workers = "a worker count of at least 1";
    let duration = "positive duration";
    let load = "a load above 0";
    let percent = "a percentage of 0 or more";
    let mut cases: Vec<(Vec<String>, &str)> = Vec::new();
    let mut each = |command: &[&str], flag: &str, values: &[&str], says| {
        for value in values {
            let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
            args.extend([flag.to_string(), value.to_string()]);
            cases.push((args, says));
        }
    };
    let capacity = ["capacity", "--host", unreachable];
    each(
        &capacity,
        "--max-rate",
        &["0", "-5", "NaN", "1e9", "fast"],
        rate,
    );
    each(&capacity, "--max-users", &["0", "-5", "2.5", "NaN"], users);
    each(
        &capacity,
        "--max-users",
        &["1000000000000"],
        "GiB of memory",
    );
    each(&capacity, "--start", &["0", "-1", "NaN", "inf"], load);
    each(
        &capacity,
        "--resolution",
        &["0", "150%", "-5", "NaN"],
        "between 0 and 100",
    );
    each(&capacity, "--step-time", &["0s", "0"], duration);
    each(&capacity, "--step-time", &["-5", "soon"], "not a duration");
    each(&capacity, "--warmup", &["-1", "NaN"], "not a duration");
    each(&capacity, "--budget", &["0s"], duration);
    each(&capacity, "--expect-workers", &["0", "-2", "1.5"], workers);
    each(&capacity, "--wait-timeout", &["0s"], duration);
    let run = ["run", "--scenario", "light", "--host", unreachable];
    each(&run, "--users", &["0", "-5", "NaN"], users);
    each(
        &run,
        "--spawn-rate",
        &["0", "-1", "NaN", "inf"],
        "users started per second",
    );
    each(&run, "--rate", &["0", "-5", "NaN", "2e6"], rate);
    let run_web = [&run[..], &["--web", "127.0.0.1:0"]].concat();
    each(
        &run_web,
        "--web-max-users",
        &["0", "-5", "2.5", "NaN"],
        users,
    );
    // Below the users the scenario itself reaches.
    each(
        &[&run_web[..], &["-u", "5"]].concat(),
        "--web-max-users",
        &["4"],
        "below the 5 users the scenario itself reaches",
    );
    each(&run, "--run-time", &["0s", "0"], duration);
    each(
        &run,
        "--live-every",
        &["0", "-1", "0.5"],
        "whole seconds, at least 1",
    );
    each(&["demo"], "--run-time", &["0s"], duration);
    each(
        &["manager", "--token", "t"],
        "--expect-workers",
        &["0", "-1", "NaN"],
        workers,
    );
    let manager_of_one = [
        "manager",
        "--token",
        "t",
        "--host",
        unreachable,
        "--expect-workers",
        "1",
    ];
    each(&manager_of_one, "--wait-timeout", &["0s"], duration);
    each(&manager_of_one, "--users", &["0"], users);
    each(&manager_of_one, "--rate", &["-5"], rate);
    each(&manager_of_one, "--live-every", &["0"], "whole seconds");
    let worker = ["worker", "--manager", unreachable, "--token", "t"];
    each(&worker, "--connect-timeout", &["0s"], duration);
    let compare = ["compare", "--baseline", "/nonexistent/a", "/nonexistent/b"];
    for flag in [
        "--threshold",
        "--p50",
        "--p95",
        "--p99",
        "--rps",
        "--error-rate",
    ] {
        each(&compare, flag, &["-1", "NaN", "inf"], percent);
    }
    each(
        &compare,
        "--noise-z",
        &["-2", "NaN"],
        "standard errors, 0 or more",
    );
    each(
        &compare,
        "--min-requests",
        &["-1", "many"],
        "--min-requests",
    );
    for (args, says) in cases {
        let (flag, value) = (&args[args.len() - 2], &args[args.len() - 1]);
        let o = run_with_timeout(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag.as_str()),
            "{args:?} names the flag: {err}"
        );
        assert!(
            err.contains(value.as_str()),
            "{args:?} names the value: {err}"
        );
        assert!(err.contains(says), "{args:?} says `{says}`: {err}");
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

//! `skein capacity --min-goodput-ratio` against target-server's LLM model whose decode slows
//! with the streams in flight, so goodput falls as the arrival rate grows.
//!
//! The truth: 10 output tokens at `llm.tpot` 4 ms × (1 + 0.1 × (g − 1)), g the generations in
//! flight, and no time to first token. In steady state g = λ × the answer's duration (Little),
//! so g = 0.036 λ / (1 − 0.004 λ) and TPOT reaches the 8 ms objective at g = 11, λ ≈ 137
//! arrivals/s; past it most answers miss it (at 150/s TPOT ≈ 9 ms).
use crate::llm_requests::llm_server;
use crate::support::{results, scenario_file, skein, stderr, stdout};

#[test]
fn capacity_finds_the_highest_rate_whose_goodput_objective_holds() {
    let server = llm_server(|c| {
        c.latency_overrides = vec![
            "llm.ttft=0+0".parse().unwrap(),
            "llm.tpot=4+0".parse().unwrap(),
        ];
        c.llm.llm_prefill_us = 0;
        c.llm.llm_output_tokens = "10+0".parse().unwrap();
        c.llm.llm_slots = 1000;
        c.llm.llm_decode_slowdown = 0.1;
    });
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "llm-cap",
        "rate = 10\nrun_time = \"1m\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\n\
         [[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\n\
         model = \"skein-reference-llm\"\nprompt = \"hello\"\nmax_tokens = 10\ntpot_ms = 8\n\
         [sla]\np95_ms = 60000\n",
    );
    let out = dir.path().join("out");
    let o = skein()
        .args([
            "capacity",
            "--scenario",
            path.to_str().unwrap(),
            "--host",
            &server.url,
        ])
        .args(["--out", out.to_str().unwrap()])
        .args([
            "--start",
            "40",
            "--max-rate",
            "320",
            "--step-time",
            "2s",
            "--warmup",
            "1s",
        ])
        .args([
            "--resolution",
            "20%",
            "--budget",
            "90s",
            "--min-goodput-ratio",
            "90%",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}{}", stderr(&o), stdout(&o));
    assert!(stderr(&o).contains("goodput "), "{}", stderr(&o));
    let r = results(&out);
    let search = r.capacity_search.expect("a search");
    assert_eq!(search.outcome, reports::SearchOutcome::Found, "{search:?}");
    let held = &search.steps[search.max_sustainable.unwrap()];
    let broke = &search.steps[search.first_break.unwrap()];
    let goodput = |s: &reports::SearchStep| s.goodput.expect("every step judged goodput").ratio;
    // The boundary is ~137/s; a busy machine only adds to the measured TPOT (lower).
    assert!(held.offered >= 60.0 && held.offered <= 160.0, "{held:?}");
    assert!(
        broke.offered > held.offered && broke.offered <= 250.0,
        "{broke:?}"
    );
    assert!(goodput(held) >= 0.9, "{held:?}");
    assert!(goodput(broke) < 0.9, "{broke:?}");
    assert!(
        broke
            .broken_by
            .iter()
            .any(|b| b.starts_with("min_goodput_ratio")),
        "{broke:?}"
    );
    // Goodput falls with the rate: the lowest step's share is above the highest's.
    let by_rate = |f: fn(f64, f64) -> bool| {
        search
            .steps
            .iter()
            .reduce(|a, b| if f(a.offered, b.offered) { a } else { b })
            .unwrap()
    };
    assert!(goodput(by_rate(|a, b| a < b)) > goodput(by_rate(|a, b| a > b)));
    let csv = std::fs::read_to_string(out.join("skein_capacity.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .trim_end()
            .ends_with("Goodput %,Goodput/s"),
        "{csv}"
    );
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("goodput "), "{md}");
}

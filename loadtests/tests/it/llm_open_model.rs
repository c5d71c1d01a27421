//! LLM requests in the open model: time to first token is recorded from the actual send and
//! from the arrival's intended instant, as latency is, and the second is what TTFT
//! thresholds judge by default.
use std::time::Duration;

use crate::llm_requests::{chat, llm_server};
use crate::support::{results, run_open_late, run_scenario, scenario_file, stderr};

fn open_llm_scenario(
    dir: &std::path::Path,
    rate: u32,
    seconds: u32,
    sla: &str,
) -> std::path::PathBuf {
    let text = format!(
        "rate = {rate}\nrun_time = \"{seconds}s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\n{}\n[sla]\n{sla}\n",
        chat("")
    );
    scenario_file(dir, "llm-open", &text)
}

/// Arrivals due before the executor started go out late, at once: their TTFT from the
/// intended send is their TTFT plus exactly how late they were sent.
#[test]
fn intended_ttft_is_ttft_plus_the_measured_lateness() {
    let server = llm_server(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let scenario = skein::scenario::load(
        open_llm_scenario(dir.path(), 20, 1, "p95_ms = 30000")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    // The first 8 of 20 arrivals were due up to 400 ms before the executor started.
    let recorder = run_open_late(&scenario, &server.url, 20.0, Duration::from_millis(400));
    let (names, failures, _) = recorder.totals();
    assert!(failures.is_empty(), "{failures:?}");
    let chat = names.iter().find(|n| n.name == "chat").expect("chat");
    let t = &chat.tokens;
    assert_eq!((chat.requests, t.ttft.count()), (20, 20));
    assert_eq!(
        t.intended_ttft.count(),
        20,
        "every open-model answer has one"
    );
    // Never below TTFT from the send, at any quantile.
    assert_eq!(t.intended_ttft.first_quantile_below(&t.ttft), None);
    // By the lateness the recorder measured: the means differ by the mean send lag (HDR
    // keeps 3 significant digits: 0.1 % of ~700 ms each way, plus rounding).
    let lag = recorder.send_lag();
    let gained = t.intended_ttft.mean() - t.ttft.mean();
    assert!(
        lag.max() >= 350.0,
        "the earliest arrival was sent late: {} ms",
        lag.max()
    );
    assert!(
        (gained - lag.mean()).abs() <= 1.5,
        "intended − sent TTFT {gained:.2} ms, mean lateness {:.2} ms",
        lag.mean()
    );
    // The latest ones show it.
    assert!(t.intended_ttft.max() >= t.ttft.max() + 300.0);
}

/// An ordinary open-model run carries intended TTFT to every output and judges
/// `ttft_p95_ms` on it, saying so.
#[test]
fn an_open_model_run_reports_and_judges_intended_ttft() {
    let server = llm_server(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let file = open_llm_scenario(dir.path(), 10, 2, "p95_ms = 30000\nttft_p95_ms = 5000");
    let out = dir.path().join("out");
    let o = run_scenario(&file, &server.url, &out, &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}{stdout}", stderr(&o));
    let r = results(&out);
    let all = r.overall().tokens;
    assert_eq!(all.intended_ttft.count(), all.ttft.count());
    assert!(all.ttft.count() >= 15, "{}", all.ttft.count());
    let v = r
        .slas
        .iter()
        .find(|v| v.threshold.metric == reports::SlaMetric::TtftP95Ms)
        .unwrap();
    assert_eq!(v.judged_on, Some(reports::LatencyBasis::Intended));
    assert_eq!(
        v.describe(),
        "ttft_p95_ms < 5000.0 ms (intended-time, all requests)"
    );
    let csv = std::fs::read_to_string(out.join("skein_llm_stats.csv")).unwrap();
    let (head, rows) = csv.split_once('\n').unwrap();
    assert!(
        head.ends_with("Intended TTFT 50%,Intended TTFT 95%,Intended TTFT 99%"),
        "{head}"
    );
    for row in rows.lines() {
        let intended: Vec<&str> = row.trim_end().rsplitn(4, ',').take(3).collect();
        assert!(
            intended.iter().all(|c| c.parse::<f64>().unwrap() > 0.0),
            "{csv}"
        );
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("TTFT p95 ms from the intended send"));
    assert!(html.contains("p95 TTFT from the intended send"));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("Intended TTFT p95 ms"), "{md}");
    assert!(
        stderr(&o).contains("TTFT from the intended send")
            || String::from_utf8_lossy(&o.stdout).contains("TTFT from the intended send")
    );
}

/// The live outputs of an open-model LLM run carry intended TTFT too: after the run, the
/// `/metrics` histogram counts every answer's and its sum is never below TTFT's from the
/// send; the last `--jsonl` line's `intended_ttft_p95_ms` is the result's p95.
#[test]
fn an_open_model_run_serves_intended_ttft_live() {
    use std::sync::Arc;

    use crate::live_metrics::{by_name, last_jsonl_line_of, live_outputs, scrape};

    let server = llm_server(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let file = open_llm_scenario(dir.path(), 10, 2, "p95_ms = 30000");
    let scenario = skein::scenario::load(file.to_str().unwrap()).unwrap();
    let jsonl = dir.path().join("live.jsonl");
    let (live, addr) = live_outputs(&jsonl);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (result, after) = runtime.block_on(async {
        let plan = skein::runner::RunPlan::new(
            scenario,
            server.url.clone(),
            target_server::DEFAULT_TOKEN.into(),
        );
        let recorder = Arc::new(skein::recorder::Recorder::new());
        live.attach(recorder.clone(), &plan.scenario);
        let stop = skein::engine::StopHandle::default();
        let result = skein::runner::run_plan(&plan, recorder, &stop)
            .await
            .unwrap();
        live.finish().unwrap();
        (result, scrape(&reqwest::Client::new(), addr).await)
    });
    let chat = result.requests.iter().find(|r| r.name == "chat").unwrap();
    let intended = &chat.tokens.intended_ttft;
    assert!(intended.count() >= 15, "{}", intended.count());
    let count = by_name(&after, "skein_intended_time_to_first_token_seconds_count");
    assert_eq!(count["chat"], intended.count() as f64);
    let sum = |metric: &str| by_name(&after, metric)["chat"];
    let (intended_sum, ttft_sum) = (
        sum("skein_intended_time_to_first_token_seconds_sum"),
        sum("skein_time_to_first_token_seconds_sum"),
    );
    assert!(
        intended_sum >= ttft_sum && ttft_sum > 0.0,
        "intended {intended_sum} s, from the send {ttft_sum} s"
    );

    let line = last_jsonl_line_of(&jsonl, "chat");
    let p95 = line["intended_ttft_p95_ms"]
        .as_f64()
        .expect("intended TTFT p95");
    assert!(
        (p95 - intended.value_at_quantile(0.95)).abs() < 0.001,
        "{line}"
    );
    assert!(p95 >= line["ttft_p95_ms"].as_f64().unwrap(), "{line}");
}

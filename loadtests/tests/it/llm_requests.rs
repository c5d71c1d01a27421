//! Declared LLM requests against target-server's calibrated LLM endpoints, whose truth is
//! known: time to first token = `llm.ttft` + prefill × input tokens, one token every
//! `llm.tpot`, exact usage (docs/llm-server.md). Skein's figures are compared with it.
use reports::{RequestStats, RunResult};
use target_server::ServerConfig;

use crate::support::{results, run_scenario, scenario_file, stderr, Server};

/// Long enough that 2 % (6 ms) is above the jitter of a busy 2-core machine at p95.
const TTFT_MS: f64 = 300.0;
const TPOT_MS: f64 = 5.0;
const PREFILL_US: u64 = 100;
const OUTPUT_TOKENS: u64 = 32;
/// The prompt: 20 whitespace-separated words, the server's 20 input tokens.
const PROMPT: &str = "one two three four five six seven eight nine ten one two three four five six seven eight nine ten";

pub(crate) fn llm_server(adjust: impl FnOnce(&mut ServerConfig)) -> Server {
    Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            format!("llm.ttft={TTFT_MS}+0").parse().unwrap(),
            format!("llm.tpot={TPOT_MS}+0").parse().unwrap(),
        ];
        c.llm.llm_prefill_us = PREFILL_US;
        c.llm.llm_output_tokens = format!("{OUTPUT_TOKENS}+0").parse().unwrap();
        adjust(c);
    })
}

/// One LLM class of `users` for `seconds`; `request` is the body of its one request table.
fn run_llm(
    url: &str,
    users: u32,
    seconds: u32,
    request: &str,
) -> (std::process::Output, RunResult) {
    let text = format!(
        "users = {users}\nspawn_rate = {users}\nrun_time = \"{seconds}s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n{request}\n[sla]\np95_ms = 30000\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "llm", &text);
    let out = dir.path().join("out");
    let o = run_scenario(&file, url, &out, &[]);
    let r = results(&out);
    (o, r)
}

pub(crate) fn chat(extra_keys: &str) -> String {
    format!(
        "[[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\nmodel = \"skein-reference-llm\"\nprompt = \"{PROMPT}\"\nmax_tokens = 64\n{extra_keys}\n"
    )
}

fn named<'a>(r: &'a RunResult, name: &str) -> &'a RequestStats {
    r.requests
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// `measured` within max(2 %, 0.5 ms) of `truth` (ms).
fn close(measured: f64, truth: f64) -> bool {
    (measured - truth).abs() <= (truth * 0.02).max(0.5)
}

#[test]
fn ttft_tpot_and_tokens_match_the_servers_truth() {
    let server = llm_server(|_| {});
    // What a request costs on its way (client, loopback, the server's own parsing, the
    // machine's scheduling) is not in the server's model: measured at the same time, under the
    // same load, as the TTFT of a server modelled with no time to first token.
    let zero = llm_server(|c| {
        c.latency_overrides = vec![format!("llm.tpot={TPOT_MS}+0").parse().unwrap()];
        c.llm.llm_prefill_us = 0;
    });
    // Four users, 16 decode slots, no slowdown: no queueing, so each answer's truth is the
    // configured model; ~40 answers make p95 more than the slowest one.
    let ((o, r), (_, r0)) = std::thread::scope(|scope| {
        let main = scope.spawn(|| run_llm(&server.url, 4, 5, &chat("")));
        let cost = scope.spawn(|| run_llm(&zero.url, 4, 5, &chat("")));
        (main.join().unwrap(), cost.join().unwrap())
    });
    assert!(o.status.success(), "{}", stderr(&o));
    let s = named(&r, "chat");
    assert_eq!(s.failures, 0, "{:?}", r.failures);
    let t = &s.tokens;
    assert!(t.answers >= 30, "{} answers", t.answers);
    assert_eq!(t.answers, s.requests);
    assert!(t.exact(), "usage was sent");
    assert_eq!(t.output_tokens, OUTPUT_TOKENS * t.answers);
    assert_eq!(t.input_tokens, 20 * t.answers);
    let cost = &named(&r0, "chat").tokens.ttft;
    assert!(
        cost.value_at_quantile(0.5) < 5.0,
        "a request's own cost {} ms",
        cost.value_at_quantile(0.5)
    );
    let ttft = TTFT_MS + 20.0 * PREFILL_US as f64 / 1000.0;
    for q in [0.5, 0.95] {
        let (m_ttft, m_tpot) = (t.ttft.value_at_quantile(q), t.tpot.value_at_quantile(q));
        let overhead = cost.value_at_quantile(q);
        assert!(
            close(m_ttft - overhead, ttft),
            "TTFT p{q}: {m_ttft} ms ({overhead} ms of it the request's own cost) against the truth {ttft}"
        );
        assert!(
            close(m_tpot, TPOT_MS),
            "TPOT p{q}: {m_tpot} ms against the truth {TPOT_MS}"
        );
    }
    // One token per chunk: 31 gaps per answer, each one token's time.
    assert_eq!(t.itl.count(), (OUTPUT_TOKENS - 1) * t.answers);
    assert!(close(t.itl.value_at_quantile(0.5), TPOT_MS));
    // The content chunks are the streaming figures too; the role-only chunk is not one.
    assert_eq!(s.stream.chunks, OUTPUT_TOKENS * s.stream.streams);
}

#[test]
fn several_tokens_per_chunk_are_timed_as_documented() {
    // 32 tokens in chunks of 4: 8 chunks, each 4 × 5 ms after the one before.
    let server = llm_server(|c| c.llm.llm_tokens_per_chunk = "4+0".parse().unwrap());
    let (o, r) = run_llm(&server.url, 1, 2, &chat(""));
    assert!(o.status.success(), "{}", stderr(&o));
    let t = &named(&r, "chat").tokens;
    assert_eq!(
        t.itl.count(),
        7 * t.answers,
        "one ITL sample per gap between chunks"
    );
    assert!(close(t.itl.value_at_quantile(0.5), 4.0 * TPOT_MS));
    // TPOT spreads the 7 gaps over the 31 tokens after the first chunk's first token.
    let tpot = 7.0 * 4.0 * TPOT_MS / 31.0;
    assert!(
        close(t.tpot.value_at_quantile(0.5), tpot),
        "{}",
        t.tpot.value_at_quantile(0.5)
    );
    assert_eq!(t.output_tokens, OUTPUT_TOKENS * t.answers);
}

#[test]
fn goodput_counts_the_answers_that_met_their_objectives() {
    let server = llm_server(|_| {});
    // `met` holds for every answer (TTFT 302 ms < 500), `missed` for none (TTFT > 200 ms).
    let requests = format!(
        "{}{}",
        chat("ttft_ms = 500\ntpot_ms = 10\nweight = 1")
            .replace("name = \"chat\"", "name = \"met\""),
        chat("ttft_ms = 200\nweight = 1").replace("name = \"chat\"", "name = \"missed\"")
    );
    let (o, r) = run_llm(&server.url, 1, 3, &requests);
    assert!(o.status.success(), "{}", stderr(&o));
    let (met, missed) = (&named(&r, "met").tokens, &named(&r, "missed").tokens);
    assert_eq!((met.judged, met.good), (met.answers, met.answers));
    assert_eq!((missed.judged, missed.good), (missed.answers, 0));
    let all = r.overall().tokens;
    assert_eq!(all.good, met.answers);
    let share = met.answers as f64 / (met.answers + missed.answers) as f64;
    assert!((all.goodput_ratio() - share).abs() < 1e-12);
}

#[test]
fn every_api_is_read_and_every_fault_named() {
    // Short answers, so that every kind of request is sent in the run's 2 s.
    let server = llm_server(|c| {
        c.llm.llm_output_tokens = "8+0".parse().unwrap();
        c.latency_overrides = vec![
            "llm.ttft=10+0".parse().unwrap(),
            "llm.tpot=2+0".parse().unwrap(),
        ];
    });
    let request = |name: &str, keys: &str| {
        format!("[[user_classes.requests]]\nname = \"{name}\"\nmodel = \"skein-reference-llm\"\nmax_tokens = 8\n{keys}\n")
    };
    let all = [
        request("completions", &format!("protocol = \"openai-completions\"\nprompt = \"{PROMPT}\"")),
        request(
            "messages",
            "protocol = \"anthropic-messages\"\nmessages = '[{\"role\": \"user\", \"content\": \"a b c\"}]'",
        ),
        request(
            "shaped",
            "protocol = \"openai-chat\"\nprompt = \"{{words(25, 25)}}\"",
        ),
        request("unstreamed", &format!("protocol = \"openai-chat\"\nprompt = \"{PROMPT}\"\nstream = false")),
        request("no-usage", "protocol = \"openai-chat\"\nprompt = \"x y\"\nheaders = { \"x-llm-fault\" = \"no-usage\" }"),
        request("error", "protocol = \"anthropic-messages\"\nprompt = \"x\"\nheaders = { \"x-llm-fault\" = \"error\" }"),
        request("cut", "protocol = \"openai-chat\"\nprompt = \"x\"\nheaders = { \"x-llm-fault\" = \"cut\" }"),
        request("malformed", "protocol = \"openai-chat\"\nprompt = \"x\"\nheaders = { \"x-llm-fault\" = \"malformed\" }"),
        request("not-a-stream", "protocol = \"anthropic-messages\"\nprompt = \"x\"\nextra = '{\"stream\": false}'"),
    ]
    .concat();
    let (_, r) = run_llm(&server.url, 1, 2, &all);
    for name in [
        "completions",
        "messages",
        "unstreamed",
        "no-usage",
        "shaped",
    ] {
        let s = named(&r, name);
        assert_eq!(s.failures, 0, "{name}: {:?}", r.failures);
        assert_eq!(s.tokens.output_tokens, 8 * s.tokens.answers, "{name}");
    }
    assert_eq!(
        named(&r, "messages").tokens.input_tokens,
        3 * named(&r, "messages").tokens.answers
    );
    // `words(25, 25)`: 25 words, the reference server's 25 input tokens.
    let shaped = &named(&r, "shaped").tokens;
    assert_eq!(shaped.input_tokens, 25 * shaped.answers);
    assert!(
        named(&r, "unstreamed").tokens.ttft.is_empty(),
        "no TTFT without a stream"
    );
    let estimated = &named(&r, "no-usage").tokens;
    assert_eq!(
        estimated.estimated, estimated.answers,
        "counted words, labelled an estimate"
    );
    let error_of = |name: &str| {
        r.failures
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.error.clone())
            .unwrap_or_else(|| panic!("{name} did not fail: {:?}", r.failures))
    };
    assert!(
        error_of("error").starts_with("LLM error ("),
        "{}",
        error_of("error")
    );
    let cut = error_of("cut");
    assert!(
        cut.starts_with("reading the stream failed") || cut.contains("cut before [DONE]"),
        "{cut}"
    );
    assert!(error_of("malformed").starts_with("malformed JSON in an LLM stream chunk"));
    assert_eq!(
        error_of("not-a-stream"),
        "expected a text/event-stream answer to a streamed LLM request"
    );
}

#[test]
fn the_shipped_llm_scenario_runs_against_the_embedded_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let jsonl = dir.path().join("live.jsonl");
    let o = crate::support::run_shipped(
        "llm-chat",
        4,
        "4s",
        &out,
        &["--jsonl", jsonl.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    let chat = crate::live_metrics::last_jsonl_line_of(&jsonl, "chat");
    assert!(chat["output_tokens_total"].as_u64().unwrap() > 0, "{chat}");
    assert!(chat["ttft_p95_ms"].as_f64().unwrap() > 0.0, "{chat}");
    for name in ["chat", "summary"] {
        assert!(
            !named(&r, name).tokens.is_empty(),
            "{name} measured no tokens"
        );
    }
    let csv = std::fs::read_to_string(out.join("skein_llm_stats.csv")).unwrap();
    assert!(csv.starts_with("Type,Name,Request Count,Input Tokens,Output Tokens,Output Tokens/s,TTFT 50%,TTFT 95%,TTFT 99%,TPOT 50%,TPOT 95%,TPOT 99%,ITL 50%,ITL 99%,Goodput/s"), "{csv}");
    assert!(
        crate::support::stdout(&o).contains("LLM (time to first token"),
        "{}",
        crate::support::stdout(&o)
    );
}

/// An OpenAI-style stream served by a Python HTTP stack Skein did not write (Starlette's
/// `StreamingResponse` on uvicorn/h11, chunked; tests/fixtures/openai_stream_server.py): the
/// tokens, usage and timing Skein's own connections and streamed-body reader read from it.
#[test]
fn a_python_servers_token_streams_are_read_whole_and_timed() {
    let python = crate::python_server::PythonServer::start(
        "openai_stream_server.py",
        &["--ttft-ms", "40", "--gap-ms", "5"],
        "/v1/models",
    );
    let request = |name: &str, keys: &str| {
        format!("[[user_classes.requests]]\nname = \"{name}\"\nprotocol = \"openai-chat\"\nmodel = \"python-stream-model\"\nprompt = \"{PROMPT}\"\n{keys}\n")
    };
    let requests = [
        request("streamed", "max_tokens = 16"),
        request("unstreamed", "max_tokens = 8\nstream = false"),
    ]
    .concat();
    let (o, r) = run_llm(&python.url(), 2, 3, &requests);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    let streamed = &named(&r, "streamed").tokens;
    assert!(streamed.answers >= 4, "{}", streamed.answers);
    assert_eq!(streamed.output_tokens, 16 * streamed.answers);
    assert_eq!(streamed.input_tokens, 20 * streamed.answers);
    assert_eq!(streamed.estimated, 0, "usage came in the stream");
    // One token per chunk: 15 gaps per answer; the role-only first chunk is not a token.
    assert_eq!(streamed.itl.count(), 15 * streamed.answers);
    let (ttft, tpot) = (
        streamed.ttft.value_at_quantile(0.5),
        streamed.tpot.value_at_quantile(0.5),
    );
    // asyncio's sleeps come late (a few ms on a busy machine), not early; the tokens are
    // paced from the first, so lateness only adds.
    assert!(
        (40.0..100.0).contains(&ttft),
        "TTFT p50 {ttft} ms against 40"
    );
    assert!((4.8..10.0).contains(&tpot), "TPOT p50 {tpot} ms against 5");
    let unstreamed = &named(&r, "unstreamed").tokens;
    assert!(unstreamed.answers > 0);
    assert_eq!(unstreamed.output_tokens, 8 * unstreamed.answers);
    assert!(unstreamed.ttft.is_empty(), "no TTFT without a stream");
}

//! Token counts from `--tokenizer` and token-shaped load (`input_tokens`, `output_tokens`,
//! `prefix_tokens`, `seed`) against target-server's LLM endpoints, whose usage is exact: one
//! input token per whitespace-separated word, exactly `max_tokens` output with `ignore_eos`.
use std::path::{Path, PathBuf};

use reports::{RequestStats, RunResult};
use skein::users::llm::shape::Length;
use skein::users::llm::TokenShape;
use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::Whitespace;
use tokenizers::Tokenizer;

use crate::support::{results, run_scenario, scenario_file, stderr, Server};

/// Words the test tokenizer knows; the rest are `[UNK]`, one token each all the same.
const WORDS: [&str; 8] = [
    "hello", "world", "plan", "the", "rollout", "for", "team", "now",
];

/// A real tokenizer.json, made and saved by the `tokenizers` crate: a word-level vocabulary
/// (the test words, `tok1`..`tok400` that target-server answers with) behind the `Whitespace`
/// pre-tokenizer, which splits punctuation from words ("world!" is two tokens), so its counts
/// differ from whitespace-separated words.
fn tokenizer_file(dir: &Path) -> PathBuf {
    let mut vocab: Vec<(String, u32)> = vec![("[UNK]".into(), 0)];
    let words = WORDS
        .iter()
        .map(|w| w.to_string())
        .chain((1..=400).map(|i| format!("tok{i}")))
        .chain([",", "!", "."].map(String::from));
    for w in words {
        let id = vocab.len() as u32;
        vocab.push((w, id));
    }
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token("[UNK]".into())
        .build()
        .unwrap();
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(Whitespace {}));
    let path = dir.join("tokenizer.json");
    tokenizer.save(&path, false).unwrap();
    path
}

pub(crate) fn llm_server() -> Server {
    Server::start(|c| {
        c.no_latency = true;
        c.latency_overrides = vec![
            "llm.ttft=1+0".parse().unwrap(),
            "llm.tpot=1+0".parse().unwrap(),
        ];
    })
}

/// A scenario of one user, no pause, for `seconds`, one LLM request `request` (its keys
/// after the name).
fn one_user(seconds: u32, request: &str) -> String {
    format!(
        "users = 1\nspawn_rate = 1\nrun_time = \"{seconds}s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n[[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\nmodel = \"skein-reference-llm\"\n{request}\n"
    )
}

/// Runs [`one_user`] against `url` with `extra` flags.
fn run_one(
    url: &str,
    seconds: u32,
    request: &str,
    extra: &[&str],
) -> (std::process::Output, RunResult) {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "llm", &one_user(seconds, request));
    let out = dir.path().join("out");
    let o = run_scenario(&file, url, &out, extra);
    assert!(out.join("results.json").exists(), "{}", stderr(&o));
    let r = results(&out);
    (o, r)
}

fn chat(r: &RunResult) -> &RequestStats {
    r.requests.iter().find(|s| s.name == "chat").expect("chat")
}

fn csv_row(dir_of_run: &Path) -> String {
    std::fs::read_to_string(dir_of_run.join("skein_llm_stats.csv")).unwrap()
}

#[test]
fn a_tokenizer_counts_exactly_where_the_server_sends_no_usage() {
    let server = llm_server();
    let dir = tempfile::tempdir().unwrap();
    let path = tokenizer_file(dir.path());
    let tokenizer = Tokenizer::from_file(&path).unwrap();
    let prompt = "hello, world! plan the rollout for the team now.";
    let expected_in = tokenizer.encode(prompt, false).unwrap().len() as u64;
    assert_eq!(
        expected_in, 12,
        "punctuation is its own token: not the 9 words"
    );
    // No usage: the body's `stream_options` says so (extra is merged last).
    let request = format!(
        "prompt = \"{prompt}\"\nmax_tokens = 24\nextra = '{{\"ignore_eos\": true, \"stream_options\": {{\"include_usage\": false}}}}'"
    );
    let out = dir.path().join("out");
    let text = one_user(2, &request);
    let file = scenario_file(dir.path(), "llm", &text);
    let tok = path.to_str().unwrap();
    let o = run_scenario(&file, &server.url, &out, &["--tokenizer", tok]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    let t = &chat(&r).tokens;
    assert!(t.answers >= 5, "{}", t.answers);
    assert_eq!((t.tokenized, t.estimated), (t.answers, 0));
    assert_eq!(t.input_tokens, t.answers * expected_in);
    assert_eq!(
        t.output_tokens,
        t.answers * 24,
        "tok1 .. tok24 are one token each"
    );
    let csv = csv_row(&out);
    assert!(csv.lines().nth(1).unwrap().contains(",tokenizer,"), "{csv}");
    let console = crate::support::stdout(&o);
    assert!(
        console.contains("chat token counts: tokenizer"),
        "{console}"
    );

    // With usage too, the tokenizer's counts are kept beside the server's.
    let request =
        format!("prompt = \"{prompt}\"\nmax_tokens = 24\nextra = '{{\"ignore_eos\": true}}'");
    let (o, r) = run_one(&server.url, 2, &request, &["--tokenizer", tok]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &chat(&r).tokens;
    assert_eq!((t.tokenized, t.checked), (0, t.answers));
    assert_eq!(t.input_tokens, t.answers * 9, "the server counts words");
    assert_eq!(t.checked_input_tokens, t.answers * expected_in);
    assert_eq!(t.checked_output_tokens, t.output_tokens);
    let console = crate::support::stdout(&o);
    assert!(
        console.contains(&format!(
            "chat token counts: usage; tokenizer {} in",
            t.checked_input_tokens
        )),
        "{console}"
    );
}

#[test]
fn a_file_that_is_not_a_tokenizer_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken-tokenizer.json");
    std::fs::write(&bad, r#"{"model": {"type": "WordLevel""#).unwrap();
    let text = "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\n[[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\nmodel = \"m\"\nprompt = \"hi\"\n";
    let file = scenario_file(dir.path(), "llm", text);
    let out = dir.path().join("out");
    for path in [bad.clone(), dir.path().join("missing.json")] {
        let o = run_scenario(
            &file,
            "http://127.0.0.1:9",
            &out,
            &["--tokenizer", path.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("--tokenizer {}", path.display())),
            "{e}"
        );
    }
    assert!(stderr(&run_scenario(
        &file,
        "http://127.0.0.1:9",
        &out,
        &["--tokenizer", bad.to_str().unwrap()]
    ))
    .contains("not a Hugging Face tokenizer.json"));
}

#[test]
fn fixed_lengths_and_a_shared_prefix_are_exactly_what_the_server_counts() {
    let server = llm_server();
    let request = "input_tokens = 40\nprefix_tokens = 10\noutput_tokens = { distribution = \"fixed\", value = 7 }";
    let (o, r) = run_one(&server.url, 2, request, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &chat(&r).tokens;
    assert!(t.answers >= 5 && t.estimated == 0, "{t:?}");
    assert_eq!(t.input_tokens, t.answers * 50);
    assert_eq!(t.output_tokens, t.answers * 7, "max_tokens with ignore_eos");
}

#[test]
fn seeded_distributions_give_the_drawn_lengths_exactly() {
    let server = llm_server();
    let request = "input_tokens = { distribution = \"normal\", mean = 60, stddev = 20, min = 5, max = 120 }\noutput_tokens = { distribution = \"uniform\", min = 2, max = 9 }\nseed = 42";
    let (o, r) = run_one(&server.url, 2, request, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &chat(&r).tokens;
    assert!(t.answers >= 5, "{}", t.answers);
    // One user draws stream 0 of seed 42: the first `answers` draws are what was sent.
    let shape = TokenShape {
        input: Some(Length::Normal {
            mean: 60.0,
            stddev: 20.0,
            min: 5,
            max: 120,
        }),
        output: Some(Length::Uniform { min: 2, max: 9 }),
        prefix_tokens: 0,
        seed: 42,
        streams: Default::default(),
    };
    let mut state = shape.start(None);
    let (mut input, mut output) = (0u64, 0u64);
    for _ in 0..t.answers {
        let d = shape.next(&mut state, None);
        input += u64::from(d.input.unwrap());
        output += u64::from(d.output.unwrap());
    }
    assert_eq!((t.input_tokens, t.output_tokens), (input, output));
    // Another seed draws other lengths.
    let other = request.replace("seed = 42", "seed = 7");
    let (_, r7) = run_one(&server.url, 1, &other, &[]);
    let t7 = &chat(&r7).tokens;
    assert_ne!(t7.input_tokens * t.answers, t.input_tokens * t7.answers);
}

#[test]
fn with_a_tokenizer_a_synthetic_prompt_is_n_tokens_by_it() {
    let server = llm_server();
    let dir = tempfile::tempdir().unwrap();
    let path = tokenizer_file(dir.path());
    let request = "input_tokens = 33\nprefix_tokens = 5\noutput_tokens = 4";
    let (o, r) = run_one(
        &server.url,
        2,
        request,
        &["--tokenizer", path.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &chat(&r).tokens;
    assert_eq!(t.checked, t.answers);
    assert_eq!(t.checked_input_tokens, t.answers * 38, "by the tokenizer");
    assert_eq!(t.input_tokens, t.answers * 38, "by the server");
}

#[test]
fn every_bad_token_shape_is_refused_at_load_with_its_place() {
    let cases = [
        ("input_tokens = 0", "`value` is 0", "8:16"),
        (
            "input_tokens = { distribution = \"zipf\" }",
            "unknown distribution `zipf`",
            "8:16",
        ),
        (
            "input_tokens = { distribution = \"normal\", mean = 5 }",
            "no `stddev`",
            "8:16",
        ),
        (
            "input_tokens = { distribution = \"uniform\", min = 9, max = 3 }",
            "min 9 is above max 3",
            "8:16",
        ),
        (
            "input_tokens = { distribution = \"fixed\", value = 3, mean = 2 }",
            "`mean` is not a key",
            "8:16",
        ),
        (
            "input_tokens = 5\nprompt = \"hi\"",
            "`prompt` or `input_tokens`, not both",
            "9:1",
        ),
        (
            "prompt = \"hi\"\nmax_tokens = 3\noutput_tokens = 3",
            "`max_tokens` or `output_tokens`",
            "9:1",
        ),
        (
            "prompt = \"hi\"\nprefix_tokens = 3",
            "`prefix_tokens` goes with `input_tokens`",
            "9:1",
        ),
        ("prompt = \"hi\"\nseed = 3", "`seed` without", "9:8"),
    ];
    for (keys, message, place) in cases {
        let text = format!(
            "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\n[[user_classes.requests]]\nname = \"chat\"\n{keys}\nprotocol = \"openai-chat\"\nmodel = \"m\"\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = scenario_file(dir.path(), "bad", &text);
        let o = run_scenario(&file, "http://127.0.0.1:9", &dir.path().join("out"), &[]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{keys}: {e}");
        assert!(
            e.contains(message) && e.contains(&format!("bad.toml:{place}")),
            "{keys}: {e}"
        );
    }
}

/// `pattern` repeated over `n` answers, summed: what one user's requests in order add up to.
fn cyclic(pattern: &[(u64, u64)], n: u64) -> (u64, u64) {
    (0..n as usize).fold((0, 0), |(i, o), k| {
        let (pi, po) = pattern[k % pattern.len()];
        (i + pi, o + po)
    })
}

/// Files written beside a scenario: (name, text).
type Files<'a> = &'a [(&'a str, &'a str)];

/// Runs one user's `request` with `files` written beside the scenario.
fn run_with_files(
    url: &str,
    request: &str,
    files: Files<'_>,
) -> (std::process::Output, Option<RunResult>) {
    run_with_files_and(url, request, files, &[])
}

/// [`run_with_files`] with `extra` flags.
fn run_with_files_and(
    url: &str,
    request: &str,
    files: Files<'_>,
    extra: &[&str],
) -> (std::process::Output, Option<RunResult>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let text = one_user(2, request);
    let file = scenario_file(dir.path(), "llm", &text);
    let out = dir.path().join("out");
    let o = run_scenario(&file, url, &out, extra);
    let r = out.join("results.json").exists().then(|| results(&out));
    (o, r)
}

#[test]
fn each_turn_of_a_chat_carries_the_earlier_turns_and_the_actual_answers() {
    let server = llm_server();
    // 3 words a turn, 4-token answers ("tok1 .. tok4"): turn 2 sends 3 + 4 + 3 words, turn 3
    // 3 + 4 + 3 + 4 + 3, then a new conversation starts.
    let request = "prompt = \"plan the rollout\"\noutput_tokens = 4\nturns = 3";
    let (o, r) = run_with_files(&server.url, request, &[]);
    let r = r.unwrap_or_else(|| panic!("{}", stderr(&o)));
    let t = &chat(&r).tokens;
    assert!(t.answers >= 6, "{}", t.answers);
    assert_eq!(
        (t.input_tokens, t.output_tokens),
        cyclic(&[(3, 4), (10, 4), (17, 4)], t.answers)
    );
}

#[test]
fn dataset_rows_are_sent_in_order_with_their_output_lengths() {
    let server = llm_server();
    let jsonl = "{\"prompt\": \"hello world\", \"output_tokens\": 3}\n\n{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"one two three\"}], \"output_tokens\": 6}\n";
    let (o, r) = run_with_files(&server.url, "dataset = \"p.jsonl\"", &[("p.jsonl", jsonl)]);
    assert_cycle(&o, r, 4, &[(2, 3), (5, 6)]);

    let sharegpt = r#"[
      {"id": "a", "conversations": [
        {"from": "human", "value": "hi there"},
        {"from": "gpt", "value": "one two three"},
        {"from": "human", "value": "more"},
        {"from": "gpt", "value": "four five"}]},
      {"id": "b", "conversations": [
        {"from": "human", "value": "a b c d"},
        {"from": "gpt", "value": "v w x y z"}]}
    ]"#;
    // A row per request: each conversation's first user turn, asked for its reply's length.
    let files = [("s.json", sharegpt)];
    let (o, r) = run_with_files(&server.url, "dataset = \"s.json\"", &files);
    let r = r.unwrap_or_else(|| panic!("{}", stderr(&o)));
    let t = &chat(&r).tokens;
    assert_eq!(
        (t.input_tokens, t.output_tokens),
        cyclic(&[(2, 3), (4, 5)], t.answers)
    );
    // With turns, the conversation goes on: its second turn carries the first turn and the
    // server's actual 3-token answer.
    let (o, r) = run_with_files(&server.url, "dataset = \"s.json\"\nturns = 8", &files);
    let r = r.unwrap_or_else(|| panic!("{}", stderr(&o)));
    let t = &chat(&r).tokens;
    assert!(t.answers >= 6, "{}", t.answers);
    assert_eq!(
        (t.input_tokens, t.output_tokens),
        cyclic(&[(2, 3), (2 + 3 + 1, 2), (4, 5)], t.answers)
    );
}

/// The run succeeded with at least `min` answers, whose (input, output) tokens went round
/// `cycle`.
fn assert_cycle(o: &std::process::Output, r: Option<RunResult>, min: u64, cycle: &[(u64, u64)]) {
    let r = r.unwrap_or_else(|| panic!("{}", stderr(o)));
    let t = &chat(&r).tokens;
    assert!(t.answers >= min, "{}", t.answers);
    assert_eq!((t.input_tokens, t.output_tokens), cyclic(cycle, t.answers));
}

/// With `--tokenizer`, a ShareGPT turn asks for its reply's length in that tokenizer's
/// tokens: "hello, world!" is 4 (punctuation is its own token), not 2 words; "now." is 2.
#[test]
fn sharegpt_output_lengths_are_counted_by_the_tokenizer() {
    let server = llm_server();
    let dir = tempfile::tempdir().unwrap();
    let path = tokenizer_file(dir.path());
    let sharegpt = r#"[
      {"conversations": [
        {"from": "human", "value": "hello world"},
        {"from": "gpt", "value": "hello, world!"}]},
      {"conversations": [
        {"from": "human", "value": "plan the rollout"},
        {"from": "gpt", "value": "now."}]}
    ]"#;
    let (o, r) = run_with_files_and(
        &server.url,
        "dataset = \"s.json\"",
        &[("s.json", sharegpt)],
        &["--tokenizer", path.to_str().unwrap()],
    );
    assert_cycle(&o, r, 4, &[(2, 4), (3, 2)]);
}

#[test]
fn every_bad_dataset_is_refused_at_load_naming_the_file_and_line() {
    let cases: [(&str, Files<'_>, &str); 8] = [
        (
            "dataset = \"p.jsonl\"",
            &[("p.jsonl", "{\"prompt\": \"a\"}\n{not json\n")],
            "p.jsonl:2: not JSON",
        ),
        (
            "dataset = \"p.jsonl\"",
            &[("p.jsonl", "{\"prompt\": \"a\"}\n\n{\"text\": \"b\"}\n")],
            "p.jsonl:3: the row has no `prompt` or `messages`",
        ),
        (
            "dataset = \"p.jsonl\"",
            &[("p.jsonl", "{\"prompt\": \"a\", \"output_tokens\": -1}\n")],
            "p.jsonl:1: `output_tokens` is -1",
        ),
        (
            "dataset = \"s.json\"",
            &[("s.json", "[{\"conversations\": [{\"from\": \"human\"}]}]")],
            "s.json: conversation 1 (a turn without `from` and `value` strings)",
        ),
        (
            "dataset = \"s.json\"",
            &[("s.json", "[\n{\"conversations\": \n")],
            "s.json:3: not JSON",
        ),
        ("dataset = \"missing.jsonl\"", &[], "cannot read dataset"),
        (
            "dataset = \"p.txt\"",
            &[("p.txt", "")],
            "cannot tell the format of dataset `p.txt`",
        ),
        (
            "dataset = \"p.jsonl\"\nprompt = \"x\"",
            &[("p.jsonl", "{\"prompt\": \"a\"}")],
            "from `dataset` or from `prompt`/`messages`, not both",
        ),
    ];
    for (keys, files, message) in cases {
        let (o, _) = run_with_files("http://127.0.0.1:9", keys, files);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{keys}: {e}");
        assert!(
            e.contains(message) && e.contains("llm.toml:"),
            "{keys}: {e}"
        );
    }
    let text = "users = 1\nrun_time = \"1s\"\n[[user_classes]]\nname = \"C\"\nweight = 1\n[[user_classes.requests]]\nname = \"c\"\nprotocol = \"openai-completions\"\nmodel = \"m\"\nprompt = \"p\"\nturns = 2\n";
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_file(dir.path(), "bad", text);
    let o = run_scenario(&file, "http://127.0.0.1:9", &dir.path().join("out"), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.toml:11:9: a conversation of several turns needs a chat API"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_shipped_token_shaped_scenario_runs_against_the_embedded_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = crate::support::run_shipped("llm-shaped", 4, "4s", &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&out);
    assert_eq!(r.overall().failures, 0, "{:?}", r.failures);
    for name in ["synthetic", "session"] {
        let t = &r.requests.iter().find(|s| s.name == name).unwrap().tokens;
        assert!(t.answers > 0 && t.estimated == 0, "{name}: {t:?}");
    }
    let session = &r
        .requests
        .iter()
        .find(|s| s.name == "session")
        .unwrap()
        .tokens;
    assert_eq!(session.output_tokens, session.answers * 32);
    // Turns of 40 tokens after the history: never less than 40 a turn, more once it grows.
    assert!(session.input_tokens > session.answers * 40, "{session:?}");
}

#[test]
fn workers_count_with_their_own_tokenizer_and_the_merge_keeps_the_source() {
    use crate::distributed_support::{manager_for, worker};
    use std::time::Duration;
    let server = llm_server();
    let dir = tempfile::tempdir().unwrap();
    let path = tokenizer_file(dir.path());
    let tok = path.to_str().unwrap();
    // "hello, world!" is 4 tokens by the tokenizer, 2 words; no usage from the server.
    let request = "prompt = \"hello, world!\"\nmax_tokens = 5\nextra = '{\"ignore_eos\": true, \"stream_options\": {\"include_usage\": false}}'";
    let text =
        one_user(3, request).replace("users = 1\nspawn_rate = 1", "users = 2\nspawn_rate = 2");
    let file = scenario_file(dir.path(), "llm", &text);
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&file, 2, &server.url, &out);
    let workers = [
        worker(&url, "a", &["--tokenizer", tok]),
        worker(&url, "b", &["--tokenizer", tok]),
    ];
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}",
        m.text()
    );
    let r = results(&out);
    let t = &chat(&r).tokens;
    assert!(t.answers >= 4, "{t:?}");
    assert_eq!((t.tokenized, t.estimated), (t.answers, 0));
    assert_eq!(
        (t.input_tokens, t.output_tokens),
        (t.answers * 4, t.answers * 5)
    );
    assert!(r.workers.iter().all(|w| w.requests > 0), "{:?}", r.workers);
    drop(workers);
}

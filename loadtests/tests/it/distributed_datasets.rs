//! LLM datasets in a distributed run: the manager reads the file and sends it with the
//! scenario, so a worker needs no copy on its own disk; a file too large to send stops the
//! manager (exit 2) before any worker joins.
use std::time::Duration;

use crate::distributed_support::{manager_for, manager_process, worker};
use crate::llm_tokens::llm_server;
use crate::support::{results, scenario_file};

/// One user, no pause, for `seconds`, sending the rows of `dataset = "{dataset}"`.
fn dataset_scenario(dir: &std::path::Path, seconds: u32, dataset: &str) -> std::path::PathBuf {
    scenario_file(
        dir,
        "llm",
        &format!(
            "users = 1\nspawn_rate = 1\nrun_time = \"{seconds}s\"\n[[user_classes]]\nname = \"Chat\"\nweight = 1\nthink_time = [\"0s\", \"0s\"]\n[[user_classes.requests]]\nname = \"chat\"\nprotocol = \"openai-chat\"\nmodel = \"skein-reference-llm\"\ndataset = \"{dataset}\"\n"
        ),
    )
}

/// target-server's usage is exact (an input token per word, the asked output length), so the
/// run's token totals show which rows the worker sent: the two rows of the file, in turn.
#[test]
fn a_dataset_only_the_manager_can_read_reaches_the_worker_row_by_row() {
    let server = llm_server();
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("p.jsonl");
    std::fs::write(
        &dataset,
        "{\"prompt\": \"hello world\", \"output_tokens\": 3}\n{\"prompt\": \"one two three four\", \"output_tokens\": 6}\n",
    )
    .unwrap();
    let path = dataset_scenario(dir.path(), 3, "p.jsonl");
    let out = dir.path().join("out");
    let (mut m, url) = manager_for(&path, 1, &server.url, &out);
    // The manager has read it (it listens only once the scenario loaded): gone from every disk.
    std::fs::remove_file(&dataset).unwrap();
    let w = worker(&url, "a", &[]);
    assert_eq!(
        m.exit_code(Duration::from_secs(40)),
        Some(0),
        "{}\nworker:\n{}",
        m.text(),
        w.text()
    );
    let r = results(&out);
    let chat = r.requests.iter().find(|s| s.name == "chat").expect("chat");
    let t = &chat.tokens;
    assert!(t.answers >= 4, "{}", t.answers);
    let rows = [(2, 3), (4, 6)];
    let expected = (0..t.answers as usize).fold((0, 0), |(i, o), k| {
        let (ri, ro) = rows[k % 2];
        (i + ri, o + ro)
    });
    assert_eq!((t.input_tokens, t.output_tokens), expected);
}

#[test]
fn a_dataset_too_large_to_send_stops_the_manager_with_its_size_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // 17 rows of 1 MiB: within what a local run reads, above what a manager sends.
    let row = format!("{{\"prompt\": \"{}\"}}\n", "word ".repeat(1024 * 1024 / 5));
    std::fs::write(dir.path().join("big.jsonl"), row.repeat(17)).unwrap();
    let path = dataset_scenario(dir.path(), 1, "big.jsonl");
    let scenario = path.to_str().unwrap();
    let host = "http://127.0.0.1:9";
    let mut m = manager_process(&[
        "--scenario",
        scenario,
        "--host",
        host,
        "--expect-workers",
        "1",
    ]);
    assert_eq!(
        m.exit_code(Duration::from_secs(60)),
        Some(2),
        "{}",
        m.text()
    );
    let text = m.text();
    for part in ["`big.jsonl` is 17.0 MiB", "at most 16 MiB", "keep the rows"] {
        assert!(text.contains(part), "`{part}` not in:\n{text}");
    }
}

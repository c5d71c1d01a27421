//! How many synthetic prompts (token-shaped load, docs/llm.md) one core renders: a normal
//! 550 ± 150-token prompt and a fixed 128-token output per draw, without a tokenizer and with a
//! word-level `tokenizer.json` (made here), each as a ratio against a floor measured in the
//! same run: appending the same number of bytes of one fixed word.
//!
//! `cargo run -p skein --release --example synthetic_prompts`
use std::hint::black_box;
use std::time::{Duration, Instant};

use skein::users::llm::shape::Length;
use skein::users::llm::tokenizer::TokenCounter;
use skein::users::llm::TokenShape;
use skein::users::template::VOCABULARY;

const FOR: Duration = Duration::from_secs(2);

fn shape() -> TokenShape {
    TokenShape {
        input: Some(Length::Normal {
            mean: 550.0,
            stddev: 150.0,
            min: 1,
            max: 4096,
        }),
        output: Some(Length::Fixed(128)),
        prefix_tokens: 0,
        seed: 1,
        streams: Default::default(),
    }
}

/// Prompts per second and bytes per prompt.
fn rate(tokenizer: Option<&TokenCounter>) -> (f64, f64) {
    let shape = shape();
    let mut state = shape.start(tokenizer);
    let (started, mut n, mut bytes) = (Instant::now(), 0u64, 0usize);
    while started.elapsed() < FOR {
        let drawn = shape.next(&mut state, tokenizer);
        bytes += black_box(drawn.prompt.expect("synthetic")).len();
        n += 1;
    }
    (
        n as f64 / started.elapsed().as_secs_f64(),
        bytes as f64 / n as f64,
    )
}

/// The floor: strings of `len` bytes built from one word, per second.
fn floor(len: usize) -> f64 {
    let (started, mut n) = (Instant::now(), 0u64);
    while started.elapsed() < FOR {
        let mut out = String::new();
        while out.len() < len {
            out.push_str(black_box("report "));
        }
        black_box(out);
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn word_level_tokenizer() -> TokenCounter {
    let mut vocab: Vec<(String, u32)> = vec![("[UNK]".into(), 0)];
    for w in VOCABULARY {
        let id = vocab.len() as u32;
        vocab.push((w.to_string(), id));
    }
    let model = tokenizers::models::wordlevel::WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token("[UNK]".into())
        .build()
        .expect("a word-level model");
    let mut tokenizer = tokenizers::Tokenizer::new(model);
    tokenizer.with_pre_tokenizer(Some(tokenizers::pre_tokenizers::whitespace::Whitespace {}));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path, false).expect("saved");
    TokenCounter::load(&path).expect("loads")
}

fn main() {
    let tokenizer = word_level_tokenizer();
    for (label, t) in [
        ("no tokenizer", None),
        ("word-level tokenizer.json", Some(&tokenizer)),
    ] {
        let (per_s, bytes) = rate(t);
        let reference = floor(bytes as usize);
        println!(
            "{label}: {per_s:.0} prompts/s of {bytes:.0} bytes; {:.1}x the time of appending as many bytes of one word ({reference:.0}/s)",
            reference / per_s
        );
    }
}

//! Token-shaped load: prompt and output lengths in tokens drawn from a distribution (fixed,
//! uniform, normal), seeded per user, and synthetic prompts of exactly the drawn length.
//!
//! How text maps to tokens: with `--tokenizer`, a prompt is made of the words that tokenizer
//! counts as one token each ([`TokenCounter::words`]) and checked against it, so it is exactly
//! N tokens by it; without one, of plain words that a word-counting server (target-server's
//! model: one input token per whitespace-separated word) counts as one token each.
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tokenizer::TokenCounter;
use crate::users::template::VOCABULARY;

/// A length in tokens, drawn per request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Length {
    Fixed(u32),
    /// Every length from `min` to `max` equally likely.
    Uniform {
        min: u32,
        max: u32,
    },
    /// A normal draw, rounded and clamped to `min..=max`.
    Normal {
        mean: f64,
        stddev: f64,
        min: u32,
        max: u32,
    },
}

impl Length {
    pub fn draw(&self, rng: &mut impl Rng) -> u32 {
        match *self {
            Length::Fixed(n) => n,
            Length::Uniform { min, max } => rng.random_range(min..=max),
            Length::Normal {
                mean,
                stddev,
                min,
                max,
            } => {
                // Box–Muller: one standard normal from two uniforms.
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mean + stddev * z).round().clamp(min as f64, max as f64) as u32
            }
        }
    }
}

/// The random stream of user number `stream` of a request seeded with `seed`: the same seed
/// gives every user the same lengths and words on every run.
pub fn user_rng(seed: u64, stream: u64) -> StdRng {
    // splitmix64's finaliser spreads consecutive stream numbers over the seed space.
    let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    StdRng::seed_from_u64(z ^ (z >> 31))
}

/// Appends a text of exactly `n` tokens (by `tokenizer` when given, else one word a token) to
/// `out`, after a space when `out` is not empty.
pub fn push_tokens(n: u32, rng: &mut impl Rng, tokenizer: Option<&TokenCounter>, out: &mut String) {
    if n == 0 {
        return;
    }
    let start = out.len();
    let separated = !out.is_empty();
    let pick = |rng: &mut dyn rand::RngCore| -> &str {
        match tokenizer {
            Some(t) => &t.words()[rng.random_range(0..t.words().len())],
            None => VOCABULARY[rng.random_range(0..VOCABULARY.len())],
        }
    };
    for i in 0..n {
        if i > 0 || separated {
            out.push(' ');
        }
        out.push_str(pick(rng));
    }
    let Some(t) = tokenizer else { return };
    // One-token words stay one token side by side for tokenizers that split at spaces; check,
    // and trim or extend the text when one does not.
    let own = |out: &String| t.count(&out[start..]) as i64;
    let mut left = 2 * n as usize + 8;
    loop {
        let diff = own(out) - n as i64;
        if diff == 0 || left == 0 {
            return;
        }
        left -= 1;
        if diff > 0 {
            match out[start..].rfind(' ') {
                Some(at) => out.truncate(start + at),
                None => return,
            }
        } else {
            out.push(' ');
            out.push_str(pick(rng));
        }
    }
}

/// Token-shaped load: lengths in tokens drawn per request from a seeded stream per user.
#[derive(Debug, Default)]
pub struct TokenShape {
    /// The synthetic prompt's length (after the prefix).
    pub input: Option<Length>,
    /// Output tokens asked for: sent as `max_tokens` (with `ignore_eos` for OpenAI APIs).
    pub output: Option<Length>,
    /// A prefix of this many tokens, the same for every request (prefix-cache tests).
    pub prefix_tokens: u32,
    pub seed: u64,
    /// Users that drew a stream so far: user number `n` draws from stream `n`.
    pub streams: AtomicU64,
}

/// What a user keeps for one token-shaped request: its random stream and the shared prefix.
pub struct ShapeState {
    rng: StdRng,
    prefix: String,
}

impl TokenShape {
    /// A new user's state: the next stream, and the prefix (drawn from the seed alone, so the
    /// same for every user).
    pub fn start(&self, tokenizer: Option<&TokenCounter>) -> ShapeState {
        let stream = self.streams.fetch_add(1, Ordering::Relaxed);
        let mut prefix = String::new();
        let mut prefix_rng = user_rng(self.seed, u64::MAX);
        push_tokens(self.prefix_tokens, &mut prefix_rng, tokenizer, &mut prefix);
        ShapeState {
            rng: user_rng(self.seed, stream),
            prefix,
        }
    }
}

/// One request's draw: its synthetic prompt (when the shape has `input`) and lengths.
pub struct Drawn {
    pub prompt: Option<String>,
    /// Input tokens, the prefix's included.
    pub input: Option<u32>,
    pub output: Option<u32>,
}

impl TokenShape {
    /// The next request's lengths (input, then output, from the user's stream) and prompt.
    pub fn next(&self, state: &mut ShapeState, tokenizer: Option<&TokenCounter>) -> Drawn {
        let input = self.input.map(|l| l.draw(&mut state.rng));
        let output = self.output.map(|l| l.draw(&mut state.rng));
        let prompt = input.map(|n| {
            let mut out = state.prefix.clone();
            push_tokens(n, &mut state.rng, tokenizer, &mut out);
            out
        });
        Drawn {
            prompt,
            input: input.map(|n| n + self.prefix_tokens),
            output,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distribution_draws_within_its_bounds_and_a_seed_repeats() {
        let mut rng = user_rng(7, 0);
        assert_eq!(Length::Fixed(5).draw(&mut rng), 5);
        let uniform = Length::Uniform { min: 3, max: 9 };
        assert!((0..1000).all(|_| (3..=9).contains(&uniform.draw(&mut rng))));
        let normal = Length::Normal {
            mean: 550.0,
            stddev: 150.0,
            min: 1,
            max: 4096,
        };
        let draws: Vec<f64> = (0..20_000).map(|_| normal.draw(&mut rng) as f64).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let sd =
            (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64).sqrt();
        assert!(
            (mean - 550.0).abs() < 5.0 && (sd - 150.0).abs() < 5.0,
            "{mean} {sd}"
        );
        let again = |seed, stream| {
            let mut r = user_rng(seed, stream);
            (0..10).map(|_| normal.draw(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(again(42, 3), again(42, 3));
        assert_ne!(again(42, 3), again(42, 4), "users get their own streams");
        assert_ne!(again(42, 3), again(43, 3));
    }

    #[test]
    fn a_synthetic_text_is_n_words_without_a_tokenizer() {
        let mut rng = user_rng(1, 0);
        let mut out = String::new();
        push_tokens(12, &mut rng, None, &mut out);
        assert_eq!(out.split_whitespace().count(), 12);
        push_tokens(3, &mut rng, None, &mut out);
        assert_eq!(out.split_whitespace().count(), 15);
        assert!(!out.contains("  "));
    }
}

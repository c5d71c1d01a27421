//! `--tokenizer PATH`: token counts from a Hugging Face `tokenizer.json`, loaded offline, and
//! the words synthetic prompts are made of when the prompt must be exactly N tokens by it.
//!
//! Counting encodes the text without special tokens and without a chat template: the figure
//! is the tokens of the text itself (a chat server's `usage` adds its template's tokens).
use std::fmt;
use std::path::{Path, PathBuf};

/// A `tokenizer.json` that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("--tokenizer {path}: {reason}")]
pub struct TokenizerError {
    pub path: PathBuf,
    pub reason: String,
}

/// Most words kept for synthetic prompts: plenty of variety, a bounded load-time cost.
const MAX_WORDS: usize = 512;

/// A loaded tokenizer and the words it counts as one token each, even side by side.
pub struct TokenCounter {
    tokenizer: tokenizers::Tokenizer,
    path: PathBuf,
    words: Vec<String>,
}

impl fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenCounter({})", self.path.display())
    }
}

impl TokenCounter {
    /// Loads `path` (a Hugging Face `tokenizer.json`) and finds its one-token words.
    pub fn load(path: &Path) -> Result<TokenCounter, TokenizerError> {
        let fail = |reason: String| TokenizerError {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let tokenizer = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| {
            fail(format!(
                "not a Hugging Face tokenizer.json ({e}); give the tokenizer.json a model ships beside its weights"
            ))
        })?;
        let mut counter = TokenCounter {
            tokenizer,
            path: path.to_path_buf(),
            words: Vec::new(),
        };
        counter.words = counter.one_token_words();
        if counter.words.is_empty() {
            return Err(fail(
                "its vocabulary has no plain lowercase words of one token, which synthetic prompts are made of".into(),
            ));
        }
        Ok(counter)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens of `text` by this tokenizer (no special tokens added).
    pub fn count(&self, text: &str) -> u64 {
        self.tokenizer
            .encode_fast(text, false)
            .map_or(0, |e| e.len() as u64)
    }

    /// Words that are one token each wherever they stand in a space-separated text of them.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Vocabulary entries that decode to a plain lowercase word and count as one token at the
    /// start of a text and after a space: a text of N of them, space-separated, is N tokens
    /// for every pre-tokenizer that splits at spaces (byte-level BPE, Metaspace, whitespace).
    fn one_token_words(&self) -> Vec<String> {
        let mut ids: Vec<u32> = self.tokenizer.get_vocab(false).into_values().collect();
        ids.sort_unstable();
        let mut words = Vec::new();
        for id in ids {
            let Ok(text) = self.tokenizer.decode(&[id], true) else {
                continue;
            };
            let word = text.trim();
            let plain =
                (2..=10).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase());
            if !plain || words.iter().any(|w: &String| w == word) {
                continue;
            }
            if self.count(&format!("{word} {word} {word}")) == 3 {
                words.push(word.to_string());
                if words.len() == MAX_WORDS {
                    break;
                }
            }
        }
        words
    }
}

//! `--tokenizer PATH`, shared by the commands that run users (`run`, `worker`, `capacity`).
use std::path::PathBuf;
use std::sync::Arc;

use crate::exit::Failure;
use crate::users::llm::tokenizer::TokenCounter;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct TokenizerArg {
    /// A Hugging Face tokenizer.json (read offline): LLM token counts where the server sends no
    /// usage (and beside its usage where it does), and synthetic prompts (`input_tokens`) of
    /// exactly N tokens by it [default: usage, else whitespace words, labelled estimated].
    #[arg(long, value_name = "PATH")]
    pub tokenizer: Option<PathBuf>,
}

impl TokenizerArg {
    /// The tokenizer, loaded; a file that is not one is a usage error (exit 2) naming it.
    pub fn load(&self) -> Result<Option<Arc<TokenCounter>>, Failure> {
        self.tokenizer
            .as_deref()
            .map(|path| {
                TokenCounter::load(path)
                    .map(Arc::new)
                    .map_err(|e| Failure::Usage(e.to_string()))
            })
            .transpose()
    }
}

//! The LLM API's flags, as one struct flattened into [`crate::ServerConfig`] so that the
//! shared configuration file gains one field and every LLM knob lives beside the model it
//! drives. Every formula these flags enter is in docs/llm-server.md.
use crate::chunk_count::ChunkCount;

/// Model name served when no `--llm-model` is given.
pub const DEFAULT_MODEL: &str = "skein-reference-llm";

/// Default answer length: 64 tokens, no spread.
pub const DEFAULT_OUTPUT_TOKENS: ChunkCount = ChunkCount {
    base: 64,
    spread: 0,
};

/// Default grouping: one token per streamed chunk.
pub const DEFAULT_TOKENS_PER_CHUNK: ChunkCount = ChunkCount { base: 1, spread: 0 };

/// A fault the LLM API can inject into an answer, by flag or by the `x-llm-fault` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultKind {
    /// After half the output, an error event (OpenAI: an `{"error":…}` chunk, then
    /// `[DONE]` as vLLM sends it; Anthropic: `event: error`), and the stream ends.
    Error,
    /// One extra gap of `--llm-stall-ms` half-way through the output.
    Stall,
    /// The connection closes half-way through, without `[DONE]` or `message_stop`.
    Cut,
    /// One event half-way through whose data is not JSON.
    Malformed,
    /// No usage: no usage chunk (OpenAI), no `usage` objects (Anthropic).
    NoUsage,
}

impl FaultKind {
    /// The name used by the flag and the header.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Error => "error",
            FaultKind::Stall => "stall",
            FaultKind::Cut => "cut",
            FaultKind::Malformed => "malformed",
            FaultKind::NoUsage => "no-usage",
        }
    }

    /// Parses a header value (the flag's names).
    pub fn parse(text: &str) -> Option<FaultKind> {
        [
            FaultKind::Error,
            FaultKind::Stall,
            FaultKind::Cut,
            FaultKind::Malformed,
            FaultKind::NoUsage,
        ]
        .into_iter()
        .find(|k| k.name() == text.trim())
    }
}

/// The LLM endpoints' settings (`/v1/chat/completions`, `/v1/completions`, `/v1/messages`,
/// `/v1/models`). Time to first token and time per output token are the latency names
/// `llm.ttft` and `llm.tpot` (`--latency`).
#[derive(Debug, Clone, clap::Args)]
pub struct LlmConfig {
    /// LLM: a model name the LLM endpoints serve (repeatable); `/v1/models` lists them and
    /// any other `model` is answered 404 `model_not_found`.
    #[arg(long = "llm-model", value_name = "NAME", default_value = DEFAULT_MODEL)]
    pub models: Vec<String>,

    /// LLM: answer length in tokens when `ignore_eos` is not set: N[+SPREAD], drawn per
    /// request, capped at the request's `max_tokens`.
    #[arg(long, default_value = "64+0", value_name = "N[+SPREAD]")]
    pub llm_output_tokens: ChunkCount,

    /// LLM: output tokens per streamed chunk: N[+SPREAD], drawn per chunk (the last chunk
    /// holds what is left).
    #[arg(long, default_value = "1", value_name = "N[+SPREAD]")]
    pub llm_tokens_per_chunk: ChunkCount,

    /// LLM: prefill time per input token, in microseconds, added to `llm.ttft`.
    #[arg(long, default_value_t = 50)]
    pub llm_prefill_us: u64,

    /// LLM: requests that decode at once; later ones wait for a slot in arrival order, and
    /// the wait is part of their time to first token.
    #[arg(long, default_value_t = 16)]
    pub llm_slots: usize,

    /// LLM: each chunk's time is multiplied by 1 + SLOWDOWN × (generations in flight − 1);
    /// 0 keeps the per-token time exact, a positive value makes throughput saturate.
    #[arg(long, default_value_t = 0.0)]
    pub llm_decode_slowdown: f64,

    /// LLM: length of the `stall` fault's extra gap, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub llm_stall_ms: u64,

    /// LLM: the fault `--llm-fault-every` injects.
    #[arg(long, value_enum, value_name = "KIND")]
    pub llm_fault: Option<FaultKind>,

    /// LLM: inject `--llm-fault` into every Nth streamed answer (0 = never).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub llm_fault_every: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            models: vec![DEFAULT_MODEL.to_string()],
            llm_output_tokens: DEFAULT_OUTPUT_TOKENS,
            llm_tokens_per_chunk: DEFAULT_TOKENS_PER_CHUNK,
            llm_prefill_us: 50,
            llm_slots: 16,
            llm_decode_slowdown: 0.0,
            llm_stall_ms: 500,
            llm_fault: None,
            llm_fault_every: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: crate::ServerConfig,
    }

    #[test]
    fn the_command_line_defaults_are_the_embedded_defaults() {
        let cli = <Cli as clap::Parser>::parse_from(["target-server"]);
        let (flags, embedded) = (&cli.config.llm, &LlmConfig::default());
        assert_eq!(flags.models, embedded.models);
        assert_eq!(flags.llm_output_tokens, embedded.llm_output_tokens);
        assert_eq!(flags.llm_tokens_per_chunk, embedded.llm_tokens_per_chunk);
        assert_eq!(flags.llm_prefill_us, embedded.llm_prefill_us);
        assert_eq!(flags.llm_slots, embedded.llm_slots);
        assert_eq!(flags.llm_decode_slowdown, embedded.llm_decode_slowdown);
        assert_eq!(flags.llm_stall_ms, embedded.llm_stall_ms);
        assert_eq!(flags.llm_fault, None);
        assert_eq!(flags.llm_fault_every, 0);
    }

    #[test]
    fn flags_parse() {
        let cli = <Cli as clap::Parser>::parse_from([
            "target-server",
            "--llm-model",
            "a",
            "--llm-model",
            "b",
            "--llm-tokens-per-chunk",
            "3+1",
            "--llm-fault",
            "no-usage",
            "--llm-fault-every",
            "5",
            "--latency",
            "llm.ttft=80",
        ]);
        let c = &cli.config;
        assert_eq!(c.llm.models, ["a", "b"]);
        assert_eq!(
            c.llm.llm_tokens_per_chunk,
            ChunkCount { base: 3, spread: 1 }
        );
        assert_eq!(c.llm.llm_fault, Some(FaultKind::NoUsage));
        assert_eq!(c.llm.llm_fault_every, 5);
        assert_eq!(
            c.initial_latencies()[crate::config::LLM_TTFT],
            crate::config::MethodLatency::ms(80, 0)
        );
    }

    #[test]
    fn fault_names_round_trip() {
        for name in ["error", "stall", "cut", "malformed", "no-usage"] {
            assert_eq!(FaultKind::parse(name).map(FaultKind::name), Some(name));
        }
        assert_eq!(FaultKind::parse("nope"), None);
    }
}

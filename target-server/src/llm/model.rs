//! The calibrated model: one request's plan, drawn before it queues, from which every
//! modelled time follows (docs/llm-server.md has each formula with its flags).
//!
//! - Output length: `max_tokens` when `ignore_eos`; otherwise a draw of
//!   `--llm-output-tokens`, capped at `max_tokens`.
//! - Finish: `length` when `ignore_eos` or the draw reached the cap, else `stop`.
//! - Time to first token, after the request got a decode slot: one draw of `llm.ttft` plus
//!   `--llm-prefill-us` × input tokens. The queue wait for the slot comes before it.
//! - Per output token: one draw of `llm.tpot` per request; a chunk of k tokens after the
//!   first takes k × that (× the decode slowdown, see [`super::engine`]).
//!
//! The plan is what the `x-llm-truth` header reports, so a test can compare what a client
//! measured with what the server intended.
use std::time::Duration;

use super::config::{FaultKind, LlmConfig};
use super::request::Ask;
use super::tokens::chunk_sizes;
use crate::config::{LLM_TPOT, LLM_TTFT};
use crate::faults::Faults;

/// Why the answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model chose to stop (OpenAI `stop`, Anthropic `end_turn`).
    Stop,
    /// `max_tokens` was reached (OpenAI `length`, Anthropic `max_tokens`).
    Length,
}

/// One request's modelled answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub finish: Finish,
    /// Tokens in each streamed chunk, in order; they sum to `output_tokens`.
    pub chunks: Vec<u32>,
    /// The `llm.ttft` draw.
    pub ttft_base: Duration,
    /// `--llm-prefill-us` × input tokens.
    pub prefill: Duration,
    /// The `llm.tpot` draw: time per output token before the decode slowdown.
    pub tpot: Duration,
    pub fault: Option<FaultKind>,
}

/// Output length and finish reason for `ask`, given a draw of `--llm-output-tokens`.
pub fn output_length(ask: &Ask, drawn: u32) -> (u32, Finish) {
    match (ask.max_tokens, ask.ignore_eos) {
        (Some(max), true) => (max, Finish::Length),
        (Some(max), false) if drawn >= max => (max, Finish::Length),
        _ => (drawn.max(1), Finish::Stop),
    }
}

impl Plan {
    /// Draws the plan of `ask` from the flags and the current latency table.
    pub fn draw(ask: &Ask, config: &LlmConfig, faults: &Faults, fault: Option<FaultKind>) -> Plan {
        let mut rng = rand::rng();
        let (output_tokens, finish) = output_length(ask, config.llm_output_tokens.draw(&mut rng));
        Plan {
            input_tokens: ask.input_tokens,
            output_tokens,
            finish,
            chunks: chunk_sizes(output_tokens, config.llm_tokens_per_chunk, &mut rng),
            ttft_base: faults.latency(LLM_TTFT).draw(&mut rng),
            prefill: Duration::from_micros(config.llm_prefill_us).saturating_mul(ask.input_tokens),
            tpot: faults.latency(LLM_TPOT).draw(&mut rng),
            fault,
        }
    }

    /// Time from getting a decode slot to the first token.
    pub fn ttft_after_slot(&self) -> Duration {
        self.ttft_base + self.prefill
    }

    /// Chunks sent before a fault strikes: half of them, at least one (with one chunk the
    /// fault comes after it, before the stream's end).
    pub fn fault_point(&self) -> usize {
        (self.chunks.len() / 2).max(1)
    }

    /// The `x-llm-truth` header: `input_tokens=..;output_tokens=..;queue_us=..;ttft_us=..;
    /// tpot_us=..`, then `;fault=KIND` when one is injected. `ttft_us` includes the queue wait;
    /// `tpot_us` is the per-token time before any decode slowdown.
    pub fn truth(&self, queue: Duration) -> String {
        let mut truth = format!(
            "input_tokens={};output_tokens={};queue_us={};ttft_us={};tpot_us={}",
            self.input_tokens,
            self.output_tokens,
            queue.as_micros(),
            (queue + self.ttft_after_slot()).as_micros(),
            self.tpot.as_micros(),
        );
        if let Some(fault) = self.fault {
            truth.push_str(";fault=");
            truth.push_str(fault.name());
        }
        truth
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerConfig;

    fn ask(max_tokens: Option<u32>, ignore_eos: bool) -> Ask {
        Ask {
            model: "m".into(),
            input_tokens: 20,
            max_tokens,
            ignore_eos,
            stream: true,
            include_usage: true,
        }
    }

    #[test]
    fn length_follows_ignore_eos_then_the_draw_capped() {
        assert_eq!(
            output_length(&ask(Some(10), true), 64),
            (10, Finish::Length)
        );
        assert_eq!(
            output_length(&ask(Some(100), true), 64),
            (100, Finish::Length)
        );
        assert_eq!(
            output_length(&ask(Some(100), false), 64),
            (64, Finish::Stop)
        );
        assert_eq!(
            output_length(&ask(Some(10), false), 64),
            (10, Finish::Length)
        );
        assert_eq!(output_length(&ask(None, false), 64), (64, Finish::Stop));
        assert_eq!(output_length(&ask(None, true), 64), (64, Finish::Stop));
    }

    #[test]
    fn the_plan_follows_the_flags_and_the_truth_says_it() {
        let config = ServerConfig {
            no_latency: true,
            latency_overrides: vec![
                "llm.ttft=30".parse().unwrap(),
                "llm.tpot=5".parse().unwrap(),
            ],
            ..ServerConfig::default()
        };
        let faults = Faults::new(&config);
        let plan = Plan::draw(
            &ask(Some(7), true),
            &config.llm,
            &faults,
            Some(FaultKind::Cut),
        );
        assert_eq!(plan.output_tokens, 7);
        assert_eq!(plan.chunks, [1; 7]);
        assert_eq!(
            plan.ttft_after_slot(),
            Duration::from_micros(30_000 + 20 * 50)
        );
        assert_eq!(plan.fault_point(), 3);
        assert_eq!(
            plan.truth(Duration::from_micros(1_500)),
            "input_tokens=20;output_tokens=7;queue_us=1500;ttft_us=32500;tpot_us=5000;fault=cut"
        );
    }

    #[test]
    fn no_latency_zeroes_the_llm_phases() {
        let config = ServerConfig {
            no_latency: true,
            ..ServerConfig::default()
        };
        let plan = Plan::draw(
            &ask(Some(3), true),
            &config.llm,
            &Faults::new(&config),
            None,
        );
        assert_eq!(
            (plan.ttft_base, plan.tpot),
            (Duration::ZERO, Duration::ZERO)
        );
        let defaults = ServerConfig::default();
        let plan = Plan::draw(
            &ask(Some(3), true),
            &defaults.llm,
            &Faults::new(&defaults),
            None,
        );
        assert_eq!(plan.ttft_base, Duration::from_millis(20));
        assert_eq!(plan.tpot, Duration::from_millis(10));
    }
}

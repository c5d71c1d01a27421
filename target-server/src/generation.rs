//! The agent's generation model: when each chunk of an answer is due, and what it says.
//!
//! A plan is drawn once per request (time to first chunk, gap between chunks, chunk count,
//! each base + uniform spread) and then fixes every chunk's deadline as an offset from the
//! start: chunk `i` is due at `ttfc + i × gap`. Senders sleep until these absolute deadlines
//! rather than for a gap after each send, so timer lateness of one chunk is not carried into
//! the next and a client measures the modelled gaps, not their sum with scheduling error; and
//! they sleep on [`crate::precise_clock`], so that lateness is ~0.1 ms rather than tokio's 1–2.
use std::time::Duration;

use crate::config::{ChunkCount, AGENT_GAP, AGENT_TTFC};
use crate::faults::Faults;

/// One answer's timing and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationPlan {
    pub ttfc: Duration,
    pub gap: Duration,
    /// At least 1.
    pub chunks: u32,
}

/// The words chunks are made of, one per chunk in turn, so an answer reads like text and a
/// chunk's position shows in it.
const WORDS: [&str; 16] = [
    "The", "agent", "streams", "its", "answer", "one", "chunk", "at", "a", "time,", "and", "Skein",
    "measures", "every", "gap.", "\n",
];

impl GenerationPlan {
    /// Draws a plan from the current latency model (`agent.ttfc`, `agent.gap`) and `chunks`.
    pub fn draw(faults: &Faults, chunks: ChunkCount) -> GenerationPlan {
        let mut rng = rand::rng();
        GenerationPlan {
            ttfc: faults.latency(AGENT_TTFC).draw(&mut rng),
            gap: faults.latency(AGENT_GAP).draw(&mut rng),
            chunks: chunks.draw(&mut rng).max(1),
        }
    }

    /// When chunk `i` (from 0) is due, after the start.
    pub fn due(&self, i: u32) -> Duration {
        self.ttfc + self.gap * i
    }

    /// When the last chunk is due: the whole generation's length.
    pub fn length(&self) -> Duration {
        self.due(self.chunks - 1)
    }

    /// How many chunks are due `elapsed` after the start.
    pub fn chunks_due(&self, elapsed: Duration) -> u32 {
        if elapsed < self.ttfc {
            return 0;
        }
        if self.gap.is_zero() {
            return self.chunks;
        }
        let after_first = (elapsed - self.ttfc).as_nanos() / self.gap.as_nanos();
        u32::try_from(after_first.saturating_add(1)).map_or(self.chunks, |n| n.min(self.chunks))
    }

    /// The text of chunk `i`.
    pub fn chunk_text(i: u32) -> String {
        let word = WORDS[i as usize % WORDS.len()];
        if word == "\n" {
            word.to_string()
        } else {
            format!("{word} ")
        }
    }

    /// The answer made of the first `chunks` chunks.
    pub fn answer(chunks: u32) -> String {
        (0..chunks).map(GenerationPlan::chunk_text).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ttfc_ms: u64, gap_ms: u64, chunks: u32) -> GenerationPlan {
        GenerationPlan {
            ttfc: Duration::from_millis(ttfc_ms),
            gap: Duration::from_millis(gap_ms),
            chunks,
        }
    }

    #[test]
    fn chunk_deadlines_are_offsets_from_the_start() {
        let p = plan(300, 30, 5);
        assert_eq!(p.due(0), Duration::from_millis(300));
        assert_eq!(p.due(4), Duration::from_millis(420));
        assert_eq!(p.length(), p.due(4));
    }

    #[test]
    fn chunks_due_count_deadlines_passed() {
        let p = plan(100, 10, 4);
        let at = |ms| p.chunks_due(Duration::from_millis(ms));
        assert_eq!((at(0), at(99), at(100), at(109), at(110)), (0, 0, 1, 1, 2));
        assert_eq!(at(130), 4);
        assert_eq!(at(10_000), 4, "never more than the plan has");
        assert_eq!(plan(5, 0, 7).chunks_due(Duration::from_millis(5)), 7);
    }

    #[test]
    fn the_answer_is_its_chunks_in_order() {
        let answer = GenerationPlan::answer(3);
        assert_eq!(answer, "The agent streams ");
        let joined: String = (0..40).map(GenerationPlan::chunk_text).collect();
        assert_eq!(joined, GenerationPlan::answer(40));
    }

    #[test]
    fn a_drawn_plan_stays_within_base_and_spread() {
        let config = crate::config::ServerConfig {
            no_latency: true,
            latency_overrides: vec![
                "agent.ttfc=50+10".parse().unwrap(),
                "agent.gap=10".parse().unwrap(),
            ],
            ..crate::config::ServerConfig::default()
        };
        let faults = Faults::new(&config);
        for _ in 0..50 {
            let p = GenerationPlan::draw(&faults, ChunkCount { base: 8, spread: 2 });
            assert!(p.ttfc >= Duration::from_millis(50) && p.ttfc <= Duration::from_millis(60));
            assert_eq!(p.gap, Duration::from_millis(10));
            assert!((8..=10).contains(&p.chunks));
        }
    }
}

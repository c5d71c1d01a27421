//! The decode engine: a fixed number of decode slots taken in arrival order, and each
//! answer's chunk deadlines.
//!
//! A real model server decodes a bounded batch; requests past it wait, and that wait is part
//! of their time to first token. Here the batch is a fair (FIFO) semaphore of `--llm-slots`
//! permits, held from the start of prefill until the answer's last chunk (or until the client
//! goes away). Deadlines are absolute, as in [`crate::generation`]: the first chunk is due at
//! slot + `llm.ttft` + prefill, and each later one at the previous deadline plus its gap, so
//! timer lateness of one chunk is not carried into the next; all waits sleep on
//! [`crate::precise_clock`].
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::{FaultKind, LlmConfig};
use super::metrics::LlmMetrics;
use super::model::Plan;
use crate::metrics::Metrics;
use crate::precise_clock::PreciseClock;

/// The LLM API's shared state: its flags, the decode slots, the streamed-request count the
/// periodic fault keys on.
pub struct Llm {
    pub config: LlmConfig,
    slots: Arc<Semaphore>,
    streamed: AtomicU64,
    metrics: Arc<Metrics>,
}

/// A held decode slot; counted in `target_llm_streams_in_flight` while held.
struct DecodeSlot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for DecodeSlot {
    fn drop(&mut self) {
        self.metrics
            .llm
            .streams_in_flight
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request in `target_llm_queued` while it waits, however the wait ends.
struct Queued<'a>(&'a LlmMetrics);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Llm {
    pub fn new(config: &LlmConfig, metrics: Arc<Metrics>) -> Llm {
        Llm {
            config: config.clone(),
            slots: Arc::new(Semaphore::new(config.llm_slots.max(1))),
            streamed: AtomicU64::new(0),
            metrics,
        }
    }

    /// The fault for a request: the `x-llm-fault` header's if given, else `--llm-fault` on
    /// every `--llm-fault-every`th streamed request.
    pub fn fault_for(&self, requested: Option<FaultKind>, stream: bool) -> Option<FaultKind> {
        if requested.is_some() {
            return requested;
        }
        let every = self.config.llm_fault_every;
        if !stream || every == 0 {
            return None;
        }
        let n = self.streamed.fetch_add(1, Ordering::Relaxed) + 1;
        if n.checked_rem(every) == Some(0) {
            self.config.llm_fault
        } else {
            None
        }
    }

    /// Waits for a decode slot (FIFO) and starts decoding `plan` of a request that arrived at
    /// `arrived`. Times count from the arrival, so the server's own work on the request
    /// (reading it, drawing its plan) is inside the modelled time to first token, not added.
    pub async fn start(&self, plan: Plan, clock: PreciseClock, arrived: Instant) -> Decoding {
        let metrics = &self.metrics.llm;
        let (permit, queued) = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => {
                metrics.queued.fetch_add(1, Ordering::Relaxed);
                let _queued = Queued(metrics);
                let permit = self.slots.clone().acquire_owned().await;
                (permit.expect("the decode semaphore is never closed"), true)
            }
        };
        // A request that found a free slot did not queue.
        let slot_at = if queued { Instant::now() } else { arrived };
        let queue = slot_at.saturating_duration_since(arrived);
        metrics.streams_in_flight.fetch_add(1, Ordering::Relaxed);
        Decoding {
            queue,
            next_due: slot_at + plan.ttft_after_slot(),
            plan,
            clock,
            slowdown: self.config.llm_decode_slowdown,
            metrics: self.metrics.clone(),
            sent: 0,
            delay: Duration::ZERO,
            _slot: DecodeSlot {
                _permit: permit,
                metrics: self.metrics.clone(),
            },
        }
    }
}

/// One chunk, due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Position among the answer's chunks, from 0.
    pub index: usize,
    /// Number (from 1) of its first token.
    pub first_token: u32,
    pub tokens: u32,
    pub last: bool,
}

/// An answer being decoded: it holds its slot, and hands out chunks at their deadlines.
pub struct Decoding {
    pub plan: Plan,
    /// How long the request waited for its slot.
    pub queue: Duration,
    clock: PreciseClock,
    slowdown: f64,
    metrics: Arc<Metrics>,
    next_due: Instant,
    sent: usize,
    /// Extra wait added to the next deadline (the `stall` fault).
    delay: Duration,
    _slot: DecodeSlot,
}

impl Decoding {
    /// Chunks handed out so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// The `x-llm-truth` header value.
    pub fn truth(&self) -> String {
        self.plan.truth(self.queue)
    }

    /// Delays the next chunk (or the end, after the last) by `extra`, and every later one.
    pub fn delay(&mut self, extra: Duration) {
        self.delay += extra;
    }

    /// Sleeps out a pending delay (the end of an answer has no deadline of its own).
    pub async fn settle(&mut self) {
        let delay = std::mem::take(&mut self.delay);
        self.clock.sleep(delay).await;
    }

    /// The next chunk, once due; `None` after the last. A chunk's tokens are counted in
    /// `target_llm_output_tokens_total` when it is handed out.
    pub async fn next_chunk(&mut self) -> Option<Chunk> {
        let tokens = *self.plan.chunks.get(self.sent)?;
        if self.sent > 0 {
            // Generations in flight now, this one included.
            let in_flight = self
                .metrics
                .llm
                .streams_in_flight
                .load(Ordering::Relaxed)
                .max(1);
            let factor = 1.0 + self.slowdown * (in_flight - 1) as f64;
            self.next_due += self.plan.tpot.saturating_mul(tokens).mul_f64(factor);
        }
        self.next_due += std::mem::take(&mut self.delay);
        self.clock.sleep_until(self.next_due).await;
        let index = self.sent;
        self.sent += 1;
        self.metrics
            .llm
            .output_tokens
            .fetch_add(u64::from(tokens), Ordering::Relaxed);
        Some(Chunk {
            index,
            first_token: self.plan.chunks[..index].iter().sum::<u32>() + 1,
            tokens,
            last: self.sent == self.plan.chunks.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::model::Finish;

    fn plan(chunks: Vec<u32>, ttft_ms: u64, tpot_ms: u64) -> Plan {
        Plan {
            input_tokens: 0,
            output_tokens: chunks.iter().sum(),
            finish: Finish::Stop,
            chunks,
            ttft_base: Duration::from_millis(ttft_ms),
            prefill: Duration::ZERO,
            tpot: Duration::from_millis(tpot_ms),
            fault: None,
        }
    }

    #[tokio::test]
    async fn chunks_come_at_ttft_then_k_times_tpot() {
        let llm = Llm::new(&LlmConfig::default(), Arc::new(Metrics::default()));
        let clock = PreciseClock::start().unwrap();
        let start = Instant::now();
        let mut d = llm.start(plan(vec![1, 3, 2], 10, 4), clock, start).await;
        let mut at = Vec::new();
        while let Some(c) = d.next_chunk().await {
            at.push((c.first_token, c.tokens, c.last, start.elapsed()));
        }
        let due = [10, 22, 30].map(Duration::from_millis);
        for ((_, _, _, t), due) in at.iter().zip(due) {
            assert!(*t >= due && *t < due + Duration::from_millis(5), "{at:?}");
        }
        let shape: Vec<_> = at.iter().map(|(f, n, l, _)| (*f, *n, *l)).collect();
        assert_eq!(shape, [(1, 1, false), (2, 3, false), (5, 2, true)]);
        assert_eq!(llm.metrics.llm.output_tokens.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn the_periodic_fault_hits_every_nth_streamed_request() {
        let config = LlmConfig {
            llm_fault: Some(FaultKind::Stall),
            llm_fault_every: 3,
            ..LlmConfig::default()
        };
        let llm = Llm::new(&config, Arc::new(Metrics::default()));
        let hits: Vec<_> = (0..6).map(|_| llm.fault_for(None, true)).collect();
        assert_eq!(hits.iter().filter(|f| f.is_some()).count(), 2);
        assert_eq!(hits[2], Some(FaultKind::Stall));
        assert_eq!(llm.fault_for(None, false), None, "only streamed requests");
        assert_eq!(
            llm.fault_for(Some(FaultKind::Cut), false),
            Some(FaultKind::Cut),
            "the header always applies"
        );
    }
}

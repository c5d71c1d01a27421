//! Admission control: a bounded number of requests in service and a bounded queue in front
//! of it. Past either bound the server answers 429 with `Retry-After` at once, so overload
//! shows as shedding, never as an unbounded queue or unbounded memory.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

pub struct Admission {
    slots: Arc<Semaphore>,
    capacity: usize,
    queue_limit: usize,
    queue_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// A held capacity slot; dropping it frees the slot.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The request was shed: capacity and queue were full, or the wait timed out.
#[derive(Debug)]
pub struct Shed;

impl Admission {
    pub fn new(
        capacity: usize,
        queue_limit: usize,
        queue_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(capacity.max(1))),
            capacity: capacity.max(1),
            queue_limit,
            queue_timeout,
            metrics,
        }
    }

    pub async fn admit(&self) -> Result<Slot, Shed> {
        let slot = |permit| {
            self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
            Slot {
                _permit: permit,
                metrics: self.metrics.clone(),
            }
        };
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(slot(permit));
        }
        let waiting = self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let result = if waiting >= self.queue_limit {
            Err(Shed)
        } else {
            match tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await
            {
                Ok(Ok(permit)) => Ok(slot(permit)),
                _ => Err(Shed),
            }
        };
        self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
        if result.is_err() {
            self.metrics.add_shed();
        }
        result
    }

    /// (limit, remaining) for the `X-RateLimit-*` headers: slots plus queue places.
    pub fn limit_and_remaining(&self) -> (usize, usize) {
        let limit = self.capacity + self.queue_limit;
        let queued = self.metrics.queue_depth.load(Ordering::Relaxed);
        let remaining = self.slots.available_permits() + self.queue_limit.saturating_sub(queued);
        (limit, remaining.min(limit))
    }
}

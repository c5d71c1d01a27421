//! The deadline clock the server's modelled waits sleep on: method service times, stalls, an
//! agent answer's time to first chunk and its chunk deadlines.
//!
//! The server exists so that a load generator can check its own accuracy against known waits,
//! so a wait should end at its deadline. Tokio's timer cannot promise that: its wheel has 1 ms
//! slots and rounds a deadline up to the next one, so every wait ends about 1–2 ms late. This
//! clock is one dedicated OS thread holding a min-heap of (deadline, oneshot sender). It sleeps
//! on a condition variable with a timeout, which the kernel ends with a high-resolution timer
//! (within the thread's timer slack, 50 µs by default on Linux), until the earliest deadline,
//! then completes every entry that is due. A wait thus ends about 0.05–0.1 ms after its
//! deadline on an idle machine, instead of 1–2 ms.
//!
//! Cost per wait: one lock and one heap push to register, and a notification of the clock thread
//! only when the new deadline is the earliest. The thread wakes once per batch of due deadlines
//! and sends to each waiter outside the lock. A wait whose future is dropped (its client went
//! away) leaves its entry behind; once at least half of the heap is such leftovers, the dropping
//! task sweeps them out, so cancelling costs amortised O(1) and the heap stays bounded by the
//! waits still pending.
use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// A handle on a running clock thread; cheap to clone. The thread stops when the last handle
/// is dropped (no wait can be pending then: a wait borrows its handle).
#[derive(Clone)]
pub struct PreciseClock {
    thread: Arc<ClockThread>,
}

/// Owns the clock thread's lifetime: dropping it tells the thread to stop.
struct ClockThread {
    shared: Arc<Shared>,
}

/// What the clock thread and the waiting tasks share.
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the clock thread: a new earliest deadline, or stop.
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Registrations so far: ties on a deadline complete in registration order.
    registered: u64,
    /// Waits dropped before their deadline since the last sweep; their entries may still be in
    /// the heap.
    abandoned: usize,
    stopping: bool,
}

/// One pending wait.
struct Entry {
    deadline: Instant,
    order: u64,
    due: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        (self.deadline, self.order) == (other.deadline, other.order)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Entry) -> std::cmp::Ordering {
        (self.deadline, self.order).cmp(&(other.deadline, other.order))
    }
}

impl Shared {
    /// The queue, even if a waiter panicked while holding it: every change to it is a single
    /// heap operation or counter update, so it is never left half-changed.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a wait dropped before its deadline and sweeps out the entries of dropped waits
    /// once they make up at least half of the heap.
    fn abandon(&self) {
        let mut queue = self.queue();
        queue.abandoned += 1;
        if queue.abandoned * 2 >= queue.heap.len() {
            queue.heap.retain(|Reverse(entry)| !entry.due.is_closed());
            queue.abandoned = 0;
        }
    }
}

impl PreciseClock {
    /// Starts the clock thread.
    pub fn start() -> std::io::Result<PreciseClock> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let runs = shared.clone();
        std::thread::Builder::new()
            .name("precise-clock".into())
            .spawn(move || run(&runs))?;
        Ok(PreciseClock {
            thread: Arc::new(ClockThread { shared }),
        })
    }

    /// Waits until `deadline`. Returns at once if it has passed. Dropping the future before
    /// the deadline cancels the wait.
    pub async fn sleep_until(&self, deadline: Instant) {
        if deadline <= Instant::now() {
            return;
        }
        let mut wait = Wait {
            due: self.register(deadline),
            shared: &self.thread.shared,
            ended: false,
        };
        if (&mut wait.due).await.is_err() {
            // Only a panic can end the clock thread while a handle is alive; keep the deadline
            // on tokio's coarser timer rather than end the wait early.
            tokio::time::sleep_until(deadline.into()).await;
        }
        wait.ended = true;
    }

    /// Waits for `duration` from now.
    pub async fn sleep(&self, duration: Duration) {
        if !duration.is_zero() {
            self.sleep_until(Instant::now() + duration).await;
        }
    }

    /// Waits registered and not yet completed or swept out, dropped ones included.
    pub fn pending(&self) -> usize {
        self.thread.shared.queue().heap.len()
    }

    fn register(&self, deadline: Instant) -> oneshot::Receiver<()> {
        let (due, receiver) = oneshot::channel();
        let shared = &self.thread.shared;
        let mut queue = shared.queue();
        let order = queue.registered;
        queue.registered += 1;
        let earliest = queue
            .heap
            .peek()
            .is_none_or(|Reverse(first)| deadline < first.deadline);
        queue.heap.push(Reverse(Entry {
            deadline,
            order,
            due,
        }));
        drop(queue);
        if earliest {
            // The thread sleeps until a later deadline (or indefinitely): it must re-aim.
            shared.wake.notify_one();
        }
        receiver
    }
}

/// A registered wait; dropped before it ended, it closes its receiver and counts itself as
/// abandoned so that its entry can be swept out.
struct Wait<'a> {
    due: oneshot::Receiver<()>,
    shared: &'a Shared,
    ended: bool,
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.due.close();
            self.shared.abandon();
        }
    }
}

impl Drop for ClockThread {
    fn drop(&mut self) {
        self.shared.queue().stopping = true;
        self.shared.wake.notify_one();
    }
}

/// The clock thread: sleep until the earliest deadline, complete every due entry, repeat.
fn run(shared: &Shared) {
    let mut due = Vec::new();
    let mut queue = shared.queue();
    loop {
        if queue.stopping {
            return;
        }
        let now = Instant::now();
        while let Some(first) = queue.heap.peek_mut() {
            if first.0.deadline > now {
                break;
            }
            due.push(PeekMut::pop(first).0.due);
        }
        if !due.is_empty() {
            // Wake the waiters without the lock, so registrations are not held up meanwhile.
            drop(queue);
            for waiter in due.drain(..) {
                let _ = waiter.send(());
            }
            queue = shared.queue();
            continue;
        }
        queue = match queue.heap.peek() {
            None => shared
                .wake
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner),
            Some(Reverse(first)) => {
                let timeout = first.deadline - now;
                shared
                    .wake
                    .wait_timeout(queue, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    fn clock() -> PreciseClock {
        PreciseClock::start().expect("clock thread")
    }

    /// Yields until `done` holds, for at most 5 s (a generous bound for a loaded machine).
    async fn eventually(mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < give_up, "condition never held");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn waits_end_in_deadline_order_never_before_their_deadline() {
        let clock = clock();
        let start = Instant::now();
        let ended = Arc::new(StdMutex::new(Vec::new()));
        // Registered out of order, with two equal deadlines (they end in registration order).
        let offsets_ms = [30u64, 10, 20, 5, 20, 0];
        let tasks: Vec<_> = offsets_ms
            .iter()
            .enumerate()
            .map(|(i, &ms)| {
                let (clock, ended) = (clock.clone(), ended.clone());
                let deadline = start + Duration::from_millis(ms);
                tokio::spawn(async move {
                    clock.sleep_until(deadline).await;
                    assert!(Instant::now() >= deadline, "wait {i} ended early");
                    ended.lock().unwrap().push(i);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let ended = ended.lock().unwrap().clone();
        let position = |i| ended.iter().position(|&e| e == i).unwrap();
        assert!(position(5) < position(3) && position(3) < position(1));
        assert!(position(1) < position(2) && position(2) < position(4));
        assert!(position(4) < position(0));
        assert_eq!(clock.pending(), 0);
    }

    #[tokio::test]
    async fn a_passed_deadline_or_zero_wait_returns_at_once_without_registering() {
        let clock = clock();
        clock.sleep_until(Instant::now()).await;
        clock.sleep(Duration::ZERO).await;
        assert_eq!(clock.pending(), 0);
        assert_eq!(clock.thread.shared.queue().registered, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_waiters_all_wake_after_their_deadlines() {
        let clock = clock();
        let start = Instant::now();
        let tasks: Vec<_> = (0..2_000u64)
            .map(|i| {
                let clock = clock.clone();
                let deadline = start + Duration::from_micros(10_000 + (i * 7_919) % 40_000);
                tokio::spawn(async move {
                    clock.sleep_until(deadline).await;
                    Instant::now() >= deadline
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "a wait ended before its deadline");
        }
        assert_eq!(clock.pending(), 0);
    }

    #[tokio::test]
    async fn dropped_waits_are_swept_out_of_the_heap() {
        let clock = clock();
        let far = Instant::now() + Duration::from_secs(3_600);
        let waits: Vec<_> = (0..1_000)
            .map(|_| {
                let clock = clock.clone();
                tokio::spawn(async move { clock.sleep_until(far).await })
            })
            .collect();
        eventually(|| clock.pending() == 1_000).await;
        for w in &waits {
            w.abort();
        }
        for w in waits {
            assert!(w.await.unwrap_err().is_cancelled());
        }
        // Sweeps ran each time half of the heap was abandoned, the last one on the last drop.
        assert_eq!(clock.pending(), 0);
        // A wait dropped by its own task (a timeout here) is swept out too.
        let timed_out = tokio::time::timeout(Duration::from_millis(1), clock.sleep_until(far));
        assert!(timed_out.await.is_err());
        assert_eq!(clock.pending(), 0);
    }

    #[tokio::test]
    async fn an_earlier_deadline_wakes_a_clock_sleeping_until_a_later_one() {
        let clock = clock();
        let later = Instant::now() + Duration::from_secs(3_600);
        let long = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(later).await }
        });
        eventually(|| clock.pending() == 1).await;
        // Were the clock thread not re-aimed, this would wait an hour.
        let soon = tokio::time::timeout(
            Duration::from_secs(5),
            clock.sleep(Duration::from_millis(5)),
        );
        assert!(soon.await.is_ok(), "the earlier wait did not end");
        long.abort();
        let _ = long.await;
        assert_eq!(clock.pending(), 0);
    }
}

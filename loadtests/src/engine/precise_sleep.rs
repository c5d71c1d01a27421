//! Sleeping until an instant with microsecond precision, on the runtime's own threads.
//!
//! tokio's timers have a 1 ms resolution, too coarse for arrivals 100 µs apart. A dispatcher
//! on a thread of its own sleeps precisely, but each of its wake-ups then costs two context
//! switches and a cross-thread wake of a runtime worker; on the one core a generator is often
//! given, that cost more CPU per request than sending the request (measured with `perf stat`:
//! 1.2 context switches per request against closed users' 0.2). On Linux a `timerfd`
//! registered with the runtime's I/O driver wakes the sleeping task within microseconds, and a
//! worker that is awake anyway for answers notices it on its next poll: no thread, no switch.
//! Elsewhere the sleep falls back to tokio's timer (1 ms resolution).
use std::time::Instant;

/// A reusable precise sleep for one task.
pub struct PreciseSleep {
    #[cfg(target_os = "linux")]
    timer: linux::TimerFd,
}

impl PreciseSleep {
    /// A sleep on the current runtime (call it from within one).
    pub fn new() -> std::io::Result<PreciseSleep> {
        Ok(PreciseSleep {
            #[cfg(target_os = "linux")]
            timer: linux::TimerFd::new()?,
        })
    }

    /// Returns at `at` or just after it.
    pub async fn until(&mut self, at: Instant) -> std::io::Result<()> {
        let now = Instant::now();
        if at <= now {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        return self.timer.wait(at - now).await;
        #[cfg(not(target_os = "linux"))]
        {
            tokio::time::sleep_until(at.into()).await;
            Ok(())
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Duration;

    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{self, ClockId, Expiration, TimerFlags, TimerSetTimeFlags};
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// A monotonic, non-blocking timerfd, readable once it expired.
    struct Fd(timerfd::TimerFd);

    impl AsRawFd for Fd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    pub struct TimerFd(AsyncFd<Fd>);

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            let fd = timerfd::TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            // tokio deprecates its safe constructor because an `AsRawFd` type could close or
            // swap its descriptor while registered (its replacement is `unsafe`, which this
            // workspace forbids). `Fd` owns its descriptor privately until the `AsyncFd` drops
            // it, which is exactly the contract the `unsafe` version asks for.
            #[allow(deprecated)]
            let registered = AsyncFd::with_interest(Fd(fd), Interest::READABLE)?;
            Ok(TimerFd(registered))
        }

        /// Waits `after` (more than zero: a zero expiration would disarm the timer).
        pub async fn wait(&mut self, after: Duration) -> io::Result<()> {
            let expiration = Expiration::OneShot(TimeSpec::from_duration(after));
            self.0
                .get_ref()
                .0
                .set(expiration, TimerSetTimeFlags::empty())?;
            loop {
                let mut ready = self.0.readable().await?;
                // `WouldBlock` means the readiness was stale (from before this `set`).
                match ready.try_io(|fd| fd.get_ref().0.wait().map_err(io::Error::from)) {
                    Ok(result) => {
                        // The expiration was read: the timer is not readable until it is set
                        // and expires again, so the next wait need not read to find that out.
                        ready.clear_ready();
                        return result;
                    }
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn it_returns_after_the_instant_and_at_once_for_one_past() {
        let mut sleep = PreciseSleep::new().unwrap();
        for micros in [300, 1_500, 50] {
            let at = Instant::now() + Duration::from_micros(micros);
            sleep.until(at).await.unwrap();
            assert!(Instant::now() >= at, "woke before {micros} µs");
        }
        let before = Instant::now();
        sleep
            .until(before - Duration::from_millis(5))
            .await
            .unwrap();
        sleep.until(before).await.unwrap();
    }
}

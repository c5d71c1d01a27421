//! What the generator process itself uses, and what a child process it started (the embedded
//! reference server) uses, read from /proc (Linux).
//!
//! /proc avoids a libc dependency for two numbers; on other systems both read as 0.

/// CPU time (user + system) of this process so far, in seconds.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self")
}

/// Peak resident set size (VmHWM) in bytes.
pub fn peak_rss_bytes() -> u64 {
    status_kib("/proc/self", "VmHWM:") * 1024
}

/// Current resident set size (VmRSS) in bytes.
pub fn rss_bytes() -> u64 {
    status_kib("/proc/self", "VmRSS:") * 1024
}

/// Current resident set size of another live process (0 once it is gone), e.g. a server or
/// generator a benchmark watches.
pub fn rss_bytes_of(pid: u32) -> u64 {
    status_kib(&format!("/proc/{pid}"), "VmRSS:") * 1024
}

/// CPU seconds and peak RSS of another live process, e.g. a child before it is stopped.
pub fn of_process(pid: u32) -> reports::GeneratorResources {
    let dir = format!("/proc/{pid}");
    reports::GeneratorResources {
        cpu_seconds: cpu_seconds_in(&dir),
        peak_rss_bytes: status_kib(&dir, "VmHWM:") * 1024,
    }
}

fn cpu_seconds_in(proc_dir: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("{proc_dir}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; field 3 is the first after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on every Linux architecture Skein targets.
    (ticks(11) + ticks(12)) / 100.0
}

fn status_kib(proc_dir: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("{proc_dir}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    /// CPU time counts work done (and no more than the wall time allows), and RSS counts
    /// memory touched. Work is measured by its own clock, not the wall's: a machine busy with
    /// other processes gives this thread a small share of 200 ms of wall time.
    #[test]
    fn reads_this_process() {
        let cpu_before = super::cpu_seconds();
        let started = Instant::now();
        let mut x = 0u64;
        let mut used = 0.0;
        while used < 0.1 && started.elapsed().as_secs() < 60 {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(7));
            }
            used = super::cpu_seconds() - cpu_before;
        }
        assert!(used >= 0.1, "busy work never showed as CPU time: {used} s");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let wall = started.elapsed().as_secs_f64();
        assert!(
            used <= wall * cores + 0.05,
            "{used} s of CPU in {wall} s of wall time"
        );

        let rss_before = super::rss_bytes();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let grown = super::rss_bytes().saturating_sub(rss_before);
        assert!(
            grown >= 48 << 20,
            "64 MiB touched, RSS grew by {grown} bytes"
        );
        assert!(super::peak_rss_bytes() >= super::rss_bytes());
        // Read by pid, this process reads as it does through /proc/self.
        let by_pid = super::of_process(std::process::id());
        assert!(by_pid.cpu_seconds >= used);
        assert!(by_pid.peak_rss_bytes >= 48 << 20);
        assert!(super::rss_bytes_of(std::process::id()) >= 48 << 20);
    }
}

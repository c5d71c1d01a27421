//! Sharing a run's users among workers.
use crate::distributed::protocol::StageShare;
use crate::scenario::Stage;

/// Worker `rank` of `workers`'s part of `total`: an even split whose remainders go to
/// different workers in different stages (`rotation`), so no worker is always the heavy one.
pub fn split(total: u64, workers: usize, rank: usize, rotation: usize) -> u64 {
    let n = workers.max(1) as u64;
    let extra = total % n;
    let position = ((rank + rotation) % workers.max(1)) as u64;
    total / n + u64::from(position < extra)
}

/// One worker's stages: its users per stage, and a spawn rate in proportion to its users
/// (so all workers finish a ramp together). Every worker runs the scenario's class weights.
pub fn worker_stages(stages: &[Stage], workers: usize, rank: usize) -> Vec<StageShare> {
    stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let users = split(s.users, workers, rank, i);
            let spawn_rate = if s.users == 0 {
                s.spawn_rate / workers.max(1) as f64
            } else {
                s.spawn_rate * users as f64 / s.users as f64
            };
            StageShare {
                users,
                spawn_rate: spawn_rate.max(0.1),
                duration_ms: s.duration.as_millis() as u64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [0u64, 1, 7, 10, 100, 501] {
            for workers in 1..=7 {
                for rotation in 0..3 {
                    let parts: Vec<u64> = (0..workers)
                        .map(|r| split(total, workers, r, rotation))
                        .collect();
                    assert_eq!(parts.iter().sum::<u64>(), total);
                    let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                    assert!(max - min <= 1, "{parts:?}");
                }
            }
        }
    }

    #[test]
    fn remainders_rotate_between_stages() {
        let stages: Vec<Stage> = (0..3)
            .map(|_| Stage {
                users: 4,
                spawn_rate: 4.0,
                duration: Duration::from_secs(1),
            })
            .collect();
        let first: Vec<u64> = worker_stages(&stages, 3, 0)
            .iter()
            .map(|s| s.users)
            .collect();
        let second: Vec<u64> = worker_stages(&stages, 3, 1)
            .iter()
            .map(|s| s.users)
            .collect();
        assert_eq!(first, [2, 1, 1]);
        assert_eq!(second, [1, 1, 2]);
        let rate: f64 = (0..3)
            .map(|r| worker_stages(&stages, 3, r)[0].spawn_rate)
            .sum();
        assert!((rate - 4.0).abs() < 1e-9);
    }
}

//! Sharing a run's users among workers, class by class.
//!
//! The manager works out the classes a standalone run would start, in their start order
//! ([`crate::start_order`]), and deals them out like cards: the run's `p`-th user goes to
//! worker `p mod n`. A worker's users in a stage are its dealt users among the stage's first
//! ones, and it starts them in dealt order. Because goose stops the newest users first, at
//! every stage the workers together run the classes a standalone run would, and each class's
//! users differ by at most one between workers (remainders spread evenly).
use crate::distributed::protocol::{ClassRun, StageShare};
use crate::scenario::{Scenario, Stage};
use crate::start_order::{order_of, runs_of};
use crate::users::UserClass;

/// Worker `rank` of `workers`'s part of `total` dealt users.
pub fn split(total: u64, workers: usize, rank: usize) -> u64 {
    let n = workers.max(1) as u64;
    total / n + u64::from((rank as u64) < total % n)
}

/// One worker's stages: its users per stage, and a spawn rate in proportion to its users
/// (so all workers finish a ramp together).
pub fn worker_stages(stages: &[Stage], workers: usize, rank: usize) -> Vec<StageShare> {
    stages
        .iter()
        .map(|s| {
            let users = split(s.users, workers, rank);
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

/// One worker's users by class in its start order, as runs of equal classes.
pub fn worker_launch_order(scenario: &Scenario, workers: usize, rank: usize) -> Vec<ClassRun> {
    let order = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
    runs_of(order.into_iter().skip(rank).step_by(workers.max(1)))
        .into_iter()
        .map(|(class, users)| ClassRun {
            class: class.name().to_string(),
            users,
        })
        .collect()
}

/// A worker's users by class, for its log: `TrainingAPIUser 3, BurstTrainingUser 1`.
pub fn summary(runs: &[ClassRun]) -> String {
    let mut counts: Vec<(&str, u32)> = Vec::new();
    for run in runs {
        match counts.iter_mut().find(|(c, _)| *c == run.class) {
            Some((_, n)) => *n += run.users,
            None => counts.push((&run.class, run.users)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    parts.join(", ")
}

/// The classes of a worker's users in start order, from the manager's runs.
pub fn expand(runs: &[ClassRun]) -> Result<Vec<UserClass>, String> {
    let mut order = Vec::new();
    for run in runs {
        let class = UserClass::from_name(&run.class).ok_or_else(|| {
            format!(
                "the manager sent an unknown user class `{}`; run the same skein version on both",
                run.class
            )
        })?;
        order.extend(std::iter::repeat_n(class, run.users as usize));
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{load, SHIPPED};
    use crate::start_order::{goose_order, registrations, total_users};
    use std::time::Duration;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for total in [0u64, 1, 7, 10, 100, 501] {
            for workers in 1..=7 {
                let parts: Vec<u64> = (0..workers).map(|r| split(total, workers, r)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total);
                let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                assert!(max - min <= 1, "{parts:?}");
            }
        }
    }

    /// Replays goose on every worker: at each stage of every shipped scenario, the workers'
    /// started users have, class by class, the counts of a standalone run's.
    #[test]
    fn every_stage_runs_a_standalone_runs_classes_whatever_the_workers() {
        for (name, _) in SHIPPED {
            let scenario = load(name).unwrap();
            let standalone = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
            for workers in 1..=5 {
                let started: Vec<Vec<UserClass>> = (0..workers)
                    .map(|rank| {
                        let stages: Vec<Stage> = worker_stages(&scenario.stages, workers, rank)
                            .iter()
                            .map(|s| Stage {
                                users: s.users,
                                spawn_rate: s.spawn_rate,
                                duration: Duration::from_millis(s.duration_ms),
                            })
                            .collect();
                        let explicit =
                            expand(&worker_launch_order(&scenario, workers, rank)).unwrap();
                        let total = total_users(&stages);
                        let (registered, allocation) = registrations(
                            &scenario.classes,
                            scenario.allocation,
                            Some(&explicit),
                            total,
                        );
                        goose_order(&registered, allocation, total)
                    })
                    .collect();
                for stage in &scenario.stages {
                    let mut together: Vec<UserClass> = (0..workers)
                        .flat_map(|rank| {
                            let users = split(stage.users, workers, rank) as usize;
                            started[rank][..users].to_vec()
                        })
                        .collect();
                    let mut alone = standalone[..stage.users as usize].to_vec();
                    together.sort();
                    alone.sort();
                    assert_eq!(together, alone, "{name}, {workers} workers, {stage:?}");
                }
            }
        }
    }

    #[test]
    fn two_workers_share_a_one_to_one_mix_of_two_users_one_class_each() {
        let mut scenario = load("light").unwrap();
        scenario.stages[0].users = 2;
        let first = expand(&worker_launch_order(&scenario, 2, 0)).unwrap();
        let second = expand(&worker_launch_order(&scenario, 2, 1)).unwrap();
        assert_ne!(first, second);
    }
}

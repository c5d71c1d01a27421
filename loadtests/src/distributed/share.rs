//! Sharing a run's users among workers, class by class.
//!
//! The manager works out the classes a standalone run would start, in their start order
//! ([`crate::plan`]), and deals them out like cards: the run's `p`-th user goes to worker
//! `p mod n`. A worker's users in a stage are its dealt users among the stage's first ones,
//! and it starts them in dealt order. Because executors stop the newest users first, at every
//! stage the workers together run the classes a standalone run would, and each class's users
//! differ by at most one between workers (remainders spread evenly).
use std::time::Duration;

use crate::distributed::protocol::{ClassRun, StageShare};
use crate::plan::{order_of, runs_of, think_times, LaunchPlan};
use crate::scenario::{Scenario, Stage};
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
                duration_ms: u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX),
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

/// A worker's launch plan from its share: `stages` (what is left of them) and its dealt
/// users' classes.
pub fn worker_plan(
    scenario: &Scenario,
    stages: Vec<Stage>,
    launch_order: &[ClassRun],
) -> Result<LaunchPlan, String> {
    Ok(LaunchPlan {
        start_order: expand(launch_order)?,
        think_times: think_times(&scenario.classes),
        stages,
    })
}

/// The stages left of a share once `elapsed` of the run has passed.
pub fn remaining(stages: &[StageShare], elapsed: Duration) -> Vec<Stage> {
    let mut t = Duration::ZERO;
    let mut left = Vec::new();
    for s in stages {
        let end = t.saturating_add(Duration::from_millis(s.duration_ms));
        if end > elapsed {
            left.push(Stage {
                users: s.users,
                spawn_rate: s.spawn_rate,
                duration: end - elapsed.max(t),
            });
        }
        t = end;
    }
    left
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
    use crate::engine::closed::started_by_goose;
    use crate::plan::total_users;
    use crate::scenario::{load, SHIPPED};

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

    /// Replays the engine on every worker: at each stage of every shipped scenario, the
    /// workers' started users have, class by class, the counts of a standalone run's.
    #[test]
    fn every_stage_runs_a_standalone_runs_classes_whatever_the_workers() {
        for (name, _) in SHIPPED {
            let scenario = load(name).unwrap();
            let standalone = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
            for workers in 1..=5 {
                let started: Vec<Vec<UserClass>> = (0..workers)
                    .map(|rank| {
                        let stages = remaining(
                            &worker_stages(&scenario.stages, workers, rank),
                            Duration::ZERO,
                        );
                        let plan = worker_plan(
                            &scenario,
                            stages,
                            &worker_launch_order(&scenario, workers, rank),
                        )
                        .unwrap();
                        started_by_goose(&plan.start_order, total_users(&plan.stages))
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

    /// Two users of a one-to-one mix on two workers: each worker runs one class, not both
    /// the same one and not nothing.
    #[test]
    fn two_workers_share_a_one_to_one_mix_of_two_users_one_class_each() {
        let mut scenario = load("light").unwrap();
        scenario.stages[0].users = 2;
        scenario.classes.iter_mut().for_each(|c| c.weight = 1);
        let first = expand(&worker_launch_order(&scenario, 2, 0)).unwrap();
        let second = expand(&worker_launch_order(&scenario, 2, 1)).unwrap();
        assert_eq!(first.len(), 1, "{first:?}");
        assert_eq!(second.len(), 1, "{second:?}");
        assert_ne!(first, second);
    }

    #[test]
    fn remaining_cuts_the_elapsed_part_of_the_share() {
        let share = |users, ms| StageShare {
            users,
            spawn_rate: 1.0,
            duration_ms: ms,
        };
        let left = remaining(
            &[share(2, 1_000), share(4, 2_000)],
            Duration::from_millis(1_500),
        );
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].users, 4);
        assert_eq!(left[0].duration, Duration::from_millis(1_500));
        assert!(remaining(&[share(2, 1_000)], Duration::from_secs(1)).is_empty());
    }
}

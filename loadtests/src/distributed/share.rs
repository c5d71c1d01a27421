//! Sharing a run's users among workers, class by class.
//!
//! The manager works out the classes a standalone run would start, in their start order
//! ([`crate::plan`]), and deals them out like cards: the run's `p`-th user goes to worker
//! `p mod n`. A worker's users in a stage are its dealt users among the stage's first ones,
//! and it starts them in dealt order. Because executors stop the newest users first, at every
//! stage the workers together run the classes a standalone run would, and each class's users
//! differ by at most one between workers (remainders spread evenly).
use std::time::Duration;

use crate::distributed::protocol::{Assignment, ClassRun, StageShare};
use crate::plan::{order_of, runs_of, LaunchPlan};
use crate::scenario::{Scenario, Stage};
use crate::users::data_table::RowDeal;
use crate::users::{DeclaredClass, UserClass};

/// Worker `rank` of `workers`'s part of `total` dealt users.
pub fn split(total: u64, workers: usize, rank: usize) -> u64 {
    let n = workers.max(1) as u64;
    total / n + u64::from((rank as u64) < total % n)
}

/// Worker `rank`'s part of an arrival rate: the rate in thousandths of an arrival per second
/// split like users, so the workers' rates add up to the scenario's exactly.
pub fn split_rate(rate: f64, workers: usize, rank: usize) -> f64 {
    let milli = (rate * 1000.0).round().clamp(0.0, u64::MAX as f64) as u64;
    split(milli, workers, rank) as f64 / 1000.0
}

/// One worker's stages: its users per stage, and a spawn rate in proportion to its users
/// (so all workers finish a ramp together); or, open, its part of each stage's rate.
pub fn worker_stages(stages: &[Stage], workers: usize, rank: usize) -> Vec<StageShare> {
    stages
        .iter()
        .map(|s| {
            let duration_ms = u64::try_from(s.duration.as_millis()).unwrap_or(u64::MAX);
            if let Some(rate) = s.rate {
                return StageShare {
                    users: 0,
                    spawn_rate: 0.0,
                    duration_ms,
                    rate: Some(split_rate(rate, workers, rank)),
                    ramp_ms: u64::try_from(s.ramp.as_millis()).unwrap_or(u64::MAX),
                };
            }
            let users = split(s.users, workers, rank);
            let spawn_rate = if s.users == 0 {
                s.spawn_rate / workers.max(1) as f64
            } else {
                s.spawn_rate * users as f64 / s.users as f64
            };
            StageShare {
                users,
                spawn_rate: spawn_rate.max(0.1),
                duration_ms,
                rate: None,
                ramp_ms: 0,
            }
        })
        .collect()
}

/// One worker's users by class in its start order, as runs of equal classes.
pub fn worker_launch_order(scenario: &Scenario, workers: usize, rank: usize) -> Vec<ClassRun> {
    let order = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
    dealt_runs(&order, workers, rank)
}

/// Every worker's [`worker_launch_order`], rank by rank, from one start order: sharing the
/// users anew among `workers` costs one pass over the run's users, not one per worker (at
/// 1,000 workers and as many users, a million steps each time a worker joins, leaves or
/// comes back).
pub fn launch_orders(scenario: &Scenario, workers: usize) -> Vec<Vec<ClassRun>> {
    let order = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
    (0..workers.max(1))
        .map(|rank| dealt_runs(&order, workers, rank))
        .collect()
}

/// The users of `order` dealt to worker `rank` of `workers`, as runs of equal classes
/// (a strided walk: `rank`'s users only are visited).
fn dealt_runs(order: &[UserClass], workers: usize, rank: usize) -> Vec<ClassRun> {
    runs_of(order.iter().copied().skip(rank).step_by(workers.max(1)))
        .into_iter()
        .map(|(class, users)| ClassRun {
            class: class.name().to_string(),
            users,
        })
        .collect()
}

/// For each declared class with a data file, which of the run's users of that class worker
/// `rank` of `workers` runs, so that its users take their rows (see `users::data_table`).
/// Closed model: its dealt users' places among the class's users in the run's start order,
/// the deal [`worker_launch_order`] makes. Open model (users are made as arrivals need them):
/// every `workers`-th user from `rank`.
pub fn row_deals(
    scenario: &Scenario,
    workers: usize,
    rank: usize,
) -> Vec<(&'static DeclaredClass, RowDeal)> {
    let workers = workers.max(1);
    let with_data = scenario.classes.iter().filter_map(|c| match c.class {
        UserClass::Declared(d) if d.data.is_some() => Some(d),
        _ => None,
    });
    if scenario.load_model() == reports::LoadModel::Open {
        let deal = RowDeal::Strided {
            first: rank as u64,
            stride: workers as u64,
        };
        return with_data.map(|d| (d, deal.clone())).collect();
    }
    let order = order_of(&scenario.classes, scenario.allocation, &scenario.stages);
    with_data
        .map(|d| {
            let class = UserClass::Declared(d);
            let places = order.iter().enumerate().filter(|(_, c)| **c == class);
            let users = places
                .enumerate()
                .filter(|(_, (p, _))| p % workers == rank)
                .map(|(k, _)| k as u64)
                .collect();
            (d, RowDeal::Dealt { users })
        })
        .collect()
}

/// A worker's launch plan from its share: `stages` (what is left of them) and its dealt
/// users' classes.
pub fn worker_plan(
    scenario: &Scenario,
    stages: Vec<Stage>,
    launch_order: &[ClassRun],
    max_in_flight: usize,
) -> Result<LaunchPlan, String> {
    let mut plan = LaunchPlan::standalone(scenario);
    plan.start_order = expand(launch_order, scenario)?;
    plan.stages = stages;
    plan.max_in_flight = max_in_flight.max(1);
    Ok(plan)
}

/// The stages left of a share once `elapsed` of the run has passed, and (open model) the
/// arrival rate reached by then, from which the rest of a ramp continues.
pub fn remaining(stages: &[StageShare], elapsed: Duration) -> (Vec<Stage>, f64) {
    let mut t = Duration::ZERO;
    let mut left = Vec::new();
    let mut rate_before = 0.0;
    let mut start_rate = 0.0;
    for s in stages {
        let end = t.saturating_add(Duration::from_millis(s.duration_ms));
        if end > elapsed {
            let duration = end - elapsed.max(t);
            left.push(match s.rate {
                None => Stage::closed(s.users, s.spawn_rate, duration),
                Some(rate) => {
                    let ramp = Duration::from_millis(s.ramp_ms);
                    let into = elapsed.saturating_sub(t);
                    if left.is_empty() {
                        start_rate = if ramp.is_zero() || into.is_zero() {
                            rate_before
                        } else {
                            let done = (into.as_secs_f64() / ramp.as_secs_f64()).min(1.0);
                            rate_before + (rate - rate_before) * done
                        };
                    }
                    Stage::open(rate, ramp.saturating_sub(into), duration)
                }
            });
        }
        rate_before = s.rate.unwrap_or(0.0);
        t = end;
    }
    (left, start_rate)
}

/// A worker's share, for its log: `users dealt to this worker: TrainingAPIUser 3,
/// BurstTrainingUser 1`, or (open model) `arrivals dealt to this worker: peak 50 arrivals/s,
/// at most 5000 in flight`.
pub fn summary(assignment: &Assignment) -> String {
    let peak_rate = assignment
        .stages
        .iter()
        .filter_map(|s| s.rate)
        .reduce(f64::max);
    if let Some(rate) = peak_rate {
        return format!(
            "arrivals dealt to this worker: peak {rate} arrivals/s, at most {} in flight",
            assignment.max_in_flight
        );
    }
    let mut counts: Vec<(&str, u32)> = Vec::new();
    for run in &assignment.launch_order {
        match counts.iter_mut().find(|(c, _)| *c == run.class) {
            Some((_, n)) => *n += run.users,
            None => counts.push((&run.class, run.users)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    format!("users dealt to this worker: {}", parts.join(", "))
}

/// The classes of a worker's users in start order, from the manager's runs; names are
/// resolved against the worker's own copy of the scenario (which declares any classes of the
/// file) and then the built-in classes.
pub fn expand(runs: &[ClassRun], scenario: &Scenario) -> Result<Vec<UserClass>, String> {
    let mut order = Vec::new();
    for run in runs {
        let declared = scenario.classes.iter().map(|c| c.class);
        let class = declared
            .chain(UserClass::ALL)
            .find(|c| c.name() == run.class)
            .ok_or_else(|| {
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
                        let (stages, _) = remaining(
                            &worker_stages(&scenario.stages, workers, rank),
                            Duration::ZERO,
                        );
                        let plan = worker_plan(
                            &scenario,
                            stages,
                            &worker_launch_order(&scenario, workers, rank),
                            1,
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

    /// The one-pass deal every rebalance uses gives each rank what it would get alone.
    #[test]
    fn launch_orders_are_each_workers_launch_order() {
        for (name, _) in SHIPPED {
            let scenario = load(name).unwrap();
            for workers in [1, 2, 3, 7, 40] {
                let all = launch_orders(&scenario, workers);
                assert_eq!(all.len(), workers);
                for (rank, order) in all.iter().enumerate() {
                    assert_eq!(
                        order,
                        &worker_launch_order(&scenario, workers, rank),
                        "{name}, {workers} workers, rank {rank}"
                    );
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
        let first = expand(&worker_launch_order(&scenario, 2, 0), &scenario).unwrap();
        let second = expand(&worker_launch_order(&scenario, 2, 1), &scenario).unwrap();
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
            rate: None,
            ramp_ms: 0,
        };
        let (left, _) = remaining(
            &[share(2, 1_000), share(4, 2_000)],
            Duration::from_millis(1_500),
        );
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].users, 4);
        assert_eq!(left[0].duration, Duration::from_millis(1_500));
        assert!(remaining(&[share(2, 1_000)], Duration::from_secs(1))
            .0
            .is_empty());
    }

    #[test]
    fn remaining_continues_a_ramp_from_the_rate_reached() {
        let open = |rate, ramp_ms, ms| StageShare {
            users: 0,
            spawn_rate: 0.0,
            duration_ms: ms,
            rate: Some(rate),
            ramp_ms,
        };
        let stages = [open(10.0, 0, 1_000), open(110.0, 2_000, 4_000)];
        // 1 s into the second stage's 2 s ramp from 10/s to 110/s: 60/s, 1 s of ramp left.
        let (left, start) = remaining(&stages, Duration::from_secs(2));
        assert_eq!(left.len(), 1);
        assert!((start - 60.0).abs() < 1e-9, "{start}");
        assert_eq!(left[0].ramp, Duration::from_secs(1));
        assert_eq!(left[0].duration, Duration::from_secs(3));
        let (_, start) = remaining(&stages, Duration::ZERO);
        assert_eq!(start, 0.0);
    }

    #[test]
    fn worker_rates_add_up_to_the_scenarios_exactly() {
        for rate in [0.0, 0.5, 1.0, 7.0, 50.0, 333.333, 10_000.0] {
            for workers in 1..=7 {
                let parts: Vec<f64> = (0..workers).map(|r| split_rate(rate, workers, r)).collect();
                let sum: f64 = parts.iter().sum();
                assert!((sum - rate).abs() < 1e-6, "{rate} over {workers}: {sum}");
                let max = parts.iter().cloned().fold(0.0, f64::max);
                let min = parts.iter().cloned().fold(f64::MAX, f64::min);
                assert!(max - min <= 0.001 + 1e-9, "{parts:?}");
            }
        }
    }
}

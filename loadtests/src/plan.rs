//! The launch plan: which users one process starts, in which order, through which stages.
//!
//! It is computed once, from a scenario ([`LaunchPlan::standalone`]) or from a worker's dealt
//! share ([`crate::distributed::share`]), and handed to an executor in [`crate::engine`]. The
//! order is Skein's own, not an engine's: `round-robin` interleaves the classes by weight
//! (smooth weighted round-robin, so any prefix of the users has the weights' mix), `serial`
//! starts them class by class in file order, weights being user counts. A falling stage stops
//! the newest users first, and a later rise continues the order where it stopped.
use std::time::Duration;

pub use crate::scenario::total_users;
use crate::scenario::{Allocation, Arrival, ClassMix, Scenario, Stage};
use crate::users::{ThinkTime, UserClass, WeightedPicker};

/// What one process runs.
#[derive(Clone, Debug, PartialEq)]
pub struct LaunchPlan {
    /// Each user's class, in start order; as long as [`total_users`] of the stages.
    pub start_order: Vec<UserClass>,
    /// Think time of each class in the order (a class absent here uses its default).
    pub think_times: Vec<(UserClass, ThinkTime)>,
    /// This process's users (or, open model, arrival rates) per stage.
    pub stages: Vec<Stage>,
    /// Open model: each class with its weight; every arrival picks one by these.
    pub class_weights: Vec<(UserClass, u32)>,
    /// Open model: how arrivals are spaced.
    pub arrival: Arrival,
    /// Open model: this process's bound on arrivals awaiting a response.
    pub max_in_flight: usize,
    /// Open model: the arrival rate the first stage's ramp starts from (0 at a run's start; a
    /// worker given a new share mid-ramp continues from the rate reached).
    pub start_rate: f64,
    /// Open model: the instant the schedule counts from (`None`: when the executor starts).
    /// A worker anchors it to the run's agreed start, so arrivals due while it was still
    /// getting ready are sent late (and their intended-time latency says so) rather than
    /// missing from the run.
    pub schedule_start: Option<std::time::Instant>,
    /// A live change of the load (the web dashboard's), when one may come: the arrival rate
    /// (open model) or the users (closed model; then `start_order` covers its `max_users`).
    pub load_control: Option<crate::load_control::LoadControl>,
}

impl LaunchPlan {
    /// A standalone run of `scenario`: all of its users.
    pub fn standalone(scenario: &Scenario) -> LaunchPlan {
        LaunchPlan {
            start_order: order_of(&scenario.classes, scenario.allocation, &scenario.stages),
            think_times: think_times(&scenario.classes),
            stages: scenario.stages.clone(),
            class_weights: scenario
                .classes
                .iter()
                .map(|c| (c.class, c.weight))
                .collect(),
            arrival: scenario.arrival,
            max_in_flight: scenario.max_in_flight,
            start_rate: 0.0,
            schedule_start: None,
            load_control: None,
        }
    }

    /// Open when the stages give arrival rates.
    pub fn is_open(&self) -> bool {
        self.stages.iter().any(|s| s.rate.is_some())
    }

    pub fn think_time(&self, class: UserClass) -> ThinkTime {
        self.think_times
            .iter()
            .find(|(c, _)| *c == class)
            .map_or_else(|| class.default_think_time(), |(_, t)| *t)
    }

    pub fn run_time(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }
}

pub fn think_times(classes: &[ClassMix]) -> Vec<(UserClass, ThinkTime)> {
    classes.iter().map(|c| (c.class, c.think_time)).collect()
}

/// The class of each user a standalone run of `classes` starts through `stages`, in order.
pub fn order_of(classes: &[ClassMix], allocation: Allocation, stages: &[Stage]) -> Vec<UserClass> {
    let total = total_users(stages);
    let active: Vec<&ClassMix> = classes.iter().filter(|c| c.weight > 0).collect();
    if active.is_empty() {
        return Vec::new();
    }
    match allocation {
        Allocation::RoundRobin => {
            let mut picker = WeightedPicker::new(active.iter().map(|c| c.weight));
            (0..total)
                .map_while(|_| picker.pick().map(|i| active[i].class))
                .collect()
        }
        Allocation::Serial => active
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.class, c.weight as usize))
            .cycle()
            .take(total)
            .collect(),
    }
}

/// Consecutive users of one class as (class, users), in order.
pub fn runs_of(order: impl IntoIterator<Item = UserClass>) -> Vec<(UserClass, u32)> {
    let mut runs: Vec<(UserClass, u32)> = Vec::new();
    for class in order {
        match runs.last_mut() {
            Some((c, n)) if *c == class => *n += 1,
            _ => runs.push((class, 1)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserClass::{BurstTraining as B, TrainingApi as T};

    fn mix(class: UserClass, weight: u32) -> ClassMix {
        ClassMix {
            class,
            weight,
            think_time: ThinkTime::ms(1, 2),
        }
    }

    fn stage(users: u64) -> Stage {
        Stage::closed(users, 1.0, Duration::from_secs(1))
    }

    #[test]
    fn round_robin_interleaves_by_weight_in_every_prefix() {
        let classes = [mix(T, 6), mix(B, 2)];
        let order = order_of(&classes, Allocation::RoundRobin, &[stage(8)]);
        assert_eq!(order, [T, T, B, T, T, T, B, T]);
    }

    #[test]
    fn serial_starts_class_by_class_in_file_order_whatever_the_weights_share() {
        // 25 and 225 share the factor 25: Skein's order does not divide it out.
        let classes = [mix(T, 25), mix(B, 225)];
        let order = order_of(&classes, Allocation::Serial, &[stage(250)]);
        assert!(order[..25].iter().all(|c| *c == T));
        assert!(order[25..].iter().all(|c| *c == B));
        assert_eq!(order.len(), 250);
    }

    #[test]
    fn zero_weight_classes_start_no_users() {
        let classes = [mix(T, 0), mix(B, 3)];
        for allocation in [Allocation::RoundRobin, Allocation::Serial] {
            let order = order_of(&classes, allocation, &[stage(7)]);
            assert_eq!(order, vec![B; 7]);
        }
    }

    #[test]
    fn runs_group_consecutive_classes() {
        assert_eq!(runs_of([T, T, B, T]), [(T, 2), (B, 1), (T, 1)]);
    }
}

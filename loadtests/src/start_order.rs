//! Which class each user is, in the order goose starts them.
//!
//! goose turns the registered scenarios' weights into a list (weights divided by their GCD;
//! interleaved for round-robin, class by class for serial), repeats it up to the plan's total
//! users, and starts users from the list's end; a falling stage stops the newest users first.
//! [`goose_order`] replays that, so the manager knows which classes a standalone run would
//! start, and [`registrations`] goes the other way: the scenarios to register so that goose
//! starts an explicit order (a distributed worker's dealt users, see
//! [`crate::distributed::share`]).
use crate::scenario::{Allocation, ClassMix, Stage};
use crate::users::UserClass;

/// goose's total users for a plan: the sum of every rise in its stages.
pub fn total_users(stages: &[Stage]) -> usize {
    let mut now = 0u64;
    let mut total = 0u64;
    for s in stages {
        total += s.users.saturating_sub(now);
        now = s.users;
    }
    total as usize
}

/// The class of each user in start order for `classes` (as a scenario names them) run
/// through `stages`: what a standalone run starts.
pub fn order_of(classes: &[ClassMix], allocation: Allocation, stages: &[Stage]) -> Vec<UserClass> {
    let total = total_users(stages);
    let (registered, allocation) = registrations(classes, allocation, None, total);
    goose_order(&registered, allocation, total)
}

/// The scenarios to register with goose, in registration order, and the scheduler to use.
///
/// Without `explicit`, the classes with a weight, reversed for `serial` (goose starts users
/// from the end of its list, so the file's first class then starts first). With `explicit`,
/// one serial registration per run of equal classes among its first `total` users, weights
/// being run lengths, so goose starts exactly that order.
pub fn registrations(
    classes: &[ClassMix],
    allocation: Allocation,
    explicit: Option<&[UserClass]>,
    total: usize,
) -> (Vec<ClassMix>, Allocation) {
    let Some(order) = explicit.filter(|o| !o.is_empty()) else {
        let mut registered: Vec<ClassMix> =
            classes.iter().filter(|m| m.weight > 0).cloned().collect();
        if allocation == Allocation::Serial {
            registered.reverse();
        }
        return (registered, allocation);
    };
    let mut runs = runs_of(order.iter().copied().take(total.max(1)));
    // goose divides the weights by their GCD and repeats the shorter list, which would
    // interleave the runs; a run of one user makes the GCD 1.
    if runs.iter().fold(0, |g, r| gcd(g, r.1)) > 1 {
        let (class, n) = runs[0];
        runs[0].1 = 1;
        runs.insert(1, (class, n - 1));
    }
    let registered = runs
        .into_iter()
        .rev()
        .map(|(class, weight)| ClassMix {
            class,
            weight,
            think_time: classes
                .iter()
                .find(|m| m.class == class)
                .map_or_else(|| class.default_think_time(), |m| m.think_time),
        })
        .collect();
    (registered, Allocation::Serial)
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

/// The class of each of `total` users in the order goose starts them, for scenarios
/// registered in this order with these weights.
pub fn goose_order(
    registered: &[ClassMix],
    allocation: Allocation,
    total: usize,
) -> Vec<UserClass> {
    let active: Vec<(UserClass, u32)> = registered
        .iter()
        .filter(|m| m.weight > 0)
        .map(|m| (m.class, m.weight))
        .collect();
    let divisor = active.iter().fold(0, |g, r| gcd(g, r.1));
    if active.is_empty() || total == 0 {
        return Vec::new();
    }
    let reduced: Vec<(UserClass, u32)> = active.iter().map(|&(c, w)| (c, w / divisor)).collect();
    let pattern: Vec<UserClass> = match allocation {
        Allocation::RoundRobin => {
            let rounds = reduced.iter().map(|r| r.1).max().unwrap_or(0);
            (0..rounds)
                .flat_map(|round| reduced.iter().filter(move |r| r.1 > round).map(|r| r.0))
                .collect()
        }
        Allocation::Serial => reduced
            .iter()
            .flat_map(|&(c, w)| std::iter::repeat_n(c, w as usize))
            .collect(),
    };
    let mut list: Vec<UserClass> = pattern.iter().copied().cycle().take(total).collect();
    list.reverse();
    list
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::ThinkTime;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const CLASSES: [UserClass; 4] = [
        UserClass::TrainingApi,
        UserClass::BurstTraining,
        UserClass::Orchestration,
        UserClass::HighThroughput,
    ];

    fn mix(class: UserClass, weight: u32) -> ClassMix {
        ClassMix {
            class,
            weight,
            think_time: ThinkTime::ms(1, 2),
        }
    }

    #[test]
    fn round_robin_interleaves_by_reduced_weights_and_starts_from_the_list_end() {
        let classes = [
            mix(UserClass::TrainingApi, 6),
            mix(UserClass::BurstTraining, 2),
        ];
        let (registered, allocation) = registrations(&classes, Allocation::RoundRobin, None, 8);
        // Reduced 3:1, goose's list is T B T T, repeated; users start from its end.
        use UserClass::{BurstTraining as B, TrainingApi as T};
        assert_eq!(
            goose_order(&registered, allocation, 8),
            [T, T, B, T, T, T, B, T]
        );
    }

    #[test]
    fn serial_starts_the_first_class_of_the_file_first() {
        let classes = [
            mix(UserClass::TrainingApi, 25),
            mix(UserClass::BurstTraining, 226),
        ];
        let (registered, allocation) = registrations(&classes, Allocation::Serial, None, 251);
        let order = goose_order(&registered, allocation, 251);
        assert!(order[..25].iter().all(|c| *c == UserClass::TrainingApi));
        assert!(order[25..].iter().all(|c| *c == UserClass::BurstTraining));
    }

    #[test]
    fn an_explicit_order_is_started_exactly_whatever_its_runs() {
        let mut rng = StdRng::seed_from_u64(7);
        let classes: Vec<ClassMix> = CLASSES.iter().map(|&c| mix(c, 1)).collect();
        for _ in 0..500 {
            let len = rng.random_range(1..60);
            let runs = rng.random_range(1..5);
            // Few distinct runs make equal run lengths (a GCD above one) likely.
            let order: Vec<UserClass> = (0..len)
                .map(|i| CLASSES[(i * runs / len) % CLASSES.len()])
                .collect();
            let total = rng.random_range(1..=len);
            let (registered, allocation) =
                registrations(&classes, Allocation::RoundRobin, Some(&order), total);
            assert_eq!(
                goose_order(&registered, allocation, total),
                order[..total],
                "{order:?} first {total}"
            );
        }
    }

    #[test]
    fn total_users_counts_every_rise() {
        let stage = |users| Stage {
            users,
            spawn_rate: 1.0,
            duration: std::time::Duration::from_secs(1),
        };
        assert_eq!(
            total_users(&[stage(10), stage(50), stage(20), stage(30)]),
            60
        );
    }
}

//! When each task of a workflow execution runs: a plan computed once, at execution time, from
//! the tasks' `depends_on` and `parallel` flags and a fixed duration per task.
//!
//! Why a plan rather than a ticker: an execution's progress is then a pure function of its
//! start time, so the store keeps three integers per execution (start, finish, task length)
//! and status reads compare them with the clock; no background task writes on every tick,
//! however many executions are running. Tasks still run in dependency order, because the
//! plan never starts a task before all its dependencies finish.
//!
//! Rules: a task is ready when every task it depends on has finished. Tasks marked
//! `parallel` start as soon as they are ready; the others share one serial lane (one at a time,
//! the earliest ready first, ties in declaration order), as a supervisor hands out sequential
//! work.

/// A task as the planner sees it: indices of the tasks it depends on, and whether it may run
/// beside others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTask {
    pub depends_on: Vec<usize>,
    pub parallel: bool,
}

/// Start and finish of one task, in milliseconds after the execution started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub start_ms: u64,
    pub finish_ms: u64,
}

/// Where a task is at some moment of its execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Pending,
    Running,
    Completed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
        }
    }
}

impl Slot {
    pub fn state_at(&self, elapsed_ms: u64) -> TaskState {
        if elapsed_ms >= self.finish_ms {
            TaskState::Completed
        } else if elapsed_ms >= self.start_ms {
            TaskState::Running
        } else {
            TaskState::Pending
        }
    }
}

/// Plans every task (`task_ms` each, at least 1 ms). The tasks must form a DAG (validated when
/// the workflow was created); a task left unplannable would get `u64::MAX`, never finishing.
pub fn plan(tasks: &[PlannedTask], task_ms: u64) -> Vec<Slot> {
    let task_ms = task_ms.max(1);
    let mut slots: Vec<Option<Slot>> = vec![None; tasks.len()];
    let mut lane_free_ms = 0u64;
    // O(n²) in the number of tasks; workflows have tens to hundreds of them.
    for _ in 0..tasks.len() {
        let next = tasks
            .iter()
            .enumerate()
            .filter(|(i, _)| slots[*i].is_none())
            .filter_map(|(i, t)| {
                let mut ready = 0u64;
                for &d in &t.depends_on {
                    ready = ready.max(slots.get(d).copied().flatten()?.finish_ms);
                }
                Some((ready, i))
            })
            .min();
        let Some((ready, i)) = next else { break };
        let start_ms = if tasks[i].parallel {
            ready
        } else {
            ready.max(lane_free_ms)
        };
        let finish_ms = start_ms + task_ms;
        if !tasks[i].parallel {
            lane_free_ms = finish_ms;
        }
        slots[i] = Some(Slot {
            start_ms,
            finish_ms,
        });
    }
    slots
        .into_iter()
        .map(|s| {
            s.unwrap_or(Slot {
                start_ms: u64::MAX,
                finish_ms: u64::MAX,
            })
        })
        .collect()
}

/// When the whole execution finishes: its last task's finish.
pub fn makespan_ms(slots: &[Slot]) -> u64 {
    slots.iter().map(|s| s.finish_ms).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(deps: &[usize], parallel: bool) -> PlannedTask {
        PlannedTask {
            depends_on: deps.to_vec(),
            parallel,
        }
    }

    #[test]
    fn a_chain_runs_one_task_after_another() {
        let slots = plan(&[task(&[], true), task(&[0], true), task(&[1], false)], 10);
        let starts: Vec<u64> = slots.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts, [0, 10, 20]);
        assert_eq!(makespan_ms(&slots), 30);
    }

    #[test]
    fn parallel_tasks_overlap_and_serial_ones_share_a_lane() {
        // a; then b, c parallel after a; d, e serial after a; f after everything.
        let tasks = [
            task(&[], false),
            task(&[0], true),
            task(&[0], true),
            task(&[0], false),
            task(&[0], false),
            task(&[1, 2, 3, 4], false),
        ];
        let slots = plan(&tasks, 10);
        assert_eq!(slots[1].start_ms, 10);
        assert_eq!(slots[2].start_ms, 10);
        assert_eq!((slots[3].start_ms, slots[4].start_ms), (10, 20));
        assert_eq!(slots[5].start_ms, 30);
        for (i, t) in tasks.iter().enumerate() {
            for &d in &t.depends_on {
                assert!(
                    slots[i].start_ms >= slots[d].finish_ms,
                    "task {i} before {d}"
                );
            }
        }
    }

    #[test]
    fn a_task_declared_before_its_dependency_still_waits_for_it() {
        let slots = plan(&[task(&[1], true), task(&[], true)], 5);
        assert_eq!(
            slots[1],
            Slot {
                start_ms: 0,
                finish_ms: 5
            }
        );
        assert_eq!(
            slots[0],
            Slot {
                start_ms: 5,
                finish_ms: 10
            }
        );
    }

    #[test]
    fn state_follows_the_clock() {
        let s = Slot {
            start_ms: 10,
            finish_ms: 20,
        };
        assert_eq!(s.state_at(0), TaskState::Pending);
        assert_eq!(s.state_at(10), TaskState::Running);
        assert_eq!(s.state_at(20), TaskState::Completed);
    }
}

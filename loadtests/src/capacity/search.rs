//! The search for the maximum sustainable load (`skein capacity`), as a state machine.
//!
//! Phase 1 climbs geometrically (×2) from a low load until a step breaks an SLA or the maximum
//! is reached; phase 2 bisects between the last step that held and the first that broke until
//! the gap is at most the resolution (a fraction of the broken load); then the highest held
//! load is run once more and reported only if it holds again — if it breaks, the boundary
//! moves down and the bisection goes on below it. [`Search::next`] says what to run next,
//! [`Search::record`] takes the measured step; the driver (`commands::capacity`) runs steps,
//! enforces the budget and interrupts. Kept free of I/O so it can be tested against a
//! simulated platform.
use reports::search::find_knee;
use reports::{CapacitySearch, LoadModel, SearchOutcome, SearchPhase, SearchStep};

/// What the search was asked.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpec {
    pub model: LoadModel,
    /// The first (lowest) load tried.
    pub start: f64,
    /// The highest load tried.
    pub max: f64,
    /// Stop bisecting when `(broken - held) / broken` is at most this.
    pub resolution: f64,
}

/// The next thing to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Next {
    Run { offered: f64, phase: SearchPhase },
    Done(SearchOutcome),
}

/// How many times a confirmation may fail and move the boundary down before the search
/// reports what it has.
const MAX_RECONFIRMATIONS: u32 = 3;

pub struct Search {
    spec: SearchSpec,
    steps: Vec<SearchStep>,
    /// Highest load that held (and has not broken since), lowest load that broke.
    held: Option<f64>,
    broke: Option<f64>,
    reconfirmations: u32,
    done: Option<SearchOutcome>,
}

impl Search {
    pub fn new(spec: SearchSpec) -> Search {
        Search {
            spec,
            steps: Vec::new(),
            held: None,
            broke: None,
            reconfirmations: 0,
            done: None,
        }
    }

    /// Closed users are whole; arrival rates keep a tenth.
    fn round(&self, load: f64) -> f64 {
        match self.spec.model {
            LoadModel::Closed => load.round().max(1.0),
            LoadModel::Open => (load * 10.0).round() / 10.0,
        }
    }

    pub fn next(&self) -> Next {
        if let Some(outcome) = self.done {
            return Next::Done(outcome);
        }
        let last = self.steps.last();
        match (self.held, self.broke) {
            (None, None) => Next::Run {
                offered: self.round(self.spec.start),
                phase: SearchPhase::Climb,
            },
            (Some(held), None) => Next::Run {
                offered: self.round((held * 2.0).min(self.spec.max)),
                phase: SearchPhase::Climb,
            },
            (None, Some(_)) => Next::Done(SearchOutcome::LowestBroke),
            (Some(held), Some(broke)) => {
                let mid = self.round((held + broke) / 2.0);
                let narrow =
                    (broke - held) / broke <= self.spec.resolution || mid <= held || mid >= broke;
                let confirmed = last.is_some_and(|s| {
                    s.phase == SearchPhase::Confirm && s.held && s.offered == held
                });
                if confirmed {
                    Next::Done(SearchOutcome::Found)
                } else if narrow {
                    Next::Run {
                        offered: held,
                        phase: SearchPhase::Confirm,
                    }
                } else {
                    Next::Run {
                        offered: mid,
                        phase: SearchPhase::Bisect,
                    }
                }
            }
        }
    }

    /// Takes a measured step (run as [`Search::next`] said).
    pub fn record(&mut self, step: SearchStep) {
        let offered = step.offered;
        if step.held {
            self.held = Some(self.held.map_or(offered, |h| h.max(offered)));
            if self.held.is_some_and(|h| h >= self.spec.max) && self.broke.is_none() {
                self.done = Some(SearchOutcome::MaxHeld);
            }
        } else {
            self.broke = Some(self.broke.map_or(offered, |b| b.min(offered)));
            if step.phase == SearchPhase::Confirm || self.held.is_some_and(|h| h >= offered) {
                // A load that held before broke now: the boundary is lower than thought.
                self.reconfirmations += 1;
                self.held = self
                    .steps
                    .iter()
                    .filter(|s| s.held && s.offered < offered)
                    .map(|s| s.offered)
                    .reduce(f64::max);
                if self.held.is_none() {
                    self.done = Some(SearchOutcome::LowestBroke);
                } else if self.reconfirmations > MAX_RECONFIRMATIONS {
                    self.done = Some(SearchOutcome::Found);
                }
            }
        }
        self.steps.push(step);
    }

    /// Ends the search early (budget or interrupt).
    pub fn stop(&mut self, outcome: SearchOutcome) {
        self.done = Some(outcome);
    }

    pub fn steps(&self) -> &[SearchStep] {
        &self.steps
    }

    /// What was found: every step, the highest held and lowest broken loads, the knee.
    pub fn result(&self) -> CapacitySearch {
        // A search that was not told to stop and still has a step to run was cut short.
        let outcome = match self.next() {
            Next::Done(o) => o,
            Next::Run { .. } => SearchOutcome::Interrupted,
        };
        let index_of = |load: Option<f64>, held: bool| {
            let load = load?;
            self.steps
                .iter()
                .rposition(|s| s.offered == load && s.held == held)
        };
        CapacitySearch {
            model: self.spec.model,
            resolution: self.spec.resolution,
            steps: self.steps.clone(),
            outcome,
            max_sustainable: index_of(self.held, true),
            first_break: index_of(self.broke, false),
            knee: find_knee(&self.steps, self.spec.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    /// A simulated platform that holds its SLAs up to `capacity`.
    fn step(offered: f64, phase: SearchPhase, capacity: f64) -> SearchStep {
        let held = offered <= capacity;
        SearchStep {
            phase,
            offered,
            started_at: DateTime::<Utc>::UNIX_EPOCH,
            ended_at: DateTime::<Utc>::UNIX_EPOCH,
            warmup_secs: 1.0,
            extensions: 0,
            requests: 1_000,
            failures: 0,
            dropped: 0,
            rps: offered.min(capacity),
            p50_ms: 5.0,
            p95_ms: if held { 50.0 } else { 500.0 },
            p99_ms: 60.0,
            error_rate: 0.0,
            dropped_rate: 0.0,
            held,
            broken_by: if held {
                vec![]
            } else {
                vec!["p95_ms 500.0 ms > 200.0 ms".into()]
            },
            goodput: None,
        }
    }

    fn search(spec: SearchSpec, capacity: impl Fn(usize) -> f64) -> Search {
        let mut s = Search::new(spec);
        for i in 0..100 {
            match s.next() {
                Next::Run { offered, phase } => s.record(step(offered, phase, capacity(i))),
                Next::Done(_) => return s,
            }
        }
        panic!("the search did not end in 100 steps")
    }

    fn spec(start: f64, max: f64) -> SearchSpec {
        SearchSpec {
            model: LoadModel::Open,
            start,
            max,
            resolution: 0.05,
        }
    }

    #[test]
    fn climbs_bisects_to_the_resolution_and_confirms() {
        let s = search(spec(10.0, 10_000.0), |_| 780.0);
        let result = s.result();
        assert_eq!(result.outcome, SearchOutcome::Found);
        let held = &result.steps[result.max_sustainable.unwrap()];
        let broke = &result.steps[result.first_break.unwrap()];
        assert!(held.offered <= 780.0 && broke.offered > 780.0);
        assert!((broke.offered - held.offered) / broke.offered <= 0.05);
        assert_eq!(held.phase, SearchPhase::Confirm);
        // Climb 10, 20, ..., 1280 (8 steps), then bisection: few steps in all.
        assert!(result.steps.len() <= 16, "{} steps", result.steps.len());
        let climbs: Vec<f64> = result
            .steps
            .iter()
            .take_while(|s| s.phase == SearchPhase::Climb)
            .map(|s| s.offered)
            .collect();
        assert_eq!(
            climbs,
            [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0]
        );
    }

    #[test]
    fn a_failed_confirmation_moves_the_boundary_down() {
        // The platform degrades: from the tenth step on it holds only 500/s.
        let s = search(spec(10.0, 10_000.0), |i| if i < 10 { 780.0 } else { 500.0 });
        let result = s.result();
        assert_eq!(result.outcome, SearchOutcome::Found);
        let held = &result.steps[result.max_sustainable.unwrap()];
        assert!(held.offered <= 500.0, "{}", held.offered);
        assert_eq!(held.phase, SearchPhase::Confirm);
    }

    #[test]
    fn the_lowest_step_breaking_and_the_maximum_holding_end_it() {
        let s = search(spec(10.0, 1_000.0), |_| 5.0);
        assert_eq!(s.result().outcome, SearchOutcome::LowestBroke);
        assert_eq!(s.steps().len(), 1);
        let s = search(spec(10.0, 1_000.0), |_| 5_000.0);
        assert_eq!(s.result().outcome, SearchOutcome::MaxHeld);
        assert_eq!(s.steps().last().unwrap().offered, 1_000.0);
    }

    #[test]
    fn closed_users_are_whole() {
        let mut spec = spec(1.0, 100.0);
        spec.model = LoadModel::Closed;
        let s = search(spec, |_| 37.0);
        assert!(s.steps().iter().all(|st| st.offered.fract() == 0.0));
        let result = s.result();
        assert_eq!(result.steps[result.max_sustainable.unwrap()].offered, 37.0);
        assert_eq!(result.steps[result.first_break.unwrap()].offered, 38.0);
    }
}

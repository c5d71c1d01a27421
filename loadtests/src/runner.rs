//! Running one process's part of a load test: a standalone run, or a worker's share.
//!
//! A [`RunPlan`] is the validated scenario (for the result's metadata and SLAs), this
//! process's [`LaunchPlan`], the target and an optional start instant. [`run_plan`] waits for
//! the start, rolls the recorder's seconds, hands the users to the engine and returns the
//! measured [`reports::RunResult`]; the same path serves `skein run` and `skein worker`.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reports::RunResult;

use crate::engine::{self, EngineError, StopHandle};
use crate::load_control::edited_stages;
use crate::plan::LaunchPlan;
use crate::recorder::Recorder;
use crate::results::{self, ResultInput};
use crate::scenario::Scenario;
use crate::users::llm::tokenizer::TokenCounter;
use crate::users::UserContext;

#[derive(Clone, Debug)]
pub struct RunPlan {
    pub scenario: Scenario,
    /// The users this process runs (a worker's share differs from the scenario's).
    pub launch: LaunchPlan,
    pub host: String,
    pub token: String,
    /// Wait until this instant before starting users (distributed runs start together).
    pub start_at: Option<SystemTime>,
    pub command_line: Vec<String>,
    /// `--tokenizer`, loaded.
    pub tokenizer: Option<Arc<TokenCounter>>,
}

impl RunPlan {
    /// A standalone run of the whole scenario.
    pub fn new(scenario: Scenario, host: String, token: String) -> RunPlan {
        RunPlan {
            launch: LaunchPlan::standalone(&scenario),
            scenario,
            host,
            token,
            start_at: None,
            command_line: std::env::args().collect(),
            tokenizer: None,
        }
    }

    pub fn run_time(&self) -> Duration {
        self.launch.run_time()
    }

    /// What [`results::build`] needs to turn this plan's measurements into a result.
    pub fn result_input(&self) -> ResultInput<'_> {
        ResultInput {
            scenario: &self.scenario,
            stages: &self.launch.stages,
            host: &self.host,
            command_line: &self.command_line,
        }
    }
}

/// Runs `plan` to completion (or until stopped) and returns what was measured.
pub async fn run_plan(
    plan: &RunPlan,
    recorder: Arc<Recorder>,
    stop: &StopHandle,
) -> Result<RunResult, EngineError> {
    if let Some(at) = plan.start_at {
        if let Ok(wait) = at.duration_since(SystemTime::now()) {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.stopped() => {}
            }
        }
    }
    let ctx = UserContext::with_tokenizer(
        &plan.host,
        &plan.token,
        recorder.clone(),
        plan.scenario.a2a_version,
        plan.tokenizer.clone(),
    );
    let ticker = {
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                recorder.roll(false);
            }
        })
    };
    let outcome = if stop.reason().is_none() {
        engine::run(&plan.launch, ctx, stop).await
    } else {
        Ok(())
    };
    ticker.abort();
    recorder.roll(true);
    outcome?;
    // A rate changed from the dashboard is a stage of its own in the results.
    let stages = match &plan.launch.load_control {
        Some(control) => edited_stages(&plan.launch.stages, &control.edits()),
        None => plan.launch.stages.clone(),
    };
    Ok(results::build(
        &ResultInput {
            stages: &stages,
            ..plan.result_input()
        },
        &recorder,
        stop.reason(),
        None,
    ))
}

//! The user classes: goose scenarios whose weighted transactions speak the platform's APIs.
//!
//! Every transaction is a closure over one shared [`UserContext`] (target, token, recorder),
//! sends with the attack's one shared HTTP client, and reports to the recorder itself (see
//! [`http`]); goose supplies the users, weights, think times and the ramp.
pub mod burst;
pub mod class;
pub mod high_throughput;
pub mod http;
pub mod orchestration;
pub mod training;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use goose::goose::{GooseUser, Scenario as GooseScenario, Transaction, TransactionResult};
use goose::GooseError;

pub use class::{ThinkTime, UserClass};

use crate::recorder::Recorder;
use crate::scenario::ClassMix;

/// What every transaction needs: where to send, how to authenticate, where to record.
pub struct UserContext {
    /// One HTTP client shared by every user (goose would build one per user, ~145 KiB each).
    pub client: reqwest::Client,
    pub base_url: String,
    pub jsonrpc_url: String,
    pub authorization: String,
    pub recorder: Arc<Recorder>,
}

impl UserContext {
    pub fn new(host: &str, token: &str, recorder: Arc<Recorder>) -> Arc<UserContext> {
        let base_url = host.trim_end_matches('/').to_string();
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            // Users that think keep no connection of their own: idle connections beyond this
            // are closed, so waiting users cost little memory.
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
            .build()
            .expect("a plain HTTP client always builds");
        Arc::new(UserContext {
            client,
            jsonrpc_url: format!("{base_url}/api/v1/jsonrpc"),
            base_url,
            authorization: format!("Bearer {token}"),
            recorder,
        })
    }
}

/// Per-request timeout: long enough for a 10,000-row export under load, short enough that a
/// hung server shows as failures rather than a stuck run.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Idle keep-alive connections kept for reuse.
pub const MAX_IDLE_CONNECTIONS: usize = 64;

type TransactionFuture<'a> = Pin<Box<dyn Future<Output = TransactionResult> + Send + 'a>>;

/// A goose transaction from an async fn taking the shared context and the user.
pub fn transaction<F>(ctx: &Arc<UserContext>, name: &str, f: F) -> Transaction
where
    F: for<'a> Fn(Arc<UserContext>, &'a mut GooseUser) -> TransactionFuture<'a>
        + Send
        + Sync
        + 'static,
{
    let ctx = ctx.clone();
    Transaction::new(Arc::new(move |user| f(ctx.clone(), user))).set_name(name)
}

/// Counts active users for the live view and the per-second series.
fn lifecycle(ctx: &Arc<UserContext>, scenario: GooseScenario) -> GooseScenario {
    let started = transaction(ctx, "on_start", |ctx, _user| {
        Box::pin(async move {
            ctx.recorder.user_started();
            Ok(())
        })
    })
    .set_on_start();
    let stopped = transaction(ctx, "on_stop", |ctx, _user| {
        Box::pin(async move {
            ctx.recorder.user_stopped();
            Ok(())
        })
    })
    .set_on_stop();
    scenario
        .register_transaction(started)
        .register_transaction(stopped)
}

/// The goose scenario of one class in the mix.
pub fn goose_scenario(mix: &ClassMix, ctx: &Arc<UserContext>) -> Result<GooseScenario, GooseError> {
    let scenario = match mix.class {
        UserClass::TrainingApi => training::scenario(ctx),
        UserClass::BurstTraining => burst::scenario(ctx),
        UserClass::Orchestration => orchestration::scenario(ctx),
        UserClass::HighThroughput => high_throughput::scenario(ctx),
    }?;
    lifecycle(ctx, scenario)
        .set_weight(mix.weight as usize)?
        .set_wait_time(mix.think_time.min, mix.think_time.max)
}

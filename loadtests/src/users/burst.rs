//! `BurstTrainingUser`: rapid status polls of random job ids, as a dashboard fleet does.
use std::sync::Arc;

use goose::goose::{Scenario, Transaction};
use goose::GooseError;

use super::http::{rpc, rpc_body};
use super::{transaction, UserContext};

/// A status query of an id nobody started; "not found" (-32001) is the expected answer.
pub fn random_status(ctx: &Arc<UserContext>) -> Transaction {
    transaction(ctx, "training.get_status", |ctx, _user| {
        Box::pin(async move {
            let params = format!(r#"{{"job_id":"{}"}}"#, uuid::Uuid::new_v4());
            let body = rpc_body("training.get_status", &params);
            rpc(&ctx, "training.get_status", body, &[-32001]).await;
            Ok(())
        })
    })
}

pub fn scenario(ctx: &Arc<UserContext>) -> Result<Scenario, GooseError> {
    Ok(Scenario::new("BurstTrainingUser").register_transaction(random_status(ctx)))
}

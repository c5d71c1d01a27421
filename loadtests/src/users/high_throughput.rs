//! `HighThroughputUser`: 10,000-event batches back to back, the ingestion ceiling test.
use std::sync::Arc;

use goose::goose::Scenario;
use goose::GooseError;

use super::orchestration::publish_events;
use super::UserContext;

pub const EVENTS_PER_BATCH: usize = 10_000;

pub fn scenario(ctx: &Arc<UserContext>) -> Result<Scenario, GooseError> {
    Ok(Scenario::new("HighThroughputUser")
        .register_transaction(publish_events(ctx, EVENTS_PER_BATCH)))
}

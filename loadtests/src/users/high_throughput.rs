//! `HighThroughputUser`: 10,000-event batches back to back, the ingestion ceiling test.
use super::behaviour::ClassBehaviour;
use super::orchestration::publish_events;

pub const EVENTS_PER_BATCH: usize = 10_000;

pub fn behaviour() -> ClassBehaviour {
    ClassBehaviour::new(
        "HighThroughputUser",
        vec![publish_events(1, EVENTS_PER_BATCH)],
    )
}

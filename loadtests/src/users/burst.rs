//! `BurstTrainingUser`: rapid status polls of random job ids, as a dashboard fleet does.
use super::behaviour::{ClassBehaviour, Request};
use super::http::{job_query_body, rpc_without_result};

pub fn behaviour() -> ClassBehaviour {
    // A status query of an id nobody started; "not found" (-32001) is the expected answer.
    let random_status = Request::new("training.get_status", 1, |call, _session| {
        Box::pin(async move {
            let mut id = uuid::Uuid::encode_buffer();
            let id = super::random_uuid().hyphenated().encode_lower(&mut id);
            let body = job_query_body("training.get_status", id);
            rpc_without_result(&call, "training.get_status", body, &[-32001]).await;
        })
    });
    ClassBehaviour::new("BurstTrainingUser", vec![random_status])
}

//! `BurstTrainingUser`: rapid status polls of random job ids, as a dashboard fleet does.
use super::behaviour::{ClassBehaviour, Request};
use super::http::{rpc, rpc_body};

pub fn behaviour() -> ClassBehaviour {
    // A status query of an id nobody started; "not found" (-32001) is the expected answer.
    let random_status = Request::new("training.get_status", 1, |call, _session| {
        Box::pin(async move {
            let params = format!(r#"{{"job_id":"{}"}}"#, super::random_uuid());
            let body = rpc_body("training.get_status", &params);
            rpc(&call, "training.get_status", body, &[-32001]).await;
        })
    });
    ClassBehaviour {
        name: "BurstTrainingUser",
        requests: vec![random_status],
    }
}

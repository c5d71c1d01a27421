//! The engine, driven in-process, starts exactly the users a distributed worker was dealt.
use std::sync::Arc;

use skein::engine::StopHandle;
use skein::recorder::Recorder;
use skein::runner::{run_plan, RunPlan};
use skein::users::UserClass;

use crate::support::*;

#[test]
fn a_worker_starts_its_dealt_classes_in_order_even_when_runs_have_a_common_divisor() {
    let server = Server::fast();
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        dir.path(),
        "order",
        r#"
spawn_rate = 20
[[stages]]
users = 2
duration = "3s"
[[stages]]
users = 4
duration = "2s"
[[user_classes]]
class = "BurstTrainingUser"
weight = 1
think_time = ["20ms", "50ms"]
[[user_classes]]
class = "HighThroughputUser"
weight = 1
think_time = ["200ms", "400ms"]
"#,
    );
    let scenario = skein::scenario::load(path.to_str().unwrap()).unwrap();
    let mut plan = RunPlan::new(
        scenario,
        server.url.clone(),
        target_server::DEFAULT_TOKEN.into(),
    );
    // Runs of two and two: an engine that reduced the weights would interleave them,
    // starting a BurstTrainingUser second. The first stage must run only the first two.
    use UserClass::{BurstTraining as B, HighThroughput as H};
    plan.launch.start_order = vec![H, H, B, B];
    let recorder = Arc::new(Recorder::new());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let run = {
        let (plan, recorder) = (plan.clone(), recorder.clone());
        runtime.spawn(async move { run_plan(&plan, recorder, &StopHandle::default()).await })
    };
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let count = |requests: &[reports::RequestStats], name: &str| {
        requests
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.requests)
    };
    let names = |requests: &[reports::RequestStats]| -> Vec<(String, u64)> {
        requests
            .iter()
            .map(|s| (s.name.clone(), s.requests))
            .collect()
    };
    let (first_stage, _, _) = recorder.totals();
    let seen = names(&first_stage);
    assert!(count(&first_stage, "publish_event_batch") > 0, "{seen:?}");
    assert_eq!(count(&first_stage, "training.get_status"), 0, "{seen:?}");
    let result = runtime.block_on(run).unwrap().unwrap();
    // The second stage started the BurstTrainingUsers.
    let seen = names(&result.requests);
    assert!(
        count(&result.requests, "training.get_status") > 0,
        "{seen:?}"
    );
}

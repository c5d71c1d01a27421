//! Every training method, its results and its error codes.
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_to_completion_and_its_trajectories_export() {
    let server = fast_server().await;
    let started = rpc_ok(&server, "training.start_grpo", start_params(3)).await;
    assert_eq!(started["status"], "queued");
    assert_eq!(started["agent_id"], "agent-1");
    assert_eq!(started["total_iterations"], 3);
    let job_id = started["job_id"].as_str().unwrap().to_string();
    uuid::Uuid::parse_str(&job_id).expect("job_id is a uuid");

    let done = wait_for_status(&server, &job_id, |s| s["status"] == "completed").await;
    assert_eq!(done["current_iteration"], 3);
    assert_eq!(done["progress_percent"].as_f64(), Some(100.0));
    // Each iteration records one query's group of rollouts: 3 iterations x 2 per query.
    assert_eq!(done["metrics"]["trajectories_generated"], 6);
    assert!(done["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(done["started_at"].is_string());

    let page = rpc_ok(
        &server,
        "training.export_trajectories",
        json!({ "job_id": job_id, "limit": 4, "offset": 0 }),
    )
    .await;
    assert_eq!(page["total_count"], 6);
    assert_eq!(page["returned_count"], 4);
    assert_eq!(page["has_more"], true);
    let first = &page["trajectories"][0];
    for field in [
        "trajectory_id",
        "query",
        "steps",
        "reward",
        "success",
        "execution_time_ms",
    ] {
        assert!(
            first.get(field).is_some(),
            "trajectory lacks {field}: {first}"
        );
    }
    let tail = rpc_ok(
        &server,
        "training.export_trajectories",
        json!({ "job_id": job_id, "limit": 4, "offset": 4 }),
    )
    .await;
    assert_eq!(tail["returned_count"], 2);
    assert_eq!(tail["has_more"], false);
    let successes = rpc_ok(
        &server,
        "training.export_trajectories",
        json!({ "job_id": job_id, "success_only": true }),
    )
    .await;
    let all_successful = successes["trajectories"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["success"] == true);
    assert!(all_successful);

    let evaluation = rpc_ok(&server, "training.evaluate", json!({ "job_id": job_id })).await;
    assert_eq!(evaluation["job_id"], job_id.as_str());
    assert!(
        evaluation.to_string().contains("avg_reward"),
        "{evaluation}"
    );

    // A completed job cannot be cancelled.
    let code = rpc_error_code(&server, "training.cancel", json!({ "job_id": job_id })).await;
    assert_eq!(code, -40003);

    let metrics = metrics_text(&server).await;
    assert!(metric(&metrics, "target_server_trajectories_written_total") == 6.0);
    assert_eq!(
        metric(&metrics, "target_server_jobs{state=\"completed\"}"),
        1.0
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_job() {
    let server = fast_server().await;
    let started = rpc_ok(&server, "training.start_grpo", start_params(10_000)).await;
    let job_id = started["job_id"].as_str().unwrap().to_string();
    wait_for_status(&server, &job_id, |s| s["status"] == "running").await;
    let cancelled = rpc_ok(
        &server,
        "training.cancel",
        json!({ "job_id": job_id, "reason": "load test cleanup" }),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    assert!(cancelled["iterations_completed"].is_u64());
    let status = rpc_ok(&server, "training.get_status", json!({ "job_id": job_id })).await;
    assert_eq!(status["status"], "cancelled");
    assert_eq!(
        rpc_error_code(&server, "training.cancel", json!({ "job_id": job_id })).await,
        -40003
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_beyond_the_trainer_pool_wait_queued() {
    let server = server_with(|c| c.max_running_jobs = 1).await;
    let first = rpc_ok(&server, "training.start_grpo", start_params(10_000)).await;
    let second = rpc_ok(&server, "training.start_grpo", start_params(10_000)).await;
    let first_id = first["job_id"].as_str().unwrap();
    wait_for_status(&server, first_id, |s| s["status"] == "running").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let waiting = rpc_ok(
        &server,
        "training.get_status",
        json!({ "job_id": second["job_id"] }),
    )
    .await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_platforms_training_queries_name_is_accepted() {
    let server = fast_server().await;
    let mut params = start_params(1);
    let data = params
        .as_object_mut()
        .unwrap()
        .remove("training_data")
        .unwrap();
    params["training_queries"] = data;
    let started = rpc_ok(&server, "training.start_grpo", params).await;
    assert_eq!(started["status"], "queued");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_the_field() {
    let server = fast_server().await;
    let cases = [
        ("/config/n_iterations", json!(0), "config.n_iterations"),
        ("/config/n_iterations", json!(10_001), "config.n_iterations"),
        ("/config/batch_size", json!(129), "config.batch_size"),
        (
            "/config/n_trajectories_per_query",
            json!(17),
            "config.n_trajectories_per_query",
        ),
    ];
    for (pointer, value, field) in cases {
        let mut params = start_params(1);
        *params.pointer_mut(pointer).unwrap() = value;
        let answer = rpc(&server, "training.start_grpo", params).await;
        assert_eq!(answer["error"]["code"], -40002, "{answer}");
        assert_eq!(answer["error"]["data"]["field"], field, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(field));
    }
    let mut few = start_params(1);
    few["training_data"] = training_data(99);
    let answer = rpc(&server, "training.start_grpo", few).await;
    assert_eq!(
        answer["error"]["data"]["field"], "training_data",
        "{answer}"
    );

    // Shape errors (missing or mistyped fields) are invalid params.
    assert_eq!(
        rpc_error_code(&server, "training.start_grpo", json!({ "agent_id": "a" })).await,
        -32602
    );
    assert_eq!(
        rpc_error_code(&server, "training.get_status", json!({ "job_id": 5 })).await,
        -32602
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_not_found_and_export_limit_errors() {
    let server = fast_server().await;
    let mut expensive = start_params(10_000);
    expensive["config"]["batch_size"] = json!(128);
    expensive["config"]["max_budget_usd"] = json!(1.0);
    assert_eq!(
        rpc_error_code(&server, "training.start_grpo", expensive).await,
        -40001
    );

    let unknown = json!({ "job_id": uuid::Uuid::new_v4().to_string() });
    for method in [
        "training.get_status",
        "training.cancel",
        "training.export_trajectories",
        "training.evaluate",
    ] {
        assert_eq!(
            rpc_error_code(&server, method, unknown.clone()).await,
            -32001,
            "{method}"
        );
    }

    let job = rpc_ok(&server, "training.start_grpo", start_params(1)).await;
    assert_eq!(
        rpc_error_code(
            &server,
            "training.export_trajectories",
            json!({ "job_id": job["job_id"], "limit": 10_001 })
        )
        .await,
        -40005
    );
    assert_eq!(
        rpc_error_code(&server, "training.retrain", json!({})).await,
        -32601
    );
    server.shutdown().await.unwrap();
}

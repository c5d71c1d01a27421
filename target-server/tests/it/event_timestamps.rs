//! Event timestamps: RFC 3339 strings and Unix epoch seconds are accepted, anything else is a
//! 422 naming the event's field, and a refused batch stores nothing.
use serde_json::{json, Value};

use crate::support::*;

fn event(i: usize, timestamp: Value) -> Value {
    json!({ "event_id": format!("e{i}"), "event_type": "agent.step", "timestamp": timestamp, "data": {} })
}

async fn publish(server: &target_server::RunningServer, events: Vec<Value>) -> (u16, Value) {
    let r = client()
        .post(format!("{}/api/v1/events/batch", server.base_url()))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3339_strings_and_epoch_seconds_are_accepted() {
    let server = fast_server().await;
    let mut events = vec![
        event(0, json!("2026-11-23T09:00:00Z")),
        event(1, json!("2026-11-23T10:00:00.5+01:00")),
        event(2, json!(1_795_424_400)),
        event(3, json!(1_795_424_400.123)),
        event(4, Value::Null),
    ];
    events.push(json!({ "event_id": "e5", "event_type": "agent.step" }));
    let (status, body) = publish(&server, events).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 6);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_timestamp_is_a_422_naming_the_field() {
    let server = fast_server().await;
    let refused = [
        (json!("not a date"), "got the string `not a date`"),
        (json!(true), "got a boolean"),
        (json!({ "seconds": 1 }), "got an object"),
        (json!(-5), "must not be negative"),
        (
            json!(1_795_424_400_000i64),
            "milliseconds must be divided by 1000",
        ),
    ];
    for (bad, says) in refused {
        let events = (0..5)
            .map(|i| {
                event(
                    i,
                    if i == 3 {
                        bad.clone()
                    } else {
                        json!(1_795_424_400)
                    },
                )
            })
            .collect();
        let (status, body) = publish(&server, events).await;
        assert_eq!(status, 422, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("events[3].timestamp: "),
            "{bad}: {message}"
        );
        assert!(message.contains(says), "{bad}: {message}");
        assert_eq!(body["error"]["field"], "events[3].timestamp");
    }
    let text = metrics_text(&server).await;
    assert_eq!(metric(&text, "target_server_events_accepted_total"), 0.0);
    server.shutdown().await.unwrap();
}

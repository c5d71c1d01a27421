//! Integration tests of the `skein` binary against the reference server on 127.0.0.1:0.
mod distributed_support;
mod python_server;
/// The soak benchmark's run and sampling, shared with the short soak test ([`soak`]).
#[path = "../../benches/soak/driver.rs"]
mod soak_driver;
mod support;

mod a2a_versions;
mod agent_streaming;
mod bad_input;
mod capacity;
mod compare_real_runs;
mod coordinated_omission;
mod custom_class_example;
mod declared_classes;
mod distributed;
mod distributed_datasets;
mod distributed_deploy;
mod distributed_faults;
mod distributed_netns;
mod exits;
mod grafana_prometheus;
mod history;
mod input_properties;
mod live_metrics;
mod llm_capacity;
mod llm_open_model;
mod llm_requests;
mod llm_tokens;
mod mcp_sdk;
mod mcp_user;
mod module_graph;
mod open_model;
mod report_commands;
mod report_html;
mod soak;
mod start_order;
mod user_classes;
mod web_dashboard;

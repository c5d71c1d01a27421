//! Integration tests of the reference server: real servers on 127.0.0.1:0, real HTTP.
mod support;

mod a2a_v1;
mod agent_api;
mod auth_and_admin;
mod event_timestamps;
mod jsonrpc_framing;
mod llm_api;
mod mcp_api;
mod orchestration_api;
mod overload;
mod persistence;
mod retention;
mod training_api;
mod workflow_executions;

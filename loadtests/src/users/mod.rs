//! The user classes, written against Skein's own user model ([`behaviour`]), not an engine's.
//!
//! Every request is a function of a [`Call`] (the shared [`UserContext`]: target, token,
//! recorder, one HTTP client; and how the request was scheduled) and the user's [`Session`];
//! it sends, times to the last body byte, judges and records the answer itself (see [`http`]).
//! Executors in [`crate::engine`] supply the users, think times and schedule.
pub mod a2a;
pub mod agent_chat;
pub mod behaviour;
pub mod burst;
pub mod class;
pub mod custom;
pub mod data_table;
pub mod declared;
pub mod high_throughput;
pub mod http;
pub mod llm;
pub mod mcp;
pub mod orchestration;
pub mod stream;
pub mod template;
pub mod training;

use std::sync::Arc;

pub use behaviour::{Call, ClassBehaviour, Lifecycle, Request, Session, Timing, WeightedPicker};
pub use class::{ThinkTime, UserClass};
pub use custom::{CustomClass, RegisterError};
pub use declared::DeclaredClass;

use crate::recorder::Recorder;
pub use crate::transport::REQUEST_TIMEOUT;
use crate::transport::{self, Transport};

/// What every request needs: where to send, how to authenticate, where to record.
pub struct UserContext {
    /// One HTTP client shared by every user ([`transport::reqwest_client`]).
    pub client: reqwest::Client,
    pub base_url: String,
    pub jsonrpc_url: String,
    /// `Bearer <token>`, validated once rather than per request.
    pub authorization: reqwest::header::HeaderValue,
    /// The built-in classes' route to the target: Skein's own connections for plain HTTP.
    pub transport: Transport,
    pub recorder: Arc<Recorder>,
    /// Which A2A generation AgentChatUsers speak.
    pub a2a: a2a::Choice,
    /// `--tokenizer`: token counts when the server sends no usage (and beside it when it
    /// does), and synthetic prompts of exactly N tokens by it.
    pub tokenizer: Option<Arc<llm::tokenizer::TokenCounter>>,
}

impl UserContext {
    pub fn new(
        host: &str,
        token: &str,
        recorder: Arc<Recorder>,
        a2a: a2a::Choice,
    ) -> Arc<UserContext> {
        UserContext::with_tokenizer(host, token, recorder, a2a, None)
    }

    /// [`Self::new`] with the run's `--tokenizer`.
    pub fn with_tokenizer(
        host: &str,
        token: &str,
        recorder: Arc<Recorder>,
        a2a: a2a::Choice,
        tokenizer: Option<Arc<llm::tokenizer::TokenCounter>>,
    ) -> Arc<UserContext> {
        let base_url = host.trim_end_matches('/').to_string();
        let client = transport::reqwest_client();
        // Commands check the token first (exit 2); one that still cannot be a header value
        // sends none, and the target answers 401: failures, not a panic.
        let authorization = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
        Arc::new(UserContext {
            transport: Transport::new(&base_url, client.clone(), authorization.clone()),
            client,
            jsonrpc_url: format!("{base_url}{}", transport::JSONRPC_PATH),
            base_url,
            authorization,
            recorder,
            a2a,
            tokenizer,
        })
    }
}

/// A random (version 4) UUID from this thread's generator: `Uuid::new_v4` asks the operating
/// system for every one, a system call on the path of every request that sends an id.
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

impl UserClass {
    /// What users of this class send.
    pub fn behaviour(self) -> ClassBehaviour {
        match self {
            UserClass::TrainingApi => training::behaviour(),
            UserClass::BurstTraining => burst::behaviour(),
            UserClass::Orchestration => orchestration::behaviour(),
            UserClass::HighThroughput => high_throughput::behaviour(),
            UserClass::AgentChat => agent_chat::behaviour(),
            UserClass::Mcp(settings) => mcp::behaviour(settings),
            UserClass::Custom(class) => (class.behaviour)(),
            UserClass::Declared(class) => class.behaviour(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_uuids_are_version_4_and_differ() {
        let (a, b) = (random_uuid(), random_uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_ne!(a, b);
    }

    #[test]
    fn every_class_behaves_under_its_own_name_and_sends_something() {
        for class in UserClass::ALL {
            let behaviour = class.behaviour();
            assert_eq!(behaviour.name, class.name());
            assert!(behaviour.requests.iter().any(|r| r.weight > 0));
        }
    }
}

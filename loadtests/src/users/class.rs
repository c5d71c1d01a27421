//! The user classes a scenario can name, and their default think times.
//!
//! A class is one of the built-in ones, one a program registered in Rust, or one declared in
//! the scenario file. Its identity is its name: equality and hashing go by name, so a worker that re-parsed the same scenario
//! resolves the names the manager deals it (`distributed::share`) to equal classes. Built-in
//! classes order as listed here, before declared ones (ordered by name).
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

pub use super::behaviour::ThinkTime;
use super::custom::{self, registered, CustomClass, RegisterError};
use super::declared::DeclaredClass;
use super::mcp::{self, McpSettings};

#[derive(Clone, Copy, Debug)]
pub enum UserClass {
    TrainingApi,
    BurstTraining,
    Orchestration,
    HighThroughput,
    AgentChat,
    /// An agent calling MCP tools ([`super::mcp`]), with the scenario's settings (leaked, like
    /// a declared class's).
    Mcp(&'static McpSettings),
    /// A class written in Rust and registered by the program (see [`super::custom`]).
    Custom(&'static CustomClass),
    /// A class from a scenario file's `[[user_classes]]` with `name` and `requests`; built
    /// once at load and leaked (see [`super::declared`]) so the class stays `Copy`.
    Declared(&'static DeclaredClass),
}

impl UserClass {
    /// Built-in classes first, in their listed order; declared ones after.
    fn rank(self) -> usize {
        Self::ALL
            .iter()
            .position(|c| c.name() == self.name())
            .unwrap_or(Self::ALL.len())
    }
}

impl PartialEq for UserClass {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for UserClass {}

impl Hash for UserClass {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl Ord for UserClass {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.rank(), self.name()).cmp(&(other.rank(), other.name()))
    }
}

impl PartialOrd for UserClass {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl UserClass {
    pub const ALL: [UserClass; 6] = [
        UserClass::TrainingApi,
        UserClass::BurstTraining,
        UserClass::Orchestration,
        UserClass::HighThroughput,
        UserClass::AgentChat,
        UserClass::Mcp(&mcp::DEFAULT_SETTINGS),
    ];

    /// The name scenario files and reports use (Locust-style class names).
    pub fn name(self) -> &'static str {
        match self {
            UserClass::TrainingApi => "TrainingAPIUser",
            UserClass::BurstTraining => "BurstTrainingUser",
            UserClass::Orchestration => "OrchestrationUser",
            UserClass::HighThroughput => "HighThroughputUser",
            UserClass::AgentChat => "AgentChatUser",
            UserClass::Mcp(_) => mcp::NAME,
            UserClass::Custom(class) => class.name,
            UserClass::Declared(class) => class.name,
        }
    }

    /// A built-in or registered class by name (declared classes are resolved against their
    /// scenario).
    pub fn from_name(name: &str) -> Option<UserClass> {
        Self::ALL
            .into_iter()
            .chain(registered().into_iter().map(UserClass::Custom))
            .find(|c| c.name() == name)
    }

    /// Makes a class written in Rust available to scenario files by its name (see
    /// [`super::custom`]).
    pub fn register(class: CustomClass) -> Result<(), RegisterError> {
        if class.name.trim().is_empty() {
            return Err(RegisterError::NoName);
        }
        if UserClass::from_name(class.name).is_some() {
            return Err(RegisterError::NameTaken(class.name));
        }
        custom::add(class);
        Ok(())
    }

    /// The classes a scenario can name with `class = "..."`.
    pub fn names() -> String {
        Self::ALL
            .into_iter()
            .chain(registered().into_iter().map(UserClass::Custom))
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn default_think_time(self) -> ThinkTime {
        match self {
            UserClass::TrainingApi => ThinkTime::ms(1_000, 5_000),
            UserClass::BurstTraining => ThinkTime::ms(100, 1_000),
            UserClass::Orchestration => ThinkTime::ms(100, 500),
            UserClass::HighThroughput => ThinkTime::ms(10, 50),
            // A person reading a streamed answer before asking again.
            UserClass::AgentChat => ThinkTime::ms(1_000, 3_000),
            // An agent between tool calls (its model thinking).
            UserClass::Mcp(_) => ThinkTime::ms(200, 1_000),
            UserClass::Custom(class) => class.think_time,
            UserClass::Declared(class) => class.think_time,
        }
    }
}

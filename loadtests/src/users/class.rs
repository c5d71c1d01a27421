//! The user classes a scenario can name, and their default think times.
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserClass {
    TrainingApi,
    BurstTraining,
    Orchestration,
    HighThroughput,
}

/// Pause between two requests of one user: uniform in `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl ThinkTime {
    pub const fn ms(min: u64, max: u64) -> Self {
        ThinkTime {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        }
    }
}

impl UserClass {
    pub const ALL: [UserClass; 4] = [
        UserClass::TrainingApi,
        UserClass::BurstTraining,
        UserClass::Orchestration,
        UserClass::HighThroughput,
    ];

    /// The name scenario files and reports use (Locust-style class names).
    pub fn name(self) -> &'static str {
        match self {
            UserClass::TrainingApi => "TrainingAPIUser",
            UserClass::BurstTraining => "BurstTrainingUser",
            UserClass::Orchestration => "OrchestrationUser",
            UserClass::HighThroughput => "HighThroughputUser",
        }
    }

    pub fn from_name(name: &str) -> Option<UserClass> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
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
        }
    }
}

//! The load model of a run, on its own so that every part of the result model can name it
//! without depending on the whole model.
use serde::{Deserialize, Serialize};

/// How load was generated, which decides what "latency" and "dropped" mean for the run.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    /// A fixed number of users, each sending its next request when the previous finished:
    /// the offered load falls when the system slows down. Never drops arrivals.
    #[default]
    Closed,
    /// Arrivals at a set rate whatever the system does; an arrival is dropped (counted, not
    /// sent) when `max_in_flight` requests are already outstanding.
    Open,
}

impl LoadModel {
    /// "closed" or "open", as in results.json.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadModel::Closed => "closed",
            LoadModel::Open => "open",
        }
    }
}

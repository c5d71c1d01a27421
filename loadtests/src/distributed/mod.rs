//! Distributed runs: one manager, many workers, over plain HTTP/JSON.
//!
//! [`protocol`] (messages, version, token both ways), [`share`] (users per worker),
//! [`registry`] (the manager's view of workers and their cumulative reports), [`manager`]
//! and [`worker`] (the two roles).
pub mod manager;
pub mod protocol;
pub mod registry;
pub mod share;
pub mod worker;

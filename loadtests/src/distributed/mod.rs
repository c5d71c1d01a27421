//! Distributed runs: one manager, many workers, over HTTP.
//!
//! [`protocol`] (messages, version, token both ways), [`share`] (users per worker),
//! [`totals`] (measurements that grow by increments, on both sides), [`outbox`] (the
//! worker's reports as increments over what the manager holds), [`registry`] (the manager's
//! view of workers and their merged reports), [`manager`] and [`worker`] (the two roles),
//! [`search`] (the manager driving `skein capacity` over its workers), and
//! [`faults`] (a test-only hook that drops, repeats or reorders a worker's reports).
pub mod faults;
pub mod manager;
pub mod manager_state;
pub mod outbox;
pub mod protocol;
pub mod registry;
pub mod search;
pub mod share;
pub mod totals;
pub mod web_feed;
pub mod worker;

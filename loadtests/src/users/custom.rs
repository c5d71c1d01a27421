//! User classes written in Rust by a program that uses `skein` as a library: for what a
//! scenario file cannot say (loops on an answer, computed payloads, a protocol of your own).
//!
//! The program registers its classes before handing over to Skein's command line; scenario
//! files then name them with `class = "..."` like built-in ones, and every command (run,
//! capacity, manager, worker) and report works with them unchanged. A worker must be the same
//! program, since it resolves class names from the scenario the manager sends it. See
//! `loadtests/examples/job_poller.rs` and docs/custom-workloads.md.
use std::sync::RwLock;

use super::behaviour::{ClassBehaviour, ThinkTime};

/// A user class defined in Rust.
#[derive(Debug)]
pub struct CustomClass {
    /// The name scenario files and reports use; must not be a built-in class's.
    pub name: &'static str,
    /// Used when the scenario gives none.
    pub think_time: ThinkTime,
    /// What its users send.
    pub behaviour: fn() -> ClassBehaviour,
}

/// Registered classes, leaked so a `UserClass` stays `Copy` (a program registers a few).
static REGISTERED: RwLock<Vec<&'static CustomClass>> = RwLock::new(Vec::new());

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    #[error("a user class named `{0}` already exists; give the Rust class another name")]
    NameTaken(&'static str),
    #[error("a user class needs a name")]
    NoName,
}

/// Keeps `class` (checked by `UserClass::register`).
pub(crate) fn add(class: CustomClass) {
    REGISTERED
        .write()
        .expect("registry poisoned")
        .push(Box::leak(Box::new(class)));
}

/// Every registered class, in registration order.
pub(crate) fn registered() -> Vec<&'static CustomClass> {
    REGISTERED.read().expect("registry poisoned").clone()
}

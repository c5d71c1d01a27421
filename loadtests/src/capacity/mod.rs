//! `skein capacity`: the search for the maximum sustainable load ([`search`], a state
//! machine free of I/O) and its steps ([`step`]: a load's scenario, windows, judgement).
pub mod search;
pub mod step;

pub use search::{Next, Search, SearchSpec};

//! Integration tests of the reports crate.
mod merge_exactness;
mod model_format;

//! Integration tests of the reports crate.
mod capacity_search;
mod chromium_render;
mod compare_gate;
mod intended_and_dropped;
mod merge_exactness;
mod model_format;
mod noise_gate;
mod renderers;
mod streaming;

//! Run-result model and renderers.

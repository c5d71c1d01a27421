//! Reference agent server.

//! Tests of the Rust frontend on real-looking service code.

//! The `rallybot` command line.
fn main() {}

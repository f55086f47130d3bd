//! The `rallybot` binary built once more, in the end-to-end tests' package, so that they can start
//! it as a process: Cargo tells a test where the binaries of its own package are
//! (`CARGO_BIN_EXE_rallybot_under_test`), not those of others. Below the header this file is
//! `bot/src/main.rs` line for line (a test checks it).

/// Callbacks allocate many small short-lived buffers on every worker thread; mimalloc's
/// per-thread heaps serve them without the cross-thread contention of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rallybot::cli::run()
}

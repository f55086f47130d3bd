//! The `rallybot` command line: see `rallybot --help` and `cli/mod.rs`.

/// Callbacks allocate many small short-lived buffers on every worker thread; mimalloc's
/// per-thread heaps serve them without the cross-thread contention of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rallybot::cli::run()
}

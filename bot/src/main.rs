//! The `rallybot` command line: see `rallybot --help` and `cli.rs`.

fn main() -> std::process::ExitCode {
    rallybot::cli::run()
}

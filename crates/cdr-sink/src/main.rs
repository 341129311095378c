//! The `cdr-sink` binary: parse, run, exit code. Everything else is the library.

fn main() -> std::process::ExitCode {
    cdr_sink::cli::main()
}

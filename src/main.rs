//! The notedraft command: parse the command line, run, and turn any error into one clear line and an exit code.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}

//! Command-line definitions (clap) and their conversion into plain settings.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    ExitCode::SUCCESS
}

//! The notedraft command: parse the command line, run, and turn any error into one clear line and an exit code.

mod cli;
mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command};
use notedraft::config::{ConfigFile, Settings, default_config_path};
use notedraft::error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", error::one_line(&err));
            for cause in error::causes(&err) {
                tracing::info!("caused by: {cause}");
            }
            error::exit(error::EXIT_FAILED)
        }
    }
}

fn init_logging(verbose: u8) {
    // Libraries' own log lines (symphonia reports every failed format probe as an error) are not
    // for the clinician: only notedraft's messages show unless -vv is given.
    let default = match verbose {
        0 => "off,notedraft=warn",
        1 => "off,notedraft=info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NOTEDRAFT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config_path = cli.config.clone().unwrap_or_else(default_config_path);
    let file = match ConfigFile::load(&config_path, cli.config.is_some()) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("notedraft: {err}");
            return Ok(error::exit(error::EXIT_USAGE));
        }
    };
    let settings = Settings::resolve(file, cli.command.overrides());
    tracing::debug!(?settings, "settings");
    match cli.command {
        Command::Models(cmd) => commands::models::run(cmd, &settings),
        Command::Devices => commands::devices::run(&settings),
        Command::Transcribe(args) => commands::transcribe::run(args, &settings),
        Command::Draft(args) => commands::draft::run(args, &settings),
        Command::Eval(args) => commands::eval::run(args),
        Command::Record(args) => commands::record::run(args, &settings, &config_path),
        Command::Recover(args) => commands::recover::run(args, &settings),
        Command::Batch(args) => commands::batch::run(args, &settings),
    }
}

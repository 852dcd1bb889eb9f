//! The notedraft command: parse the command line, run, and turn any error into one clear line and an exit code.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command};
use notedraft::audio::capture::{self, InputDevice};
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
    let default = match verbose {
        0 => "warn",
        1 => "info",
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
        Command::Models(cmd) => models(cmd, &settings),
        Command::Devices => devices(&settings),
        other => anyhow::bail!("this command is not available yet: {other:?}"),
    }
}

fn models(cmd: cli::ModelsCommand, _settings: &Settings) -> Result<ExitCode> {
    anyhow::bail!("models command not wired yet: {cmd:?}")
}

fn devices(settings: &Settings) -> Result<ExitCode> {
    let devices = capture::list_input_devices()?;
    print!("{}", device_table(&devices));
    if let Some(wanted) = settings.device.as_deref() {
        match capture::find_device(&devices, wanted) {
            Ok(i) => println!(
                "Your settings choose \"{wanted}\": that is \"{}\".",
                devices[i].name
            ),
            Err(_) => println!(
                "Your settings choose \"{wanted}\", which is not connected now: plug it in, or choose another as shown above."
            ),
        }
    }
    Ok(error::exit(error::EXIT_OK))
}

/// The microphones as a small table, the default starred, with how to choose one.
fn device_table(devices: &[InputDevice]) -> String {
    let name_width = devices
        .iter()
        .map(|d| d.name.chars().count())
        .chain(["MICROPHONE".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::from("Microphones that can record:\n\n");
    out += &format!(
        "    {:<name_width$}  {:>9}  CHANNELS\n",
        "MICROPHONE", "RATE"
    );
    for d in devices {
        let marker = if d.is_default { "*" } else { " " };
        out += &format!(
            "  {marker} {:<name_width$}  {:>6} Hz  {}\n",
            d.name, d.sample_rate, d.channels
        );
    }
    out += "\n  * used when no microphone is chosen\n";
    out += "\nTo choose one: notedraft record --device NAME --save-device\n";
    out += "(NAME can be part of the name, such as \"usb\".)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(name: &str, rate: u32, channels: u16, is_default: bool) -> InputDevice {
        InputDevice {
            name: name.to_string(),
            id: name.to_lowercase(),
            sample_rate: rate,
            channels,
            sample_format: "i16".to_string(),
            is_default,
        }
    }

    #[test]
    fn device_table_marks_the_default_and_says_how_to_choose() {
        let table = device_table(&[
            mic("Virtual microphone", 48_000, 2, true),
            mic("USB", 44_100, 1, false),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[2], "    MICROPHONE               RATE  CHANNELS");
        assert_eq!(lines[3], "  * Virtual microphone   48000 Hz  2");
        assert_eq!(lines[4], "    USB                  44100 Hz  1");
        assert!(table.contains("notedraft record --device NAME --save-device"));
    }
}

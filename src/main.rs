//! The notedraft command: parse the command line, run, and turn any error into one clear line and an exit code.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command};
use notedraft::config::{ConfigFile, Settings, default_config_path};
use notedraft::error;
use notedraft::transcribe::whisper::{WhisperModel, WhisperTranscriber};
use notedraft::transcribe::{self as speech, TranscribeOptions, output};

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
        Command::Models(cmd) => models(cmd, &settings),
        Command::Transcribe(args) => transcribe(args, &settings),
        other => anyhow::bail!("this command is not available yet: {other:?}"),
    }
}

fn models(cmd: cli::ModelsCommand, _settings: &Settings) -> Result<ExitCode> {
    anyhow::bail!("models command not wired yet: {cmd:?}")
}

/// `notedraft transcribe FILE...`: one model load, then each file in turn; a bad file is reported
/// on one line and the others still run.
fn transcribe(args: cli::TranscribeArgs, settings: &Settings) -> Result<ExitCode> {
    let (model_path, model_name) = resolve_model_path(settings);
    let model = WhisperModel::load(&model_path, &model_name)?;
    let engine = WhisperTranscriber::new(
        model,
        TranscribeOptions {
            threads: settings.threads,
            beam_size: settings.beam_size,
            initial_prompt: initial_prompt(settings)?,
        },
    );
    if let Some(dir) = &args.out {
        notedraft::store::create_private_dir(dir)?;
    }
    let several = args.files.len() > 1;
    let mut failures = 0usize;
    let mut used_names = std::collections::HashSet::new();
    for (index, file) in args.files.iter().enumerate() {
        let started = std::time::Instant::now();
        let transcript = match notedraft::audio::load_file(file) {
            Err(err) => {
                eprintln!("notedraft: {err}");
                failures += 1;
                continue;
            }
            Ok((samples, _info)) => match speech::transcribe(&engine, &samples) {
                Ok(t) => t,
                Err(err) => {
                    eprintln!("notedraft: could not transcribe {}: {err}", file.display());
                    failures += 1;
                    continue;
                }
            },
        };
        let elapsed = started.elapsed().as_secs_f64();
        tracing::info!(
            file = %file.display(),
            "transcribed {:.1} s of audio in {:.2} s (real-time factor {:.3})",
            transcript.duration_s,
            elapsed,
            elapsed / transcript.duration_s.max(1e-9)
        );
        let shown_name = file.display().to_string();
        let render = |pretty: bool| match args.format {
            cli::TranscriptFormat::Txt => output::to_txt(&transcript),
            cli::TranscriptFormat::Json => {
                output::to_json(&shown_name, engine.model.name(), &transcript, pretty)
            }
            cli::TranscriptFormat::Srt => output::to_srt(&transcript),
        };
        match &args.out {
            Some(dir) => {
                let path = transcript_path(dir, file, args.format, &mut used_names);
                if let Err(err) =
                    notedraft::store::write_private_atomic(&path, render(true).as_bytes())
                {
                    eprintln!("notedraft: {err}");
                    failures += 1;
                }
            }
            None => {
                use std::io::Write as _;
                let mut stdout = std::io::stdout().lock();
                if several && !matches!(args.format, cli::TranscriptFormat::Json) {
                    if index > 0 {
                        writeln!(stdout)?;
                    }
                    writeln!(stdout, "==> {shown_name} <==")?;
                }
                stdout.write_all(render(false).as_bytes())?;
                stdout.flush()?;
            }
        }
    }
    if failures > 0 {
        if several {
            eprintln!(
                "notedraft: {failures} of {} recordings could not be transcribed; the others were.",
                args.files.len()
            );
        }
        return Ok(error::exit(error::EXIT_FAILED));
    }
    Ok(error::exit(error::EXIT_OK))
}

/// Where the transcript of `file` goes in `dir`: the recording's name with the format's extension,
/// numbered when two recordings in one run share a name.
fn transcript_path(
    dir: &std::path::Path,
    file: &std::path::Path,
    format: cli::TranscriptFormat,
    used: &mut std::collections::HashSet<String>,
) -> std::path::PathBuf {
    let ext = match format {
        cli::TranscriptFormat::Txt => "txt",
        cli::TranscriptFormat::Json => "json",
        cli::TranscriptFormat::Srt => "srt",
    };
    let stem = notedraft::store::safe_stem(
        &file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "transcript".to_string()),
    );
    let mut name = stem.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{stem}-{n}");
        n += 1;
    }
    dir.join(format!("{name}.{ext}"))
}

/// The built-in clinical prompt, or the one in the settings' prompt file.
fn initial_prompt(settings: &Settings) -> Result<String> {
    match &settings.prompt_file {
        None => Ok(speech::CLINICAL_PROMPT.trim().to_string()),
        Some(path) => std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .map_err(|e| {
                anyhow::anyhow!(
                    "could not read the prompt file {} ({e}): fix prompt_file in the settings file or remove it",
                    path.display()
                )
            }),
    }
}

/// TEMPORARY until `notedraft::model::catalog::resolve` is merged from the `model` branch: a name
/// such as "base" is looked up as ggml-NAME.bin in $NOTEDRAFT_MODELS_DIR, ./models and the user
/// data folder; anything that looks like a path is used as is.
fn resolve_model_path(settings: &Settings) -> (std::path::PathBuf, String) {
    let wanted = settings.model.clone().unwrap_or_else(|| "base".to_string());
    let as_path = std::path::Path::new(&wanted);
    if wanted.contains(std::path::MAIN_SEPARATOR) || wanted.ends_with(".bin") {
        let name = as_path
            .file_stem()
            .map(|s| s.to_string_lossy().trim_start_matches("ggml-").to_string())
            .unwrap_or_else(|| wanted.clone());
        return (as_path.to_path_buf(), name);
    }
    let file_name = format!("ggml-{wanted}.bin");
    let mut search: Vec<std::path::PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("NOTEDRAFT_MODELS_DIR") {
        search.push(dir.into());
    }
    search.push("models".into());
    if let Some(data) = dirs::data_dir() {
        search.push(data.join("notedraft").join("models"));
    }
    let found = search
        .iter()
        .map(|d| d.join(&file_name))
        .find(|p| p.is_file());
    let path = found.unwrap_or_else(|| search[0].join(&file_name));
    (path, wanted)
}

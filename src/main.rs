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

fn models(cmd: cli::ModelsCommand, settings: &Settings) -> Result<ExitCode> {
    use notedraft::model::catalog;
    use notedraft::model::convert;

    match cmd {
        cli::ModelsCommand::List => {
            let statuses = catalog::list()?;
            let in_use = catalog::resolve(settings.model.as_deref());
            show(&models_table(&statuses, &in_use));
            Ok(error::exit(error::EXIT_OK))
        }
        cli::ModelsCommand::Verify { name } => {
            let results = catalog::verify(name.as_deref())?;
            if results.is_empty() {
                eprintln!(
                    "notedraft: no speech models are installed: run {} {}",
                    catalog::FETCH_COMMAND,
                    catalog::DEFAULT_MODEL
                );
                return Ok(error::exit(error::EXIT_FAILED));
            }
            show(&verify_report(&results));
            let code = if results.iter().all(|r| r.outcome.is_ok()) {
                error::EXIT_OK
            } else {
                error::EXIT_FAILED
            };
            Ok(error::exit(code))
        }
        cli::ModelsCommand::Convert { from, out, q8 } => {
            let started = std::time::Instant::now();
            let output_type = if q8 {
                convert::OutputType::Q8_0
            } else {
                convert::OutputType::F16
            };
            let report = convert::convert_dir_as(&from, &out, output_type)?;
            show(&format!(
                "Converted {} -> {} ({} tensors, {} bytes, sha256 {}) in {:.1} s\n",
                from.display(),
                report.out.display(),
                report.tensors,
                thousands(report.bytes),
                report.sha256,
                started.elapsed().as_secs_f64()
            ));
            Ok(error::exit(error::EXIT_OK))
        }
    }
}

/// The table `notedraft models list` prints.
fn models_table(
    statuses: &[notedraft::model::catalog::ModelStatus],
    in_use: &Result<
        notedraft::model::catalog::ResolvedModel,
        notedraft::model::catalog::ModelError,
    >,
) -> String {
    use notedraft::model::catalog::{FETCH_COMMAND, Verified};
    use std::fmt::Write as _;

    let in_use_name = in_use.as_ref().ok().map(|m| m.name.as_str());
    let mut out = String::new();
    let _ = writeln!(out, "Speech models (* = the one notedraft uses now):\n");
    let _ = writeln!(
        out,
        "  {:<16} {:>8}  {:<10} {:<9} ABOUT",
        "NAME", "SIZE", "INSTALLED", "CHECKED"
    );
    for m in statuses {
        let mark = if in_use_name == Some(m.name.as_str()) {
            "*"
        } else {
            " "
        };
        let installed = if m.installed.is_some() { "yes" } else { "no" };
        let checked = match m.verified {
            Verified::Yes(_) => "ok",
            Verified::No => "DAMAGED",
            Verified::Unknown if m.installed.is_some() => "unknown",
            Verified::Unknown => "-",
        };
        let _ = writeln!(
            out,
            "{mark} {:<16} {:>8}  {:<10} {:<9} {}",
            m.name,
            megabytes(m.size),
            installed,
            checked,
            m.description
        );
    }
    let installed: Vec<_> = statuses.iter().filter(|m| m.installed.is_some()).collect();
    if !installed.is_empty() {
        out.push('\n');
    }
    for m in installed {
        if let Some(path) = &m.installed {
            let how = match m.verified {
                Verified::Yes(f) => format!(" ({})", f.label()),
                _ => String::new(),
            };
            let _ = writeln!(out, "  {} is {}{how}", m.name, path.display());
        }
    }
    out.push('\n');
    match in_use {
        Ok(m) if m.entry.is_none() => {
            let _ = writeln!(
                out,
                "In use: the model file {} (from your settings).",
                m.path.display()
            );
        }
        Ok(_) => {}
        Err(err) => {
            let _ = writeln!(out, "Note: {err}.");
        }
    }
    if statuses.iter().any(|m| m.verified == Verified::No) {
        let _ = writeln!(
            out,
            "A DAMAGED model should be fetched again: {FETCH_COMMAND} NAME"
        );
    }
    let convertible: Vec<&str> = statuses
        .iter()
        .filter(|m| m.convertible)
        .map(|m| m.name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "Install a model with: {FETCH_COMMAND} NAME (without internet access to the official files, \
         only {} can be installed).",
        convertible.join(" and ")
    );
    out
}

/// One line per checked model for `notedraft models verify`.
fn verify_report(results: &[notedraft::model::catalog::VerifyResult]) -> String {
    use notedraft::model::catalog::{FETCH_COMMAND, VerifyOutcome};
    use std::fmt::Write as _;

    let mut out = String::new();
    for r in results {
        let place = r
            .path
            .as_ref()
            .map(|p| format!(" ({})", p.display()))
            .unwrap_or_default();
        let verdict = match &r.outcome {
            VerifyOutcome::Verified(f) => format!("ok, matches the {}", f.label()),
            VerifyOutcome::NoFingerprint { sha256, .. } => format!(
                "present, but there is no known fingerprint to check it against (sha256 {sha256})"
            ),
            VerifyOutcome::Mismatch { size, sha256 } => format!(
                "DAMAGED: it matches no known copy ({} bytes, sha256 {sha256}): run {FETCH_COMMAND} {} to replace it",
                thousands(*size),
                r.name
            ),
            VerifyOutcome::NotInstalled => {
                format!("not installed: run {FETCH_COMMAND} {}", r.name)
            }
        };
        let _ = writeln!(out, "{}{place}: {verdict}", r.name);
    }
    out
}

/// Print to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn show(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// 147951465 -> "148 MB"; 1533763059 -> "1.5 GB".
fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}

/// 147951465 -> "147,951,465".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `notedraft transcribe FILE...`: one model load, then each file in turn; a bad file is reported
/// on one line and the others still run.
fn transcribe(args: cli::TranscribeArgs, settings: &Settings) -> Result<ExitCode> {
    let (model_path, model_name) = resolve_model(settings)?;
    let model = WhisperModel::load(&model_path, &model_name)?;
    let prompt = initial_prompt(settings)?;
    if model.prompt_token_count(&prompt)? > speech::whisper::PROMPT_TOKEN_BUDGET {
        tracing::warn!(
            "the prompt is longer than Whisper keeps ({} tokens): its beginning is ignored; shorten it",
            speech::whisper::PROMPT_TOKEN_BUDGET
        );
    }
    let engine = WhisperTranscriber::new(
        model,
        TranscribeOptions {
            threads: settings.threads,
            beam_size: settings.beam_size,
            initial_prompt: prompt,
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

/// The model file for the settings, and the catalog name to put in "run scripts/fetch-model.sh NAME"
/// should the file turn out to be damaged.
fn resolve_model(settings: &Settings) -> Result<(std::path::PathBuf, String)> {
    use notedraft::model::catalog::{self, Catalog, DEFAULT_MODEL};
    let resolved = catalog::resolve(settings.model.as_deref())?;
    let name = match &resolved.entry {
        Some(entry) => entry.name.clone(),
        // A file given by path: name it after the catalog model with that file name, if any.
        None => Catalog::builtin()
            .models()
            .iter()
            .find(|e| Some(std::ffi::OsStr::new(&e.file)) == resolved.path.file_name())
            .map_or_else(|| DEFAULT_MODEL.to_string(), |e| e.name.clone()),
    };
    Ok((resolved.path, name))
}

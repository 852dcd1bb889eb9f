//! `notedraft transcribe`: recordings to word-for-word transcripts (txt, json, srt).

use std::process::ExitCode;

use anyhow::Result;

use notedraft::config::Settings;
use notedraft::error;
use notedraft::pipeline::Speech;
use notedraft::transcribe::output;

use crate::cli;

/// `notedraft transcribe FILE...`: one model load, then each file in turn; a bad file is reported
/// on one line and the others still run.
pub fn run(args: cli::TranscribeArgs, settings: &Settings) -> Result<ExitCode> {
    let speech = Speech::load(settings)?;
    let engine = speech.engine();
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
            Ok((samples, _info)) => {
                match notedraft::transcribe::transcribe(engine.as_ref(), &samples) {
                    Ok(t) => t,
                    Err(err) => {
                        eprintln!("notedraft: could not transcribe {}: {err}", file.display());
                        failures += 1;
                        continue;
                    }
                }
            }
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
                output::to_json(&shown_name, speech.model_name(), &transcript, pretty)
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

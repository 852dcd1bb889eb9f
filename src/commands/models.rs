//! `notedraft models`: list, verify and convert speech models.

use std::process::ExitCode;

use anyhow::Result;

use notedraft::config::Settings;
use notedraft::error;

use super::show;
use crate::cli;

pub fn run(cmd: cli::ModelsCommand, settings: &Settings) -> Result<ExitCode> {
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
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

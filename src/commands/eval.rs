//! `notedraft eval [DIR]`: how well dictations are sorted into sections, on a labelled corpus.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use notedraft::error;

use super::show;
use crate::cli::EvalArgs;

/// The project's held-out dictations, when notedraft runs from its source tree.
fn default_corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/heldout")
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(default_corpus);
    let report = notedraft::eval::run(&dir)?;
    show(&format!("{report}\n"));
    Ok(error::exit(error::EXIT_OK))
}

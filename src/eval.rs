//! `notedraft eval [DIR]`: reads a folder of labelled dictations and scores drafts against them.
//!
//! The scoring itself is pure (`note::eval`); this file only reads the files.

use std::path::{Path, PathBuf};

use crate::note::corpus::{self, CorpusError, CorpusFile};
pub use crate::note::eval::EvalReport;

/// What can stop an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "the corpus folder {path} could not be read ({source}); check the path, the project's own is tests/corpus/heldout"
    )]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the corpus file {path} could not be read ({source}); check that it is a readable text file"
    )]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    #[error(
        "there are no labelled dictations (*.txt) in {path}; point eval at a folder such as tests/corpus/heldout"
    )]
    Empty { path: PathBuf },
}

/// Reads and parses every `*.txt` file of a folder, in name order.
pub fn load(dir: &Path) -> Result<Vec<CorpusFile>, EvalError> {
    let entries = std::fs::read_dir(dir).map_err(|source| EvalError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| EvalError::ReadFile {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(corpus::parse(&name, &text)?);
    }
    if files.is_empty() {
        return Err(EvalError::Empty {
            path: dir.to_path_buf(),
        });
    }
    Ok(files)
}

/// Scores every dictation in the folder with the embedded classifier.
pub fn run(dir: &Path) -> Result<EvalReport, EvalError> {
    Ok(crate::note::eval::score(&load(dir)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_a_plain_error() {
        let err = run(Path::new("/nonexistent/corpus")).unwrap_err();
        assert!(matches!(err, EvalError::ReadDir { .. }));
        assert!(
            err.to_string()
                .starts_with("the corpus folder /nonexistent/corpus could not be read")
        );
    }

    #[test]
    fn an_empty_folder_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(dir.path()).unwrap_err();
        assert!(matches!(err, EvalError::Empty { .. }));
    }

    #[test]
    fn reads_and_scores_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.txt"),
            "# format: soap\n# style: freeform\n# flags: missing-safety missing-interventions missing-session-info\n# scores: none\n\
P | Next session in one week.\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        let report = run(dir.path()).unwrap();
        assert_eq!(report.files, 1);
        assert_eq!(report.sentences.total, 1);
    }
}

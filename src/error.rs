//! Top-level error reporting and exit codes; each stage keeps its own error enum.

use std::process::ExitCode;

/// Everything worked.
pub const EXIT_OK: u8 = 0;
/// Something failed (for batch work: at least one input failed; the others were still done).
pub const EXIT_FAILED: u8 = 1;
/// The command line or the settings file was wrong.
pub const EXIT_USAGE: u8 = 2;

/// The one line a clinician sees for an error. Stage errors already say what happened and what to do;
/// the chain below the top error is detail for `-v`, not for the first read.
pub fn one_line(err: &anyhow::Error) -> String {
    let top = err.to_string();
    let line = top.lines().next().unwrap_or("something went wrong").trim();
    format!("notedraft: {line}")
}

/// The causes behind an error, for verbose output.
pub fn causes(err: &anyhow::Error) -> Vec<String> {
    err.chain().skip(1).map(|c| c.to_string()).collect()
}

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_line_of_the_top_error_is_shown() {
        let err = anyhow::anyhow!("model not found: run scripts/fetch-model.sh base\nmore detail")
            .context("cannot transcribe memo.wav");
        assert_eq!(one_line(&err), "notedraft: cannot transcribe memo.wav");
        assert_eq!(causes(&err).len(), 1);
    }
}

//! One module per command: each turns settings and arguments into calls on the library and output.

pub mod batch;
pub mod devices;
pub mod draft;
pub mod eval;
pub mod models;
pub mod record;
pub mod recover;
pub mod transcribe;

/// Print to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub fn show(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// What the clinician reads after drafting: where the draft is and what it still needs.
pub fn draft_summary(
    draft: &notedraft::note::draft::Draft,
    saved: &notedraft::store::SavedDraft,
) -> String {
    let mut out = format!("Unsigned draft written: {}\n", saved.markdown.display());
    if let Some(edited) = &saved.edited_draft_kept {
        out += &format!(
            "Your edited draft {} was left as it is; the new one is beside it.\n",
            edited.display()
        );
    }
    if let Some(process) = &saved.process_note {
        out += &format!(
            "Private process note (kept out of the progress note): {}\n",
            process.display()
        );
    }
    match draft.flags.len() {
        0 => {
            out += "Nothing flagged for review. Read it through before you sign it in your records system.\n"
        }
        n => {
            out += &format!("{n} thing(s) to check before signing:\n");
            for flag in &draft.flags {
                out += &format!("  - {}\n", flag.message);
            }
        }
    }
    out
}

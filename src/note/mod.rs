//! From transcript to progress-note draft: pure data-in/data-out code, no I/O.

pub mod checks;
pub mod classify;
pub mod commands;
pub mod draft;
pub mod render;
pub mod scores;
pub mod sentences;
pub mod session;

use serde::{Deserialize, Serialize};

/// The progress-note template a draft is written in. BIRP and custom templates will join these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteFormat {
    Soap,
    Dap,
}

impl NoteFormat {
    /// The sections of this format, in the order they appear in a note.
    pub fn sections(self) -> &'static [Section] {
        match self {
            NoteFormat::Soap => &[
                Section::Subjective,
                Section::Objective,
                Section::Assessment,
                Section::Plan,
            ],
            NoteFormat::Dap => &[Section::Data, Section::Assessment, Section::Plan],
        }
    }
}

/// A slot of a progress note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Subjective,
    Objective,
    Assessment,
    Plan,
    Data,
}

/// A piece of transcript with its place in the audio, the input of drafting: a Whisper segment, or a
/// line of a plain-text transcript (no times).
#[derive(Clone, Debug, PartialEq)]
pub struct TimedText {
    pub text: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

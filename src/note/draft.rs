//! The draft (always unsigned) and its JSON contract, `notedraft.draft/1`.
//!
//! Field names and types follow the contract in issue 3 exactly; the extra fields (`paragraph`, `why`,
//! `detail`, `date_said`, `in_range`) are additions a reader of the contract can ignore.

use serde::{Deserialize, Serialize};

use super::classify::DecidedBy;
use super::scores::Score;
use super::{NoteFormat, Section};

/// The schema name written in every draft.
pub const SCHEMA: &str = "notedraft.draft/1";

/// A draft is never signed: signing happens in the EHR, by the clinician.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Unsigned,
}

/// Where the dictation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Audio,
    Text,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    pub path: String,
    /// Length of the audio, for audio sources.
    pub duration_s: Option<f64>,
    /// The speech model that transcribed it, for audio sources.
    pub model: Option<String>,
}

/// A dictated sentence with its place in the audio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpokenSentence {
    pub text: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

/// The note header: what was dictated about the session, and the sentences that said it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionHeader {
    pub client: Option<String>,
    /// ISO date (YYYY-MM-DD) when a month and day were dictated.
    pub date: Option<String>,
    pub duration_minutes: Option<u32>,
    /// "in-person" or "telehealth".
    pub modality: Option<String>,
    /// "individual", "couples", "family" or "group".
    pub session_type: Option<String>,
    pub session_number: Option<u32>,
    pub sentences: Vec<SpokenSentence>,
    /// The date as dictated ("March 4th, 2026").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_said: Option<String>,
}

/// A sentence placed in a section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacedSentence {
    /// The clinician's words, fillers and spoken commands removed.
    pub text: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// How sure the placement is (0..1).
    pub confidence: f64,
    pub decided_by: DecidedBy,
    /// A new paragraph starts here ("new paragraph", or a blank line in a text transcript).
    #[serde(default, skip_serializing_if = "is_false")]
    pub paragraph: bool,
    /// Why the sentence is here: the heading, or the features that weighed most.
    #[serde(default)]
    pub why: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One section of the note, in the format's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionDraft {
    pub name: Section,
    pub sentences: Vec<PlacedSentence>,
}

/// Why a dictated sentence is not in the progress note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExcludedReason {
    /// Private process-note material: it goes to the separate process note.
    ProcessNote,
    /// A spoken command or heading (or words said after "end of dictation").
    Command,
    /// Only fillers, or an abandoned fragment.
    Filler,
    /// Taken back with "scratch that".
    Retracted,
}

/// A dictated sentence left out of the progress note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExcludedSentence {
    pub text: String,
    pub reason: ExcludedReason,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// More about the reason ("said after 'end of dictation'").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The review flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FlagCode {
    #[serde(rename = "missing-safety")]
    MissingSafety,
    #[serde(rename = "phq9-item9")]
    Phq9Item9,
    #[serde(rename = "process-content")]
    ProcessContent,
    #[serde(rename = "vague-progress")]
    VagueProgress,
    #[serde(rename = "missing-plan")]
    MissingPlan,
    #[serde(rename = "missing-interventions")]
    MissingInterventions,
    #[serde(rename = "missing-session-info")]
    MissingSessionInfo,
    #[serde(rename = "score-out-of-range")]
    ScoreOutOfRange,
    #[serde(rename = "late-note")]
    LateNote,
}

impl FlagCode {
    pub fn code(self) -> &'static str {
        match self {
            FlagCode::MissingSafety => "missing-safety",
            FlagCode::Phq9Item9 => "phq9-item9",
            FlagCode::ProcessContent => "process-content",
            FlagCode::VagueProgress => "vague-progress",
            FlagCode::MissingPlan => "missing-plan",
            FlagCode::MissingInterventions => "missing-interventions",
            FlagCode::MissingSessionInfo => "missing-session-info",
            FlagCode::ScoreOutOfRange => "score-out-of-range",
            FlagCode::LateNote => "late-note",
        }
    }
}

/// Something the clinician should look at before signing, in plain words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    pub code: FlagCode,
    pub message: String,
}

/// An unsigned progress-note draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub schema: String,
    pub status: Status,
    pub format: NoteFormat,
    pub created_at: jiff::Timestamp,
    /// When the dictation was recorded, where known (a memo's metadata or file time).
    #[serde(default)]
    pub recorded_at: Option<jiff::Timestamp>,
    pub source: Source,
    pub session: SessionHeader,
    /// Every section of the format, in order, even when empty.
    pub sections: Vec<SectionDraft>,
    pub excluded: Vec<ExcludedSentence>,
    pub scores: Vec<Score>,
    pub flags: Vec<Flag>,
    /// The full transcript as recognised.
    pub transcript: String,
}

impl Draft {
    /// The section with this name, if the format has it.
    pub fn section(&self, name: Section) -> Option<&SectionDraft> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The sentences of the private process note, in dictation order.
    pub fn process_note(&self) -> impl Iterator<Item = &ExcludedSentence> {
        self.excluded
            .iter()
            .filter(|e| e.reason == ExcludedReason::ProcessNote)
    }

    /// The draft as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Draft {
        Draft {
            schema: SCHEMA.to_string(),
            status: Status::Unsigned,
            format: NoteFormat::Soap,
            created_at: "2026-03-04T17:05:00Z".parse().unwrap(),
            recorded_at: None,
            source: Source {
                kind: SourceKind::Text,
                path: "/tmp/jd.txt".into(),
                duration_s: None,
                model: None,
            },
            session: SessionHeader {
                client: Some("J.D.".into()),
                duration_minutes: Some(50),
                sentences: vec![SpokenSentence {
                    text: "Session six.".into(),
                    start_s: None,
                    end_s: None,
                }],
                ..SessionHeader::default()
            },
            sections: vec![SectionDraft {
                name: Section::Subjective,
                sentences: vec![PlacedSentence {
                    text: "She slept better.".into(),
                    start_s: Some(1.5),
                    end_s: Some(3.0),
                    confidence: 0.93,
                    decided_by: DecidedBy::Heading,
                    paragraph: false,
                    why: "heading 'subjective'".into(),
                }],
            }],
            excluded: vec![ExcludedSentence {
                text: "Scratch that.".into(),
                reason: ExcludedReason::Command,
                start_s: None,
                end_s: None,
                detail: None,
            }],
            scores: vec![Score {
                instrument: "PHQ-9".into(),
                score: 14,
                prior: Some(18),
                severity: Some("moderate".into()),
                item9_positive: Some(false),
                in_range: true,
            }],
            flags: vec![Flag {
                code: FlagCode::MissingSafety,
                message: "Add it.".into(),
            }],
            transcript: "Session six. She slept better.".into(),
        }
    }

    #[test]
    fn json_has_the_contract_fields_and_values() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["schema"], "notedraft.draft/1");
        assert_eq!(v["status"], "unsigned");
        assert_eq!(v["format"], "soap");
        assert_eq!(v["created_at"], "2026-03-04T17:05:00Z");
        assert_eq!(v["source"]["kind"], "text");
        assert!(v["source"]["duration_s"].is_null());
        assert!(v["source"]["model"].is_null());
        assert_eq!(v["session"]["client"], "J.D.");
        assert!(v["session"]["date"].is_null());
        assert_eq!(v["session"]["duration_minutes"], 50);
        assert!(v["session"]["session_number"].is_null());
        assert_eq!(v["session"]["sentences"][0]["text"], "Session six.");
        assert!(v["session"]["sentences"][0]["start_s"].is_null());
        let s = &v["sections"][0];
        assert_eq!(s["name"], "subjective");
        assert_eq!(s["sentences"][0]["decided_by"], "heading");
        assert_eq!(s["sentences"][0]["confidence"], 0.93);
        assert_eq!(s["sentences"][0]["start_s"], 1.5);
        assert_eq!(v["excluded"][0]["reason"], "command");
        assert_eq!(v["scores"][0]["instrument"], "PHQ-9");
        assert_eq!(v["scores"][0]["prior"], 18);
        assert_eq!(v["scores"][0]["severity"], "moderate");
        assert_eq!(v["scores"][0]["item9_positive"], false);
        assert_eq!(v["flags"][0]["code"], "missing-safety");
        assert_eq!(v["transcript"], "Session six. She slept better.");
    }

    #[test]
    fn json_round_trips() {
        let d = sample();
        let back: Draft = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn every_reason_and_flag_has_its_contract_spelling() {
        let reasons: Vec<String> = [
            ExcludedReason::ProcessNote,
            ExcludedReason::Command,
            ExcludedReason::Filler,
            ExcludedReason::Retracted,
        ]
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
        assert_eq!(
            reasons,
            [
                "\"process-note\"",
                "\"command\"",
                "\"filler\"",
                "\"retracted\""
            ]
        );
        for code in [
            FlagCode::MissingSafety,
            FlagCode::Phq9Item9,
            FlagCode::ProcessContent,
            FlagCode::VagueProgress,
            FlagCode::MissingPlan,
            FlagCode::MissingInterventions,
            FlagCode::MissingSessionInfo,
            FlagCode::ScoreOutOfRange,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.code())
            );
        }
    }

    #[test]
    fn a_signed_status_is_refused_when_reading() {
        let text = sample().to_json().replace("\"unsigned\"", "\"signed\"");
        assert!(serde_json::from_str::<Draft>(&text).is_err());
    }
}

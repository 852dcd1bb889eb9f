//! From transcript to progress-note draft: pure data-in/data-out code, no I/O.
//!
//! [`build_draft`] runs the stages in order: `sentences` (split, with times) -> `commands` (headings,
//! "scratch that", private markers, fillers) -> `session` (header facts) -> `classify` (section or
//! process note) -> `scores` -> `checks` (review flags) -> `draft`. `render` turns a draft into Markdown.

pub mod checks;
pub mod classify;
pub mod commands;
pub mod corpus;
pub mod draft;
pub mod eval;
pub mod features;
pub mod render;
pub mod scores;
pub mod sentences;
pub mod session;
pub mod train;
pub mod words;

use serde::{Deserialize, Serialize};

use classify::{Item, Model, Slot};
use commands::{Fate, Heading, Line, Omission, Private};
use draft::{
    Draft, ExcludedReason, ExcludedSentence, Flag, FlagCode, PlacedSentence, SectionDraft,
    SessionHeader, Source, SpokenSentence, Status,
};
use sentences::Sentence;
use session::SessionFields;

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

    /// The section a classifier slot lands in (DAP's Data holds S and O); `None` for the process note.
    pub fn section_for(self, slot: Slot) -> Option<Section> {
        match (self, slot) {
            (_, Slot::X) => None,
            (NoteFormat::Soap, Slot::S) => Some(Section::Subjective),
            (NoteFormat::Soap, Slot::O) => Some(Section::Objective),
            (NoteFormat::Dap, Slot::S | Slot::O) => Some(Section::Data),
            (_, Slot::A) => Some(Section::Assessment),
            (_, Slot::P) => Some(Section::Plan),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NoteFormat::Soap => "SOAP",
            NoteFormat::Dap => "DAP",
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

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Subjective => "Subjective",
            Section::Objective => "Objective",
            Section::Assessment => "Assessment",
            Section::Plan => "Plan",
            Section::Data => "Data",
        }
    }
}

/// A piece of transcript with its place in the audio, the input of drafting: a Whisper segment, or a
/// line of a plain-text transcript (no times).
#[derive(Clone, Debug, PartialEq)]
pub struct TimedText {
    pub text: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

/// Everything needed to draft a note. The creation time is passed in: note code never reads the clock.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftRequest {
    pub format: NoteFormat,
    pub pieces: Vec<TimedText>,
    pub source: Source,
    pub created_at: jiff::Timestamp,
}

/// Where a dictated line goes once commands and session facts are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The note header.
    Header,
    /// A section or the process note, as the classifier decides.
    Classify,
    /// Left out.
    Excluded(Omission),
}

/// The dictation after commands and session facts, ready for the classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub lines: Vec<Line>,
    pub destinations: Vec<Destination>,
    pub session: SessionFields,
}

/// Obeys the spoken commands and pulls out the session header.
pub fn prepare(sentences: &[Sentence], today: jiff::civil::Date) -> Prepared {
    let lines = commands::resolve(sentences);
    let mut header_fields = SessionFields::default();
    let mut content_fields = SessionFields::default();
    let destinations: Vec<Destination> = lines
        .iter()
        .map(|line| match &line.fate {
            Fate::Excluded(why) => Destination::Excluded(*why),
            Fate::Note {
                heading, private, ..
            } => {
                if *private != Private::No {
                    return Destination::Classify;
                }
                let reading = session::read(&line.text, today);
                let under_session_heading = *heading == Some(Heading::SessionInfo)
                    && reading.fields.count() > 0
                    && reading.content_words <= 3;
                if reading.is_header_only() || under_session_heading {
                    header_fields.fill_from(&reading.fields);
                    Destination::Header
                } else {
                    // Facts said in passing fill what the header lacks, but a date in content is more
                    // often another event's ("court on March 20th") than the session's.
                    let mut facts = reading.fields;
                    facts.date = None;
                    facts.date_said = None;
                    content_fields.fill_from(&facts);
                    Destination::Classify
                }
            }
        })
        .collect();
    header_fields.fill_from(&content_fields);
    Prepared {
        lines,
        destinations,
        session: header_fields,
    }
}

/// A note is due this long after the session (the 24-hour rule).
pub const NOTE_DUE_HOURS: i64 = 24;

/// Record when the dictation was made and, if that was more than a day before `now`, flag the
/// note as late (it is due within 24 hours of the session).
pub fn mark_recorded(draft: &mut Draft, recorded_at: jiff::Timestamp, now: jiff::Timestamp) {
    draft.recorded_at = Some(recorded_at);
    draft.flags.retain(|f| f.code != FlagCode::LateNote);
    let age_s = now.as_second() - recorded_at.as_second();
    if age_s > NOTE_DUE_HOURS * 3600 {
        let hours = age_s / 3600;
        let age = if hours >= 48 {
            format!("{} days", hours / 24)
        } else {
            format!("{hours} hours")
        };
        draft.flags.insert(
            0,
            Flag {
                code: FlagCode::LateNote,
                message: format!(
                    "This memo was recorded {age} ago: progress notes are due within 24 hours of the session. Finish and sign this note first."
                ),
            },
        );
    }
}

/// Whether the dictation holds a spoken "end of dictation" (live recording stops on it).
pub fn says_end_of_dictation(pieces: &[TimedText]) -> bool {
    sentences::split(pieces)
        .iter()
        .any(|s| commands::read(s).command == Some(commands::Command::EndOfDictation))
}

/// Whether these words say "end of dictation" and nothing the note would keep: no sentence besides
/// the command has words for the note ("Okay. End of dictation." does not, "Next session Monday.
/// End of dictation." does).
pub fn says_only_end_of_dictation(pieces: &[TimedText]) -> bool {
    let mut ended = false;
    for sentence in sentences::split(pieces) {
        let utterance = commands::read(&sentence);
        if utterance.command == Some(commands::Command::EndOfDictation) {
            ended = true;
        }
        if utterance.content.is_some() {
            return false;
        }
    }
    ended
}

/// Drafts a note with the embedded classifier.
pub fn build_draft(request: &DraftRequest) -> Draft {
    build_draft_with(request, classify::model())
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Drafts a note with a given classifier model (the evaluator and training use their own).
pub fn build_draft_with(request: &DraftRequest, model: &Model) -> Draft {
    let today = request.created_at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let sentences = sentences::split(&request.pieces);
    let prepared = prepare(&sentences, today);
    let classify_at: Vec<usize> = (0..prepared.lines.len())
        .filter(|&i| prepared.destinations[i] == Destination::Classify)
        .collect();
    let items: Vec<Item<'_>> = classify_at
        .iter()
        .map(|&i| {
            let line = &prepared.lines[i];
            let (heading, private) = match &line.fate {
                Fate::Note {
                    heading, private, ..
                } => (*heading, *private),
                Fate::Excluded(_) => (None, Private::No),
            };
            Item {
                text: &line.text,
                heading,
                private,
            }
        })
        .collect();
    let placements = classify::classify_with(model, &items);
    let mut placement_of: Vec<Option<usize>> = vec![None; prepared.lines.len()];
    for (k, &i) in classify_at.iter().enumerate() {
        placement_of[i] = Some(k);
    }

    let format = request.format;
    let mut sections: Vec<SectionDraft> = format
        .sections()
        .iter()
        .map(|&name| SectionDraft {
            name,
            sentences: Vec::new(),
        })
        .collect();
    let mut header = SessionHeader {
        client: prepared.session.client.clone(),
        date: prepared.session.date.clone(),
        duration_minutes: prepared.session.duration_minutes,
        modality: prepared.session.modality.clone(),
        session_type: prepared.session.session_type.clone(),
        session_number: prepared.session.session_number,
        sentences: Vec::new(),
        date_said: prepared.session.date_said.clone(),
    };
    let mut excluded = Vec::new();
    let mut placed_slots: Vec<(Slot, &str)> = Vec::new();
    let mut process_count = 0;
    for (i, line) in prepared.lines.iter().enumerate() {
        let start_s = line.sentence.start_s;
        let end_s = line.sentence.end_s;
        match prepared.destinations[i] {
            Destination::Header => header.sentences.push(SpokenSentence {
                text: line.text.clone(),
                start_s,
                end_s,
            }),
            Destination::Excluded(why) => {
                let (reason, detail) = match why {
                    Omission::Command => (ExcludedReason::Command, None),
                    Omission::AfterEnd => (
                        ExcludedReason::Command,
                        Some("said after 'end of dictation'".to_string()),
                    ),
                    Omission::Filler => (ExcludedReason::Filler, None),
                    Omission::Retracted => (ExcludedReason::Retracted, None),
                };
                excluded.push(ExcludedSentence {
                    text: line.text.clone(),
                    reason,
                    start_s,
                    end_s,
                    detail,
                });
            }
            Destination::Classify => {
                let Some(placement) = placement_of[i].and_then(|k| placements.get(k)) else {
                    continue;
                };
                let Some(section) = format.section_for(placement.slot) else {
                    process_count += 1;
                    excluded.push(ExcludedSentence {
                        text: line.text.clone(),
                        reason: ExcludedReason::ProcessNote,
                        start_s,
                        end_s,
                        detail: Some(placement.why.clone()),
                    });
                    continue;
                };
                let confidence = match (format, placement.slot) {
                    (NoteFormat::Dap, Slot::S | Slot::O) => {
                        placement.posterior[Slot::S.index()] + placement.posterior[Slot::O.index()]
                    }
                    _ => placement.confidence,
                };
                let paragraph = matches!(
                    line.fate,
                    Fate::Note {
                        paragraph_before: true,
                        ..
                    }
                );
                placed_slots.push((placement.slot, line.text.as_str()));
                if let Some(target) = sections.iter_mut().find(|s| s.name == section) {
                    target.sentences.push(PlacedSentence {
                        text: line.text.clone(),
                        start_s,
                        end_s,
                        confidence: round3(confidence.clamp(0.0, 1.0)),
                        decided_by: placement.decided_by,
                        paragraph,
                        why: placement.why.clone(),
                    });
                }
            }
        }
    }
    let found_scores = scores::collect(placed_slots.iter().map(|(_, t)| *t));
    let flags = checks::review(&checks::Review {
        placed: placed_slots,
        process_count,
        session: &header,
        scores: &found_scores,
    });
    Draft {
        schema: draft::SCHEMA.to_string(),
        status: Status::Unsigned,
        format,
        created_at: request.created_at,
        recorded_at: None,
        source: request.source.clone(),
        session: header,
        sections,
        excluded,
        scores: found_scores,
        flags,
        transcript: transcript_text(&request.pieces),
    }
}

/// The transcript as recognised: timed segments joined by spaces, text lines by line breaks.
fn transcript_text(pieces: &[TimedText]) -> String {
    let timed = pieces
        .iter()
        .any(|p| p.start_s.is_some() || p.end_s.is_some());
    if timed {
        pieces
            .iter()
            .map(|p| p.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        pieces
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use draft::{FlagCode, SourceKind};

    fn request(format: NoteFormat, text: &str) -> DraftRequest {
        DraftRequest {
            format,
            pieces: vec![TimedText {
                text: text.to_string(),
                start_s: None,
                end_s: None,
            }],
            source: Source {
                kind: SourceKind::Text,
                path: "dictation.txt".into(),
                duration_s: None,
                model: None,
            },
            created_at: "2026-03-20T18:00:00Z".parse().unwrap(),
        }
    }

    const HEADINGS: &str = "This was session six with J.D., a fifty minute telehealth visit, March 4th, 2026. \
Subjective. Client reports she slept better this week, about six hours a night. \
She said, \"I finally told my sister how I felt.\" \
Okay, objective. Um, she arrived on time, casually dressed, affect brighter than last week. \
She was tearful throughout. Scratch that. She was tearful when discussing her mother. \
PHQ-9 was 14, down from 18. She denies SI/HI. We practiced cognitive restructuring. \
For my notes, I noticed I felt protective of her again. \
Assessment. Progress toward goal one is evident, PHQ-9 down from 18 to 14. \
Plan. Next session in one week, continue thought records. End of dictation. Thanks.";

    #[test]
    fn only_the_stop_phrase_is_told_from_words_said_with_it() {
        let said = |text: &str| {
            vec![TimedText {
                text: text.to_string(),
                start_s: Some(0.0),
                end_s: Some(2.0),
            }]
        };
        for text in [
            "End of dictation.",
            "Okay. End of dictation.",
            "Um, end of note.",
        ] {
            assert!(says_only_end_of_dictation(&said(text)), "{text}");
            assert!(says_end_of_dictation(&said(text)), "{text}");
        }
        let with_words = said("Next session on Monday. End of dictation.");
        assert!(!says_only_end_of_dictation(&with_words));
        assert!(says_end_of_dictation(&with_words));
        for text in ["Next session on Monday.", "Um.", ""] {
            assert!(!says_only_end_of_dictation(&said(text)), "{text}");
        }
    }

    fn section_texts(d: &Draft, name: Section) -> Vec<String> {
        d.section(name)
            .map(|s| s.sentences.iter().map(|p| p.text.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn headings_place_sentences_and_commands_are_obeyed() {
        let d = build_draft(&request(NoteFormat::Soap, HEADINGS));
        assert_eq!(d.sections.len(), 4);
        assert_eq!(
            section_texts(&d, Section::Subjective),
            [
                "Client reports she slept better this week, about six hours a night.",
                "She said, \"I finally told my sister how I felt.\""
            ]
        );
        let objective = section_texts(&d, Section::Objective);
        assert_eq!(
            objective[0],
            "She arrived on time, casually dressed, affect brighter than last week."
        );
        assert!(objective.contains(&"She was tearful when discussing her mother.".to_string()));
        assert!(!objective.contains(&"She was tearful throughout.".to_string()));
        assert_eq!(
            section_texts(&d, Section::Plan),
            ["Next session in one week, continue thought records."]
        );
        let process: Vec<&str> = d.process_note().map(|e| e.text.as_str()).collect();
        assert_eq!(process, ["I noticed I felt protective of her again."]);
        let retracted: Vec<&str> = d
            .excluded
            .iter()
            .filter(|e| e.reason == ExcludedReason::Retracted)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(retracted, ["She was tearful throughout."]);
        let after_end = d.excluded.last().unwrap();
        assert_eq!(after_end.text, "Thanks.");
        assert!(after_end.detail.is_some());
        assert!(d.sections.iter().flat_map(|s| &s.sentences).all(|p| {
            p.decided_by == classify::DecidedBy::Heading || p.text.starts_with("Progress")
        }));
    }

    #[test]
    fn session_header_scores_and_flags() {
        let d = build_draft(&request(NoteFormat::Soap, HEADINGS));
        assert_eq!(d.session.client.as_deref(), Some("J.D."));
        assert_eq!(d.session.session_number, Some(6));
        assert_eq!(d.session.duration_minutes, Some(50));
        assert_eq!(d.session.modality.as_deref(), Some("telehealth"));
        assert_eq!(d.session.date.as_deref(), Some("2026-03-04"));
        assert_eq!(d.session.sentences.len(), 1);
        assert_eq!(d.scores.len(), 1);
        assert_eq!(d.scores[0].score, 14);
        assert_eq!(d.scores[0].prior, Some(18));
        assert_eq!(d.scores[0].severity.as_deref(), Some("moderate"));
        let codes: Vec<FlagCode> = d.flags.iter().map(|f| f.code).collect();
        assert_eq!(codes, [FlagCode::ProcessContent]);
    }

    #[test]
    fn dap_merges_subjective_and_objective_into_data() {
        let d = build_draft(&request(NoteFormat::Dap, HEADINGS));
        let names: Vec<Section> = d.sections.iter().map(|s| s.name).collect();
        assert_eq!(names, [Section::Data, Section::Assessment, Section::Plan]);
        let data = section_texts(&d, Section::Data);
        assert!(data.contains(
            &"Client reports she slept better this week, about six hours a night.".to_string()
        ));
        assert!(data.contains(&"She denies SI/HI.".to_string()));
    }

    #[test]
    fn every_section_is_present_even_when_empty() {
        let d = build_draft(&request(NoteFormat::Soap, ""));
        assert_eq!(d.sections.len(), 4);
        assert!(d.sections.iter().all(|s| s.sentences.is_empty()));
        assert!(d.flags.iter().any(|f| f.code == FlagCode::MissingPlan));
    }

    #[test]
    fn timed_segments_keep_their_times() {
        let mut req = request(NoteFormat::Soap, "");
        req.pieces = vec![
            TimedText {
                text: "Subjective. She slept".into(),
                start_s: Some(0.0),
                end_s: Some(2.0),
            },
            TimedText {
                text: "better this week.".into(),
                start_s: Some(2.2),
                end_s: Some(4.0),
            },
        ];
        let d = build_draft(&req);
        let s = &d.section(Section::Subjective).unwrap().sentences[0];
        assert_eq!(s.text, "She slept better this week.");
        assert!((1.1..1.2).contains(&s.start_s.unwrap()), "{:?}", s.start_s);
        assert_eq!(s.end_s, Some(4.0));
        assert_eq!(d.transcript, "Subjective. She slept better this week.");
    }

    #[test]
    fn flags_read_only_the_progress_note() {
        // The only safety statement is retracted, and the only intervention is in the process note.
        let text = "Subjective. She reports a hard week. Objective. She denies SI and HI. Scratch that. \
For my notes, I felt we did good cognitive restructuring today. Plan. Weekly.";
        let d = build_draft(&request(NoteFormat::Soap, text));
        let codes: Vec<FlagCode> = d.flags.iter().map(|f| f.code).collect();
        assert!(codes.contains(&FlagCode::MissingSafety), "{codes:?}");
        assert!(codes.contains(&FlagCode::MissingInterventions), "{codes:?}");
        assert!(codes.contains(&FlagCode::ProcessContent), "{codes:?}");
    }

    #[test]
    fn a_private_passage_ends_at_a_pause_in_timed_speech() {
        let mut req = request(NoteFormat::Soap, "");
        req.pieces = vec![
            TimedText {
                text: "Off the record, I felt tired today.".into(),
                start_s: Some(0.0),
                end_s: Some(3.0),
            },
            TimedText {
                text: "Next session in one week.".into(),
                start_s: Some(6.0),
                end_s: Some(8.0),
            },
        ];
        let d = build_draft(&req);
        assert_eq!(d.process_note().count(), 1);
        assert_eq!(
            section_texts(&d, Section::Plan),
            ["Next session in one week."]
        );
    }

    #[test]
    fn an_intervention_only_planned_does_not_count() {
        let text =
            "She reports a hard week. She denies SI and HI. Plan: we will start CBT next week.";
        let d = build_draft(&request(NoteFormat::Soap, text));
        assert!(
            d.flags
                .iter()
                .any(|f| f.code == FlagCode::MissingInterventions)
        );
    }

    #[test]
    fn drafting_is_deterministic() {
        let a = build_draft(&request(NoteFormat::Soap, HEADINGS));
        let b = build_draft(&request(NoteFormat::Soap, HEADINGS));
        assert_eq!(a, b);
    }
}

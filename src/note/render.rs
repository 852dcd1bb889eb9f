//! The Markdown rendering of a draft and of the private process note.
//!
//! The section text is the clinician's sentences as prose, paragraphs kept, with no timestamps inside it
//! so it pastes cleanly into an EHR. Times appear only in the "Review aids" block after the note, next to
//! the sentences worth a second look, so the clinician can find them in the recording. Process-note
//! sentences never appear in the progress note; they render separately with [`process_note`].

use std::fmt::Write as _;

use super::draft::{Draft, ExcludedReason};
use super::scores::instrument;

/// The first line of every rendered draft.
pub const UNSIGNED_BANNER: &str = "UNSIGNED DRAFT — requires clinician review";

/// Placements below this confidence are listed for review.
const LOW_CONFIDENCE: f64 = 0.6;

/// "[01:23]", or "[1:02:03]" past an hour.
pub fn timestamp(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("[{h}:{m:02}:{s:02}]")
    } else {
        format!("[{m:02}:{s:02}]")
    }
}

fn first_words(text: &str, count: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= count {
        text.to_string()
    } else {
        format!("{} …", words[..count].join(" "))
    }
}

/// The draft as Markdown: banner, flags, session header, sections, scores, review aids.
pub fn markdown(draft: &Draft) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {UNSIGNED_BANNER}\n");
    let created = draft.created_at.strftime("%Y-%m-%d %H:%M UTC");
    let _ = writeln!(
        out,
        "{} progress note, drafted {created} from {}. Not signed: read, correct and sign it in your record system.\n",
        draft.format.label(),
        draft.source.path
    );

    let _ = writeln!(out, "## Review before signing\n");
    if draft.flags.is_empty() {
        let _ = writeln!(out, "No review flags.\n");
    } else {
        for flag in &draft.flags {
            let _ = writeln!(out, "- **{}**: {}", flag.code.code(), flag.message);
        }
        out.push('\n');
    }

    let _ = writeln!(out, "## Session\n");
    let s = &draft.session;
    let mut header: Vec<String> = Vec::new();

    if let Some(c) = &s.client {
        header.push(format!("Client: {c}"));
    }
    match (&s.date, &s.date_said) {
        (Some(d), Some(said)) if said != d => {
            header.push(format!("Date: {d} (dictated \"{said}\")"))
        }
        (Some(d), _) => header.push(format!("Date: {d}")),
        (None, Some(said)) => header.push(format!("Date: {said}")),
        (None, None) => {}
    }
    if let Some(m) = s.duration_minutes {
        header.push(format!("Duration: {m} minutes"));
    }
    if let Some(m) = &s.modality {
        header.push(format!("Modality: {m}"));
    }
    if let Some(t) = &s.session_type {
        header.push(format!("Type: {t}"));
    }
    if let Some(n) = s.session_number {
        header.push(format!("Session number: {n}"));
    }
    if header.is_empty() {
        let _ = writeln!(out, "No session details were dictated.\n");
    } else {
        for h in header {
            let _ = writeln!(out, "- {h}");
        }
        out.push('\n');
    }
    if let Some(recorded) = draft.recorded_at {
        let _ = writeln!(
            out,
            "Recorded {}.\n",
            recorded.strftime("%Y-%m-%d %H:%M UTC")
        );
    }

    for section in &draft.sections {
        let _ = writeln!(out, "## {}\n", section.name.title());
        if section.sentences.is_empty() {
            continue;
        }
        let mut paragraphs: Vec<Vec<&str>> = vec![Vec::new()];
        for sentence in &section.sentences {
            if sentence.paragraph && paragraphs.last().is_some_and(|p| !p.is_empty()) {
                paragraphs.push(Vec::new());
            }
            if let Some(p) = paragraphs.last_mut() {
                p.push(sentence.text.as_str());
            }
        }
        for p in paragraphs.iter().filter(|p| !p.is_empty()) {
            let _ = writeln!(out, "{}\n", p.join(" "));
        }
    }

    if !draft.scores.is_empty() {
        let _ = writeln!(out, "## Scores\n");
        for score in &draft.scores {
            let mut line = format!("- {}: {}", score.instrument, score.score);
            if let Some(sev) = &score.severity {
                let _ = write!(line, " ({sev})");
            } else if !score.in_range {
                let range = instrument(&score.instrument)
                    .map(|i| format!(" {}-{}", i.min, i.max))
                    .unwrap_or_default();
                let _ = write!(line, " (outside the possible range{range}: check it)");
            }
            if let Some(prior) = score.prior {
                let _ = write!(line, ", previously {prior}");
            }
            match score.item9_positive {
                Some(true) => line.push_str("; item 9 positive"),
                Some(false) => line.push_str("; item 9 negative"),
                None => {}
            }
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }

    let _ = writeln!(out, "---\n\n### Review aids (not part of the note)\n");
    let unsure: Vec<String> = draft
        .sections
        .iter()
        .flat_map(|section| {
            section
                .sentences
                .iter()
                .filter(|p| p.confidence < LOW_CONFIDENCE)
                .map(move |p| {
                    let at = p
                        .start_s
                        .map(|t| format!("{} ", timestamp(t)))
                        .unwrap_or_default();
                    format!(
                        "{at}\"{}\" placed in {} (confidence {:.2})",
                        first_words(&p.text, 8),
                        section.name.title(),
                        p.confidence
                    )
                })
        })
        .collect();
    if unsure.is_empty() {
        let _ = writeln!(out, "- Every sentence was placed with confidence.");
    } else {
        let _ = writeln!(out, "- Check where these sentences went:");
        for u in unsure {
            let _ = writeln!(out, "  - {u}");
        }
    }
    for section in &draft.sections {
        let times: Vec<f64> = section.sentences.iter().filter_map(|p| p.start_s).collect();
        if let (Some(first), Some(last)) = (
            times.iter().copied().reduce(f64::min),
            section
                .sentences
                .iter()
                .filter_map(|p| p.end_s)
                .reduce(f64::max),
        ) {
            let _ = writeln!(
                out,
                "- {} dictated between {} and {}.",
                section.name.title(),
                timestamp(first),
                timestamp(last)
            );
        }
    }
    let count =
        |reason: ExcludedReason| draft.excluded.iter().filter(|e| e.reason == reason).count();
    let left_out = [
        (
            count(ExcludedReason::Retracted),
            "taken back with \"scratch that\"",
        ),
        (count(ExcludedReason::Filler), "filler or unfinished"),
        (
            count(ExcludedReason::Command),
            "spoken commands or headings",
        ),
    ];
    let parts: Vec<String> = left_out
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if !parts.is_empty() {
        let _ = writeln!(
            out,
            "- Left out of the note: {} (all kept in the transcript).",
            parts.join(", ")
        );
    }
    let private = count(ExcludedReason::ProcessNote);
    if private > 0 {
        let _ = writeln!(
            out,
            "- {private} sentence{} went to the separate private process note, not shown here.",
            if private == 1 { "" } else { "s" }
        );
    }
    out
}

/// The private process note, or `None` when nothing went there.
pub fn process_note(draft: &Draft) -> Option<String> {
    let sentences: Vec<_> = draft.process_note().collect();
    if sentences.is_empty() {
        return None;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# PRIVATE PSYCHOTHERAPY NOTES — not part of the client record\n"
    );
    let _ = writeln!(
        out,
        "Your private process notes from this dictation. Keep this file apart from the progress note: do not \
         paste it into the record or release it with the chart.\n"
    );
    let mut about: Vec<String> = Vec::new();
    if let Some(c) = &draft.session.client {
        about.push(format!("client {c}"));
    }
    if let Some(d) = draft
        .session
        .date
        .as_ref()
        .or(draft.session.date_said.as_ref())
    {
        about.push(format!("session of {d}"));
    }
    about.push(format!(
        "drafted {}",
        draft.created_at.strftime("%Y-%m-%d %H:%M UTC")
    ));
    let _ = writeln!(out, "{}.\n", capitalize(&about.join(", ")));
    for s in sentences {
        let at = s
            .start_s
            .map(|t| format!("{} ", timestamp(t)))
            .unwrap_or_default();
        let _ = writeln!(out, "- {at}{}", s.text);
    }
    Some(out)
}

fn capitalize(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::draft::{Source, SourceKind};
    use crate::note::{DraftRequest, NoteFormat, TimedText, build_draft};

    fn draft(text: &str, timed: bool) -> Draft {
        let pieces = if timed {
            text.split_inclusive(". ")
                .enumerate()
                .map(|(i, t)| TimedText {
                    text: t.to_string(),
                    start_s: Some(i as f64 * 5.0),
                    end_s: Some(i as f64 * 5.0 + 4.0),
                })
                .collect()
        } else {
            vec![TimedText {
                text: text.to_string(),
                start_s: None,
                end_s: None,
            }]
        };
        build_draft(&DraftRequest {
            format: NoteFormat::Soap,
            pieces,
            source: Source {
                kind: SourceKind::Text,
                path: "d.txt".into(),
                duration_s: None,
                model: None,
            },
            created_at: "2026-03-20T18:00:00Z".parse().unwrap(),
        })
    }

    const TEXT: &str = "Subjective. She slept better this week. New paragraph. She saw her sister. \
Objective. Affect brighter. PHQ-9 was 14, down from 18. Off the record, I felt bored today. \
Plan. Next session in one week.";

    #[test]
    fn banner_first_then_flags_then_session_then_sections() {
        let md = markdown(&draft(TEXT, false));
        assert!(md.starts_with("# UNSIGNED DRAFT — requires clinician review\n"));
        let flags = md.find("## Review before signing").unwrap();
        let session = md.find("## Session").unwrap();
        let subjective = md.find("## Subjective").unwrap();
        let plan = md.find("## Plan").unwrap();
        assert!(flags < session && session < subjective && subjective < plan);
        assert!(md.contains("**missing-safety**"));
        assert!(md.contains("- PHQ-9: 14 (moderate), previously 18"));
    }

    #[test]
    fn paragraphs_are_kept() {
        let md = markdown(&draft(TEXT, false));
        assert!(
            md.contains("She slept better this week.\n\nShe saw her sister."),
            "{md}"
        );
    }

    #[test]
    fn process_sentences_never_reach_the_progress_note() {
        let d = draft(TEXT, false);
        let md = markdown(&d);
        assert!(!md.contains("bored"));
        let private = process_note(&d).unwrap();
        assert!(private.starts_with("# PRIVATE PSYCHOTHERAPY NOTES"));
        assert!(private.contains("I felt bored today."));
        assert!(!private.contains("She slept better"));
    }

    #[test]
    fn no_process_note_when_nothing_is_private() {
        assert_eq!(
            process_note(&draft("Subjective. She slept well.", false)),
            None
        );
    }

    #[test]
    fn section_text_has_no_timestamps_but_review_aids_do() {
        let d = draft(TEXT, true);
        let md = markdown(&d);
        let note_part = &md[..md.find("### Review aids").unwrap()];
        assert!(!note_part.contains("[00:"), "{note_part}");
        assert!(md.contains("dictated between [00:"), "{md}");
        let private = process_note(&d).unwrap();
        assert!(private.contains("- [00:"), "{private}");
    }

    #[test]
    fn timestamps_are_compact() {
        assert_eq!(timestamp(83.4), "[01:23]");
        assert_eq!(timestamp(3723.0), "[1:02:03]");
        assert_eq!(timestamp(-1.0), "[00:00]");
    }
}

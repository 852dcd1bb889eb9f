//! Review flags: what the note lacks or must not contain, each with a plain message that says what to
//! add.
//!
//! Checks read only the progress-note sentences (never the process note, commands or retracted words),
//! and look for statements, not words: "her kids' safety", "her brother died by suicide" and "safety
//! behavior" are not a risk assessment; "PHQ-9 item 9 was zero" is not a positive item 9.

use std::sync::OnceLock;

use serde::Deserialize;

use super::classify::Slot;
use super::draft::{Flag, FlagCode, SessionHeader};
use super::scores::{self, Score};
use super::words::{Phrase, phrases, words};

const CHECKS_TOML: &str = include_str!("../../prompts/checks.toml");

#[derive(Debug, Default, Deserialize)]
struct CheckFile {
    safety: Vec<String>,
    interventions: Vec<String>,
    intervention_capitals: Vec<String>,
    technique_verbs: Vec<String>,
    technique_nouns: Vec<String>,
    progress: Vec<String>,
    measures: Vec<String>,
}

#[derive(Debug, Default)]
struct Lexicon {
    safety: Vec<Phrase>,
    interventions: Vec<Phrase>,
    intervention_capitals: Vec<String>,
    technique_verbs: Vec<String>,
    technique_nouns: Vec<String>,
    progress: Vec<Phrase>,
    measures: Vec<Phrase>,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let file: CheckFile = toml::from_str(CHECKS_TOML).unwrap_or_default();
        Lexicon {
            safety: phrases(&file.safety),
            interventions: phrases(&file.interventions),
            intervention_capitals: file.intervention_capitals,
            technique_verbs: file.technique_verbs,
            technique_nouns: file.technique_nouns,
            progress: phrases(&file.progress),
            measures: phrases(&file.measures),
        }
    })
}

/// What the checks look at: the progress-note sentences with their SOAP slot, and the rest of the draft.
pub struct Review<'a> {
    /// Sentences in the note's sections, in dictation order, with the slot they were placed in (DAP's
    /// Data sentences keep their S or O).
    pub placed: Vec<(Slot, &'a str)>,
    /// Sentences moved to the private process note.
    pub process_count: usize,
    pub session: &'a SessionHeader,
    pub scores: &'a [Score],
}

/// Words of the original text with their case ("SI", "HI", "ACT").
fn cased_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect()
}

const RISK_LEVELS: &[&str] = &[
    "low",
    "moderate",
    "high",
    "elevated",
    "minimal",
    "imminent",
    "acute",
    "chronic",
    "lowered",
    "increased",
    "mild",
    "significant",
    "negligible",
    "none",
];
const NON_SAFETY_RISKS: &[&str] = &[
    "relapse",
    "fall",
    "falls",
    "financial",
    "medical",
    "health",
    "cardiac",
    "flight",
    "legal",
    "infection",
    "dropout",
    "readmission",
];
const SAFETY_OBJECTS: &[&str] = &[
    "suicide",
    "self",
    "harm",
    "self-harm",
    "violence",
    "others",
    "suicidal",
    "selfharm",
    "danger",
];

/// "Risk is low", "risk to self and others low", "low risk of harm": a stated risk level.
fn states_risk_level(ws: &[String]) -> bool {
    for (i, w) in ws.iter().enumerate() {
        if w != "risk" {
            continue;
        }
        let before = i.checked_sub(1).map(|b| ws[b].as_str()).unwrap_or("");
        if NON_SAFETY_RISKS.contains(&before) {
            continue;
        }
        let after: Vec<&str> = ws[i + 1..(i + 7).min(ws.len())]
            .iter()
            .map(String::as_str)
            .collect();
        // "risk ... low" (level after, no other topic in between).
        if let Some(level) = after.iter().position(|a| RISK_LEVELS.contains(a)) {
            let between = &after[..level];
            if !between
                .iter()
                .any(|b| NON_SAFETY_RISKS.contains(b) || *b == "situations" || *b == "in")
            {
                return true;
            }
        }
        // "low risk", "low acute risk of harm", but not "high-risk situations" or "high risk for relapse".
        let level_before = (1..=2).any(|k| i >= k && RISK_LEVELS.contains(&ws[i - k].as_str()));
        if level_before {
            let next = after.first().copied().unwrap_or("");
            let object = after.get(1).copied().unwrap_or("");
            let ends = next.is_empty()
                || matches!(next, "at" | "given" | "overall" | "currently" | "today");
            let safety_object =
                matches!(next, "of" | "for" | "to") && SAFETY_OBJECTS.contains(&object);
            if ends || safety_object {
                return true;
            }
        }
    }
    false
}

/// Does the sentence state a suicide, homicide or self-harm assessment (positive or negative)?
pub fn is_safety_statement(text: &str) -> bool {
    let cased = cased_words(text);
    if cased
        .iter()
        .any(|w| matches!(*w, "SI" | "HI" | "SIB" | "NSSI"))
    {
        return true;
    }
    let ws = words(text);
    // Lower-case "si"/"hi" only right after a denial or endorsement ("denies si or hi").
    let after_verb = ws.windows(2).any(|p| {
        matches!(
            p[0].as_str(),
            "denies" | "denied" | "deny" | "endorses" | "endorsed" | "no" | "or" | "and"
        ) && matches!(p[1].as_str(), "si" | "hi")
    });
    if after_verb {
        return true;
    }
    lexicon().safety.iter().any(|p| p.is_in(&ws)) || states_risk_level(&ws)
}

/// Does the sentence name a therapeutic intervention or technique?
pub fn names_intervention(text: &str) -> bool {
    let lex = lexicon();
    let cased = cased_words(text);
    if cased
        .iter()
        .any(|w| lex.intervention_capitals.iter().any(|c| c == w))
    {
        return true;
    }
    let ws = words(text);
    if lex.interventions.iter().any(|p| p.is_in(&ws)) {
        return true;
    }
    ws.iter().enumerate().any(|(i, w)| {
        lex.technique_verbs.contains(w)
            && ws[i + 1..(i + 6).min(ws.len())]
                .iter()
                .any(|n| lex.technique_nouns.contains(n))
    })
}

/// A claim of progress in the sentence, and whether the sentence measures it.
fn progress_claim(text: &str) -> Option<bool> {
    let lex = lexicon();
    let ws = words(text);
    if !lex.progress.iter().any(|p| p.is_in(&ws)) {
        return None;
    }
    let measured = lex.measures.iter().any(|p| p.is_in(&ws))
        || super::words::numbers(&ws)
            .iter()
            .any(|n| !(n.3 || (n.1 == 1 && ws[n.0] == "one")))
        || !scores::find(text).is_empty();
    Some(measured)
}

/// Could this sentence describe something done in the session? Plans are for later, and the client's
/// own report ("she said she's been doing the breathing") is not the clinician's intervention; a
/// subjective-looking sentence without a reporting verb may still be one ("In play therapy Leo ...").
fn delivered_in_session(slot: Slot, text: &str) -> bool {
    const REPORTED: &[&str] = &[
        "said",
        "says",
        "say",
        "reports",
        "reported",
        "report",
        "states",
        "stated",
        "told",
        "mentioned",
        "describes",
        "described",
        "shared",
        "explained",
        "according",
    ];
    match slot {
        Slot::O | Slot::A => true,
        Slot::S => !words(text).iter().any(|w| REPORTED.contains(&w.as_str())),
        Slot::P | Slot::X => false,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Every flag the draft deserves, in a fixed order.
pub fn review(r: &Review<'_>) -> Vec<Flag> {
    let mut flags = Vec::new();
    let note_text = || r.placed.iter().map(|(_, t)| *t);

    if !note_text().any(is_safety_statement) {
        flags.push(Flag {
            code: FlagCode::MissingSafety,
            message: "No suicide, homicide or self-harm screening is documented. Add the risk assessment \
                      (for example: 'Denies SI/HI, no self-harm since last session')."
                .to_string(),
        });
    }

    let item9 = r
        .scores
        .iter()
        .find(|s| s.instrument == "PHQ-9" || s.instrument == "PHQ-A")
        .and_then(|s| s.item9_positive)
        .or_else(|| scores::item9_anywhere(note_text()));
    if item9 == Some(true) {
        flags.push(Flag {
            code: FlagCode::Phq9Item9,
            message: "PHQ-9 item 9 (thoughts of death or self-harm) was positive. Make sure the note \
                      documents the safety assessment that followed: ideation, plan, intent, means, \
                      protective factors and the risk level."
                .to_string(),
        });
    }

    if r.process_count > 0 {
        flags.push(Flag {
            code: FlagCode::ProcessContent,
            message: format!(
                "{} moved to the separate private process note (your own reactions, hunches or \
                 speculation about others). Read it, and dictate again anything that belongs in the record.",
                plural(r.process_count, "sentence was", "sentences were")
            ),
        });
    }

    let claims: Vec<bool> = r
        .placed
        .iter()
        .filter(|(slot, _)| *slot == Slot::A)
        .filter_map(|(_, t)| progress_claim(t))
        .collect();
    let measured_change = r.scores.iter().any(|s| s.prior.is_some());
    if !claims.is_empty() && !claims.iter().any(|m| *m) && !measured_change {
        flags.push(Flag {
            code: FlagCode::VagueProgress,
            message: "Progress is described without anything measurable. Add what changed and by how \
                      much (for example: 'GAD-7 down from 16 to 9', 'panic attacks down from daily to \
                      twice a week')."
                .to_string(),
        });
    }

    if !r.placed.iter().any(|(slot, _)| *slot == Slot::P) {
        flags.push(Flag {
            code: FlagCode::MissingPlan,
            message:
                "The Plan section is empty. Add the next steps: next session, homework, referrals \
                      or coordination with other providers."
                    .to_string(),
        });
    }

    if !r
        .placed
        .iter()
        .any(|(slot, t)| delivered_in_session(*slot, t) && names_intervention(t))
    {
        flags.push(Flag {
            code: FlagCode::MissingInterventions,
            message: "No therapeutic intervention is named. Add what you did in session (for example: \
                      cognitive restructuring, exposure, motivational interviewing, psychoeducation) and \
                      how the client responded."
                .to_string(),
        });
    }

    let mut missing = Vec::new();
    if r.session.date.is_none() && r.session.date_said.is_none() {
        missing.push("date");
    }
    if r.session.duration_minutes.is_none() {
        missing.push("duration");
    }
    if r.session.modality.is_none() {
        missing.push("modality (in person or telehealth)");
    }
    if !missing.is_empty() {
        flags.push(Flag {
            code: FlagCode::MissingSessionInfo,
            message: format!(
                "The session {} {} not dictated. Add {} to the header.",
                missing.join(" and "),
                if missing.len() == 1 { "was" } else { "were" },
                if missing.len() == 1 { "it" } else { "them" }
            ),
        });
    }

    let out_of_range: Vec<String> = r
        .scores
        .iter()
        .filter(|s| !s.in_range)
        .map(|s| {
            let range = scores::instrument(&s.instrument)
                .map(|i| format!(" (possible {}-{})", i.min, i.max))
                .unwrap_or_default();
            format!("{} of {}{}", s.instrument, s.score, range)
        })
        .collect();
    if !out_of_range.is_empty() {
        flags.push(Flag {
            code: FlagCode::ScoreOutOfRange,
            message: format!(
                "{} is outside the instrument's range, so no severity band was given. Check the score \
                 and correct it.",
                out_of_range.join(", ")
            ),
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(
        placed: &[(Slot, &str)],
        session: &SessionHeader,
        process: usize,
    ) -> Vec<&'static str> {
        let texts: Vec<&str> = placed.iter().map(|(_, t)| *t).collect();
        let found = scores::collect(texts.iter().copied());
        review(&Review {
            placed: placed.to_vec(),
            process_count: process,
            session,
            scores: &found,
        })
        .iter()
        .map(|f| f.code.code())
        .collect()
    }

    fn full_session() -> SessionHeader {
        SessionHeader {
            date: Some("2026-03-04".into()),
            duration_minutes: Some(50),
            modality: Some("telehealth".into()),
            ..SessionHeader::default()
        }
    }

    #[test]
    fn lexicon_file_parses() {
        let file: CheckFile = toml::from_str(CHECKS_TOML).expect("checks.toml parses");
        assert!(!file.safety.is_empty() && !file.interventions.is_empty());
        assert!(!lexicon().progress.is_empty());
    }

    #[test]
    fn safety_statements_and_mere_mentions() {
        for t in [
            "Denies SI/HI.",
            "She denied any SI or HI.",
            "She denies suicidal ideation, intent or plan, and denies homicidal ideation.",
            "Denies thoughts of suicide or of harming anyone.",
            "No self-harm since last group, per her diary card.",
            "Risk is low at this time.",
            "Risk to self and others low.",
            "Acute risk is moderate, elevated by the recent breakup.",
            "He denies command hallucinations, denies any thoughts of hurting himself or the neighbor.",
            "We completed a Stanley-Brown safety plan together.",
            "Columbia screen positive for active ideation with a method.",
            "I asked directly, and she has no plan or intent to kill herself.",
            "Screened for SI and overdose intent, he denies both.",
            "She is at low risk for self-harm.",
            "Low risk.",
        ] {
            assert!(is_safety_statement(t), "{t}");
        }
        for t in [
            "Her brother-in-law died by suicide two years ago.",
            "Mom said she's worried about his safety on the playground.",
            "He dropped the safety behavior of holding the water bottle.",
            "Dad said, \"If he does that one more time I'll kill him.\"",
            "Group topic was high-risk situations and the relapse prevention cycle.",
            "Hoarding with a safety risk in the home from blocked exits.",
            "Unresolved grief about her father's death is a driver.",
            "ISI 19, was 20.",
            "She said hi to the receptionist.",
            "Relapse risk is high given the holidays.",
            "PHQ-9 item 9 was zero.",
            "Her kids' safety is her priority.",
        ] {
            assert!(!is_safety_statement(t), "{t}");
        }
    }

    #[test]
    fn interventions_named_or_described() {
        for t in [
            "We used cognitive restructuring on the thought.",
            "Provided psychoeducation on the panic cycle.",
            "In session we did interoceptive exposure.",
            "We did motivational interviewing, a decisional balance on drinking.",
            "Started the ERP hierarchy.",
            "We did a decatastrophizing exercise around the fear.",
            "Group covered the emotion regulation module.",
            "Introduced ACT defusion.",
            "We practiced box breathing.",
        ] {
            assert!(names_intervention(t), "{t}");
        }
        for t in [
            "We talked about her memories of him.",
            "We talked about his work history, what he's good at.",
            "She didn't act on the urges.",
            "I'm calling Dr. Reyes today.",
        ] {
            assert!(!names_intervention(t), "{t}");
        }
    }

    #[test]
    fn a_complete_note_raises_no_flag() {
        let placed = [
            (Slot::S, "She reports a better week."),
            (Slot::O, "PHQ-9 was 11, down from 16, item 9 was zero."),
            (Slot::O, "Denies SI/HI."),
            (Slot::O, "We used cognitive restructuring."),
            (Slot::A, "Progress toward goal one, PHQ-9 down five points."),
            (Slot::P, "Next session in one week."),
        ];
        assert!(codes(&placed, &full_session(), 0).is_empty());
    }

    #[test]
    fn each_missing_part_raises_its_flag() {
        let placed = [
            (
                Slot::S,
                "She said she has been practicing breathing at home.",
            ),
            (
                Slot::A,
                "She's making progress and seems to be doing better overall.",
            ),
        ];
        assert_eq!(
            codes(&placed, &SessionHeader::default(), 2),
            [
                "missing-safety",
                "process-content",
                "vague-progress",
                "missing-plan",
                "missing-interventions",
                "missing-session-info"
            ]
        );
    }

    #[test]
    fn vague_progress_is_excused_by_a_measure() {
        let base = [
            (Slot::O, "Denies SI/HI."),
            (Slot::O, "We used exposure."),
            (Slot::P, "Weekly."),
        ];
        let mut placed = base.to_vec();
        placed.push((Slot::A, "Binge eating disorder, improving."));
        assert!(codes(&placed, &full_session(), 0).contains(&"vague-progress"));
        placed.push((
            Slot::A,
            "Overall she's doing better, with binges down from five to two a week.",
        ));
        assert!(!codes(&placed, &full_session(), 0).contains(&"vague-progress"));
        let mut placed = base.to_vec();
        placed.push((
            Slot::O,
            "We reviewed her progress, and her PHQ-9 today was 4, at intake it was 17.",
        ));
        placed.push((Slot::A, "She has improved."));
        assert!(!codes(&placed, &full_session(), 0).contains(&"vague-progress"));
    }

    #[test]
    fn item_nine_positive_only_when_endorsed() {
        let base = [
            (Slot::O, "Denies SI/HI."),
            (Slot::O, "We used exposure."),
            (Slot::P, "Weekly."),
        ];
        let mut placed = base.to_vec();
        placed.push((Slot::O, "PHQ-9 was 14 and item 9 was zero."));
        assert!(!codes(&placed, &full_session(), 0).contains(&"phq9-item9"));
        let mut placed = base.to_vec();
        placed.push((Slot::O, "PHQ-9 was 22, and item 9 was a 2."));
        assert!(codes(&placed, &full_session(), 0).contains(&"phq9-item9"));
    }

    #[test]
    fn out_of_range_score_and_partial_session_info() {
        let placed = [
            (Slot::O, "GAD-7 of 23."),
            (Slot::O, "Denies SI/HI."),
            (Slot::O, "Provided psychoeducation."),
            (Slot::P, "Weekly."),
        ];
        let session = SessionHeader {
            modality: Some("telehealth".into()),
            ..SessionHeader::default()
        };
        let texts: Vec<&str> = placed.iter().map(|(_, t)| *t).collect();
        let found = scores::collect(texts);
        let flags = review(&Review {
            placed: placed.to_vec(),
            process_count: 0,
            session: &session,
            scores: &found,
        });
        let codes: Vec<&str> = flags.iter().map(|f| f.code.code()).collect();
        assert_eq!(codes, ["missing-session-info", "score-out-of-range"]);
        assert!(
            flags[0]
                .message
                .contains("date and duration were not dictated"),
            "{}",
            flags[0].message
        );
        assert!(
            flags[1].message.contains("GAD-7 of 23 (possible 0-21)"),
            "{}",
            flags[1].message
        );
    }
}

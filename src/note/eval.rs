//! Scoring drafts against the labelled corpus: sentence placement per section and per dictation style,
//! review-flag precision and recall, scores with their bands, and session fields.
//!
//! Each file's lines are joined into one transcript and drafted by the real code; every labelled line is
//! then found among the draft's sentences (sections, header, left-out) by its words, and counts as right
//! when it landed where its label says.

use std::collections::BTreeMap;
use std::fmt;

use super::classify::Model;
use super::corpus::{CorpusFile, Label, Style};
use super::draft::{Draft, ExcludedReason, Source, SourceKind};
use super::words::words;
use super::{DraftRequest, NoteFormat, Section, TimedText, build_draft_with, scores};

/// Right and total.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub right: usize,
    pub total: usize,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.total += 1;
        if right {
            self.right += 1;
        }
    }

    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.right as f64 / self.total as f64
        }
    }
}

/// True and false positives and false negatives of one flag code.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlagTally {
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
}

impl FlagTally {
    pub fn precision(&self) -> f64 {
        let d = self.true_pos + self.false_pos;
        if d == 0 {
            1.0
        } else {
            self.true_pos as f64 / d as f64
        }
    }

    pub fn recall(&self) -> f64 {
        let d = self.true_pos + self.false_neg;
        if d == 0 {
            1.0
        } else {
            self.true_pos as f64 / d as f64
        }
    }
}

/// A line that landed in the wrong place.
#[derive(Clone, Debug, PartialEq)]
pub struct Miss {
    pub file: String,
    pub line_no: usize,
    pub label: Label,
    pub landed: String,
    pub text: String,
}

/// The evaluation of a set of corpus files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalReport {
    pub files: usize,
    pub sentences: Tally,
    pub by_style: BTreeMap<Style, Tally>,
    pub by_label: BTreeMap<Label, Tally>,
    pub flags: BTreeMap<String, FlagTally>,
    /// Dictated scores found with the right instrument, score and prior.
    pub scores: Tally,
    /// Of those, with the right severity band (none where the instrument has none).
    pub scores_banded: Tally,
    /// Scores in drafts that were not dictated.
    pub scores_spurious: usize,
    pub item9: Tally,
    pub session_fields: Tally,
    pub misses: Vec<Miss>,
    pub flag_misses: Vec<String>,
    pub score_misses: Vec<String>,
}

impl EvalReport {
    /// Flag counts summed over all codes.
    pub fn flags_total(&self) -> FlagTally {
        self.flags
            .values()
            .fold(FlagTally::default(), |a, t| FlagTally {
                true_pos: a.true_pos + t.true_pos,
                false_pos: a.false_pos + t.false_pos,
                false_neg: a.false_neg + t.false_neg,
            })
    }

    pub fn style(&self, style: Style) -> Tally {
        self.by_style.get(&style).copied().unwrap_or_default()
    }
}

/// Where a labelled line should land, as the names used in reports.
fn expected_place(label: Label, format: NoteFormat) -> &'static str {
    match (label, format) {
        (Label::S | Label::O, NoteFormat::Dap) => "data",
        (Label::S, _) => "subjective",
        (Label::O, _) => "objective",
        (Label::A, _) => "assessment",
        (Label::P, _) => "plan",
        (Label::Session, _) => "header",
        (Label::Process, _) => "process-note",
        (Label::Heading | Label::Command, _) => "command",
        (Label::Retracted, _) => "retracted",
        (Label::Filler, _) => "filler",
    }
}

fn section_place(name: Section) -> &'static str {
    match name {
        Section::Subjective => "subjective",
        Section::Objective => "objective",
        Section::Assessment => "assessment",
        Section::Plan => "plan",
        Section::Data => "data",
    }
}

fn reason_place(reason: ExcludedReason) -> &'static str {
    match reason {
        ExcludedReason::ProcessNote => "process-note",
        ExcludedReason::Command => "command",
        ExcludedReason::Filler => "filler",
        ExcludedReason::Retracted => "retracted",
    }
}

/// Every sentence of a draft with where it went, in no particular order.
fn outputs(draft: &Draft) -> Vec<(Vec<String>, &'static str)> {
    let mut out = Vec::new();
    for s in &draft.sections {
        for p in &s.sentences {
            out.push((words(&p.text), section_place(s.name)));
        }
    }
    for s in &draft.session.sentences {
        out.push((words(&s.text), "header"));
    }
    for e in &draft.excluded {
        out.push((words(&e.text), reason_place(e.reason)));
    }
    out
}

fn overlap(a: &[String], b: &[String]) -> usize {
    let mut counts: BTreeMap<&str, i32> = BTreeMap::new();
    for w in b {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut shared = 0;
    for w in a {
        if let Some(c) = counts.get_mut(w.as_str())
            && *c > 0
        {
            *c -= 1;
            shared += 1;
        }
    }
    shared
}

/// Where each labelled line landed: the draft sentence sharing most of its words (ties go to the one
/// matched least so far); "missing" when none shares at least half of them.
fn landings(file: &CorpusFile, draft: &Draft) -> Vec<&'static str> {
    let outs = outputs(draft);
    let mut used = vec![0usize; outs.len()];
    file.lines
        .iter()
        .map(|line| {
            let lw = words(&line.text);
            if lw.is_empty() {
                return "missing";
            }
            let best = outs
                .iter()
                .enumerate()
                .map(|(k, (ow, _))| {
                    let shared = overlap(&lw, ow);
                    let denom = lw.len().max(ow.len()) as f64;
                    (k, shared, shared as f64 / denom)
                })
                .filter(|(_, shared, _)| *shared * 2 >= lw.len())
                .max_by(|a, b| {
                    a.2.total_cmp(&b.2)
                        .then_with(|| used[b.0].cmp(&used[a.0]))
                        .then_with(|| b.0.cmp(&a.0))
                });
            match best {
                Some((k, _, _)) => {
                    used[k] += 1;
                    outs[k].1
                }
                None => "missing",
            }
        })
        .collect()
}

fn normalise_instrument(name: &str) -> String {
    name.to_uppercase().replace(['-', ' '], "")
}

fn draft_of(file: &CorpusFile, model: &Model, joiner: &str) -> Draft {
    let text = file
        .lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join(joiner);
    build_draft_with(
        &DraftRequest {
            format: file.format,
            pieces: vec![TimedText {
                text,
                start_s: None,
                end_s: None,
            }],
            source: Source {
                kind: SourceKind::Text,
                path: file.name.clone(),
                duration_s: None,
                model: None,
            },
            created_at: jiff::civil::date(2026, 4, 20)
                .at(12, 0, 0, 0)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        },
        model,
    )
}

/// Scores every file with the embedded model.
pub fn score(files: &[CorpusFile]) -> EvalReport {
    let models: Vec<&Model> = vec![super::classify::model(); files.len()];
    score_with(files, &models)
}

/// Scores every file with its own model (cross-validation gives each file the model of its fold).
pub fn score_with(files: &[CorpusFile], models: &[&Model]) -> EvalReport {
    score_joined(files, models, " ")
}

/// As [`score_with`], with the lines of each dictation joined by `joiner` (a space, as the corpus
/// README specifies, or a line break, as a transcript saved one sentence per line would be).
pub fn score_joined(files: &[CorpusFile], models: &[&Model], joiner: &str) -> EvalReport {
    let mut report = EvalReport {
        files: files.len(),
        ..EvalReport::default()
    };
    for (file, model) in files.iter().zip(models) {
        let draft = draft_of(file, model, joiner);
        // Sentences.
        for (line, landed) in file.lines.iter().zip(landings(file, &draft)) {
            let right = landed == expected_place(line.label, file.format);
            report.sentences.add(right);
            report.by_style.entry(file.style).or_default().add(right);
            report.by_label.entry(line.label).or_default().add(right);
            if !right {
                report.misses.push(Miss {
                    file: file.name.clone(),
                    line_no: line.line_no,
                    label: line.label,
                    landed: landed.to_string(),
                    text: line.text.clone(),
                });
            }
        }
        // Flags.
        let raised: Vec<&str> = draft.flags.iter().map(|f| f.code.code()).collect();
        for code in &raised {
            let t = report.flags.entry(code.to_string()).or_default();
            if file.flags.iter().any(|f| f == code) {
                t.true_pos += 1;
            } else {
                t.false_pos += 1;
                report
                    .flag_misses
                    .push(format!("{}: extra {code}", file.name));
            }
        }
        for code in &file.flags {
            if !raised.contains(&code.as_str()) {
                report.flags.entry(code.clone()).or_default().false_neg += 1;
                report
                    .flag_misses
                    .push(format!("{}: missed {code}", file.name));
            }
        }
        // Scores.
        for expected in &file.scores {
            let found = draft.scores.iter().find(|s| {
                normalise_instrument(&s.instrument) == normalise_instrument(&expected.instrument)
            });
            let right = found.is_some_and(|s| {
                s.score == expected.score && (expected.prior.is_none() || s.prior == expected.prior)
            });
            report.scores.add(right);
            let band_right = right
                && found.is_some_and(|s| {
                    s.severity.as_deref()
                        == if scores::in_range(&s.instrument, s.score) {
                            scores::severity(&s.instrument, s.score)
                        } else {
                            None
                        }
                });
            report.scores_banded.add(band_right);
            if !right {
                report.score_misses.push(format!(
                    "{}: {}={}{} read as {:?}",
                    file.name,
                    expected.instrument,
                    expected.score,
                    expected.prior.map(|p| format!("/{p}")).unwrap_or_default(),
                    found.map(|s| (s.score, s.prior))
                ));
            }
        }
        for s in &draft.scores {
            if !file
                .scores
                .iter()
                .any(|e| normalise_instrument(&e.instrument) == normalise_instrument(&s.instrument))
            {
                report.scores_spurious += 1;
                report.score_misses.push(format!(
                    "{}: spurious {} {}",
                    file.name, s.instrument, s.score
                ));
            }
        }
        if let Some(item9) = file.item9 {
            let said = draft
                .scores
                .iter()
                .find(|s| s.instrument == "PHQ-9" || s.instrument == "PHQ-A")
                .and_then(|s| s.item9_positive);
            report.item9.add(said == Some(item9 > 0));
            if said != Some(item9 > 0) {
                report.score_misses.push(format!(
                    "{}: PHQ-9 item 9 = {item9} read as {said:?}",
                    file.name
                ));
            }
        }
        // Session fields.
        let s = &draft.session;
        for (key, value) in &file.session {
            let got: Option<String> = match key.as_str() {
                "client" => s.client.clone(),
                "date" => s.date.clone(),
                "duration" => s.duration_minutes.map(|d| d.to_string()),
                "modality" => s.modality.clone(),
                "type" => s.session_type.clone(),
                "number" => s.session_number.map(|n| n.to_string()),
                _ => None,
            };
            report
                .session_fields
                .add(got.is_some_and(|g| g.eq_ignore_ascii_case(value)));
        }
    }
    report
}

fn pct(t: Tally) -> String {
    format!("{:5.1}% ({}/{})", 100.0 * t.rate(), t.right, t.total)
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Corpus evaluation: {} dictations", self.files)?;
        writeln!(f, "  sentences placed right   {}", pct(self.sentences))?;
        for (style, t) in &self.by_style {
            writeln!(f, "    {:<22} {}", style.label(), pct(*t))?;
        }
        writeln!(f, "  by label")?;
        for (label, t) in &self.by_label {
            writeln!(f, "    {:<22} {}", label.name(), pct(*t))?;
        }
        let total = self.flags_total();
        writeln!(
            f,
            "  flags                    precision {:5.1}%  recall {:5.1}%  (tp {} fp {} fn {})",
            100.0 * total.precision(),
            100.0 * total.recall(),
            total.true_pos,
            total.false_pos,
            total.false_neg
        )?;
        for (code, t) in &self.flags {
            writeln!(
                f,
                "    {:<22} precision {:5.1}%  recall {:5.1}%  (tp {} fp {} fn {})",
                code,
                100.0 * t.precision(),
                100.0 * t.recall(),
                t.true_pos,
                t.false_pos,
                t.false_neg
            )?;
        }
        writeln!(f, "  scores recognised        {}", pct(self.scores))?;
        writeln!(f, "    with the right band    {}", pct(self.scores_banded))?;
        writeln!(f, "    not dictated           {}", self.scores_spurious)?;
        writeln!(f, "  PHQ-9 item 9             {}", pct(self.item9))?;
        writeln!(f, "  session fields           {}", pct(self.session_fields))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::corpus::parse;

    const FILE: &str = "# format: soap\n# style: headings\n# flags: missing-interventions missing-session-info\n\
# scores: PHQ-9=14/18 PHQ-9-item9=0\n# session: client=J.D. number=6\n\
session | Session six with J.D.\n\
heading | Subjective.\n\
S | Client reports she slept better this week.\n\
heading | Objective.\n\
O | PHQ-9 was 14, down from 18, item 9 was zero.\n\
O | She denies SI and HI.\n\
retracted | She was tearful throughout.\n\
command | Scratch that.\n\
heading | Plan.\n\
P | Next session in one week.\n\
command | End of dictation.\n";

    #[test]
    fn a_simple_file_scores_fully() {
        let f = parse("one.txt", FILE).unwrap();
        let report = score(std::slice::from_ref(&f));
        assert_eq!(
            report.sentences,
            Tally {
                right: 11,
                total: 11
            },
            "{:?}",
            report.misses
        );
        assert_eq!(report.scores, Tally { right: 1, total: 1 });
        assert_eq!(report.scores_banded, Tally { right: 1, total: 1 });
        assert_eq!(report.item9, Tally { right: 1, total: 1 });
        assert_eq!(report.session_fields, Tally { right: 2, total: 2 });
        let flags = report.flags_total();
        assert_eq!(
            (flags.true_pos, flags.false_pos, flags.false_neg),
            (2, 0, 0),
            "{:?}",
            report.flag_misses
        );
        let text = report.to_string();
        assert!(
            text.contains("sentences placed right   100.0% (11/11)"),
            "{text}"
        );
    }

    #[test]
    fn one_sentence_per_line_scores_the_same() {
        let f = parse("one.txt", FILE).unwrap();
        let model = crate::note::classify::model();
        let report = score_joined(std::slice::from_ref(&f), &[model], "\n");
        assert_eq!(
            report.sentences,
            Tally {
                right: 11,
                total: 11
            },
            "{:?}",
            report.misses
        );
    }

    #[test]
    fn wrong_expectations_count_as_misses() {
        let wrong = FILE
            .replace("S | Client reports", "P | Client reports")
            .replace(
                "# flags: missing-interventions missing-session-info",
                "# flags: missing-plan",
            );
        let f = parse("two.txt", &wrong).unwrap();
        let report = score(std::slice::from_ref(&f));
        assert_eq!(report.sentences.right, 10);
        assert_eq!(report.misses[0].landed, "subjective");
        let flags = report.flags_total();
        assert_eq!(
            (flags.true_pos, flags.false_pos, flags.false_neg),
            (0, 2, 1)
        );
    }
}

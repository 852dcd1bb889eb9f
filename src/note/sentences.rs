//! Splits transcript segments into sentences that keep their audio times.
//!
//! Whisper segments do not line up with sentences: one segment can hold two sentences and a sentence can
//! run over three segments. The pieces are joined into one text, split there, and each sentence gets the
//! time of its first and last character, apportioned by characters inside a segment.

use super::TimedText;

/// A silence at least this long between two timed pieces is a pause: it ends a sentence and a private
/// ("for my notes") passage.
pub const PAUSE_S: f64 = 2.0;

/// One dictated sentence with its place in the audio.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    /// The words as recognised, whitespace collapsed.
    pub text: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// A pause (silence of [`PAUSE_S`] or more, or a blank line in a text transcript) came just before.
    pub pause_before: bool,
    /// A blank line in a text transcript came just before: the clinician's own paragraph break.
    pub paragraph_before: bool,
}

/// Abbreviations that never end a sentence: a name or a word always follows them.
const NEVER_FINAL: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "st", "vs", "v", "e.g", "i.e", "cf", "approx", "appt", "mt",
];

/// Abbreviations that end a sentence only when a capitalised word follows ("at 5 p.m. She left").
const SOMETIMES_FINAL: &[&str] = &["a.m", "p.m", "etc", "al", "min", "mins", "wk", "hrs", "yrs"];

/// Words that start a new sentence after initials ("session with J.D. She reported ..."); any other
/// word after initials is read as part of a name ("J.D. Salinger").
const SENTENCE_STARTERS: &[&str] = &[
    "she",
    "he",
    "they",
    "i",
    "we",
    "client",
    "patient",
    "pt",
    "the",
    "this",
    "it",
    "her",
    "his",
    "their",
    "our",
    "my",
    "today",
    "session",
    "next",
    "also",
    "overall",
    "no",
    "denies",
    "reports",
    "plan",
    "subjective",
    "objective",
    "assessment",
    "data",
    "okay",
    "ok",
    "so",
    "and",
    "um",
    "uh",
    "scratch",
    "delete",
    "new",
    "end",
    "for",
    "there",
    "affect",
    "mood",
    "phq",
    "gad",
    "pcl",
];

/// Words that leave a line unfinished, so a line break after them is not a sentence end.
const CONTINUING: &[&str] = &[
    "the", "a", "an", "and", "or", "but", "of", "to", "with", "for", "in", "on", "at", "her",
    "his", "their", "my", "was", "is", "were", "that", "because", "from", "by", "as", "than",
];

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Gap {
    /// Newlines in the whitespace between two tokens.
    newlines: usize,
    /// A timed pause between two pieces falls here.
    pause: bool,
}

struct Token {
    start: usize,
    end: usize,
}

struct PieceSpan {
    start: usize,
    end: usize,
    chars: usize,
    start_s: Option<f64>,
    end_s: Option<f64>,
}

/// Splits the transcript pieces into sentences.
///
/// Pieces with times are joined by spaces (they are recogniser segments); pieces without times are joined
/// by line breaks (they are lines of a text transcript). In text, a blank line is a paragraph break and
/// a pause; a single line break ends a sentence only where the line looks finished.
pub fn split(pieces: &[TimedText]) -> Vec<Sentence> {
    let timed = pieces
        .iter()
        .any(|p| p.start_s.is_some() || p.end_s.is_some());
    let mut all = String::new();
    let mut spans = Vec::with_capacity(pieces.len());
    let mut pause_at: Vec<usize> = Vec::new();
    let mut previous_end: Option<f64> = None;
    for piece in pieces {
        let text = if timed {
            piece.text.trim()
        } else {
            piece.text.as_str()
        };
        if !all.is_empty() {
            if timed {
                let gap = match (previous_end, piece.start_s) {
                    (Some(end), Some(start)) => start - end,
                    _ => 0.0,
                };
                if gap >= PAUSE_S {
                    pause_at.push(all.len());
                }
                all.push(' ');
            } else {
                all.push('\n');
            }
        }
        let start = all.len();
        all.push_str(text);
        spans.push(PieceSpan {
            start,
            end: all.len(),
            chars: text.chars().count(),
            start_s: piece.start_s,
            end_s: piece.end_s,
        });
        if piece.end_s.is_some() {
            previous_end = piece.end_s;
        }
    }

    let tokens = tokenize(&all);
    if tokens.is_empty() {
        return Vec::new();
    }
    let gaps: Vec<Gap> = (0..tokens.len())
        .map(|i| {
            let Some(next) = tokens.get(i + 1) else {
                return Gap::default();
            };
            let between = &all[tokens[i].end..next.start];
            Gap {
                newlines: between.matches('\n').count(),
                pause: pause_at
                    .iter()
                    .any(|&p| p >= tokens[i].end && p <= next.start),
            }
        })
        .collect();
    let texts: Vec<&str> = tokens.iter().map(|t| &all[t.start..t.end]).collect();
    let protected = quoted_tokens(&texts, &gaps);

    let mut sentences = Vec::new();
    let mut first = 0;
    let mut boundary_before = Gap::default();
    for i in 0..tokens.len() {
        let last = i + 1 == tokens.len();
        let gap = gaps[i];
        let ends = last
            || gap.pause
            || gap.newlines >= 2
            || (!protected[i] && ends_sentence(&texts, i, gap.newlines == 1));
        if ends {
            let mut text = texts[first..=i].join(" ");
            // A sentence cut at a comma (a heading or command said without a pause) keeps its words,
            // not the comma that was left dangling.
            if text.ends_with(',') || text.ends_with(';') {
                text.pop();
            }
            let start_s = time_at(&spans, &all, tokens[first].start, false);
            let end_s = time_at(&spans, &all, tokens[i].end, true);
            sentences.push(Sentence {
                text,
                start_s,
                end_s,
                pause_before: boundary_before.pause || boundary_before.newlines >= 2,
                paragraph_before: boundary_before.newlines >= 2,
            });
            first = i + 1;
            boundary_before = gap;
        }
    }
    sentences
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.push(Token { start: s, end: i });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(Token {
            start: s,
            end: text.len(),
        });
    }
    tokens
}

fn is_closing(c: char) -> bool {
    matches!(c, '"' | '”' | '’' | '\'' | ')' | ']')
}

fn opens_quote(token: &str) -> bool {
    let t = token.trim_start_matches(['(', '[']);
    t.starts_with('"') || t.starts_with('“')
}

fn closes_quote(token: &str) -> bool {
    let t = token.trim_end_matches(['.', ',', '?', '!', ')', ';', ':']);
    (t.ends_with('"') || t.ends_with('”')) && t.chars().count() > 1
}

/// Tokens inside a quotation whose closing mark is found in the same paragraph: a period inside a quote
/// ("I'm tired. I can't sleep.") does not end the dictated sentence.
fn quoted_tokens(texts: &[&str], gaps: &[Gap]) -> Vec<bool> {
    const MAX_QUOTE_TOKENS: usize = 80;
    let mut protected = vec![false; texts.len()];
    let mut i = 0;
    while i < texts.len() {
        if opens_quote(texts[i]) && !closes_quote(texts[i]) {
            let close = (i + 1..texts.len().min(i + MAX_QUOTE_TOKENS))
                .take_while(|&j| gaps[j - 1].newlines < 2 && !gaps[j - 1].pause)
                .find(|&j| closes_quote(texts[j]) || opens_quote(texts[j]));
            if let Some(j) = close.filter(|&j| closes_quote(texts[j])) {
                protected[i..j].iter_mut().for_each(|p| *p = true);
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    protected
}

fn starts_upper(token: &str) -> bool {
    token
        .chars()
        .find(|c| c.is_alphanumeric())
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

fn bare_lower(token: &str) -> String {
    token
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Initials such as "J.D", "J. D" pieces or "A.B.C" (the final period already removed).
fn is_initials(core: &str) -> bool {
    let parts: Vec<&str> = core.split('.').collect();
    !core.is_empty()
        && parts
            .iter()
            .all(|p| p.chars().count() == 1 && p.chars().all(|c| c.is_uppercase()))
}

/// Does the sentence end after token `i`?
fn ends_sentence(texts: &[&str], i: usize, line_break_after: bool) -> bool {
    let token = texts[i];
    let next = texts.get(i + 1).copied();
    let body = token.trim_end_matches(is_closing);
    let next_upper = next.is_some_and(starts_upper);

    if body.ends_with('?') || body.ends_with('!') {
        return true;
    }
    if body.ends_with("...") || body.ends_with('…') {
        return next_upper;
    }
    if let Some(core) = body.strip_suffix('.') {
        let core = core.trim_start_matches(|c: char| !c.is_alphanumeric());
        let lower = core.to_lowercase();
        if NEVER_FINAL.contains(&lower.as_str()) {
            return false;
        }
        if SOMETIMES_FINAL.contains(&lower.as_str()) {
            return next_upper;
        }
        if is_initials(core) {
            return next.is_some_and(|n| {
                let word = bare_lower(n);
                opens_quote(n) || (starts_upper(n) && SENTENCE_STARTERS.contains(&word.as_str()))
            });
        }
        return true;
    }
    if body.ends_with(',') && next.is_some_and(|n| is_inline_heading(texts, i + 1, n)) {
        return true;
    }
    if body.ends_with(',') && is_inline_heading(texts, i, token) {
        return true;
    }
    if body.ends_with(',') && ends_with_end_command(&texts[i + 1..]) {
        return true;
    }
    if line_break_after {
        let word = bare_lower(token);
        let unfinished = token.ends_with(',')
            || token.ends_with(';')
            || token.ends_with('-')
            || CONTINUING.contains(&word.as_str());
        return !unfinished && next_upper;
    }
    false
}

/// Section names a heading can be on its own.
const HEADING_WORDS: &[&str] = &["subjective", "objective", "assessment", "plan", "data"];

/// A section name standing alone between commas inside a run-on sentence, as the recogniser writes
/// a heading dictated without a pause ("..., assessment, depressive symptoms are improving, ..."):
/// the comma before it ends the sentence, and so does the heading's own comma. A name that starts
/// a list item ("plan, assessment, and goals") is left alone.
fn is_inline_heading(texts: &[&str], i: usize, token: &str) -> bool {
    let Some(word) = token.strip_suffix(',') else {
        return false;
    };
    if !HEADING_WORDS.contains(&word.to_lowercase().as_str()) {
        return false;
    }
    let before_ok = i > 0 && texts[i - 1].trim_end_matches(is_closing).ends_with(',');
    let after = texts.get(i + 1).map(|n| bare_lower(n));
    let after_ok = after.is_some_and(|w| !matches!(w.as_str(), "and" | "or" | "etc"));
    before_ok && after_ok
}

/// "End of dictation" and the like, as the recogniser may tack them onto the last sentence.
const END_COMMANDS: &[&[&str]] = &[
    &["end", "of", "dictation"],
    &["end", "on", "dictation"],
    &["end", "of", "the", "dictation"],
    &["end", "of", "note"],
    &["end", "of", "the", "note"],
];

/// The tokens that follow are only an end-of-dictation command that closes the sentence
/// ("..., continue CBT weekly, end of dictation."): it gets a sentence of its own.
fn ends_with_end_command(rest: &[&str]) -> bool {
    END_COMMANDS.iter().any(|phrase| {
        rest.len() >= phrase.len()
            && rest
                .iter()
                .zip(phrase.iter())
                .all(|(token, word)| bare_lower(token) == *word)
            && (rest.len() == phrase.len()
                || rest[phrase.len() - 1]
                    .trim_end_matches(is_closing)
                    .ends_with(['.', '!']))
    })
}

/// The time at a byte position of the joined text, apportioned by characters inside its piece.
fn time_at(spans: &[PieceSpan], all: &str, byte: usize, is_end: bool) -> Option<f64> {
    let span = spans.iter().find(|s| {
        if is_end {
            byte > s.start && byte <= s.end
        } else {
            byte >= s.start && byte < s.end
        }
    })?;
    let (start_s, end_s) = (span.start_s?, span.end_s?);
    if span.chars == 0 {
        return Some(if is_end { end_s } else { start_s });
    }
    let before = all[span.start..byte].chars().count() as f64;
    let fraction = (before / span.chars as f64).clamp(0.0, 1.0);
    Some(start_s + (end_s - start_s).max(0.0) * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> Vec<String> {
        split(&[TimedText {
            text: t.to_string(),
            start_s: None,
            end_s: None,
        }])
        .into_iter()
        .map(|s| s.text)
        .collect()
    }

    fn timed(parts: &[(&str, f64, f64)]) -> Vec<Sentence> {
        let pieces: Vec<TimedText> = parts
            .iter()
            .map(|(t, s, e)| TimedText {
                text: t.to_string(),
                start_s: Some(*s),
                end_s: Some(*e),
            })
            .collect();
        split(&pieces)
    }

    #[test]
    fn a_heading_between_commas_in_a_run_on_ends_the_sentence() {
        assert_eq!(
            text(
                "She seemed tired, assessment, symptoms are improving, plan, continue CBT weekly."
            ),
            vec![
                "She seemed tired",
                "assessment",
                "symptoms are improving",
                "plan",
                "continue CBT weekly."
            ]
        );
        assert_eq!(
            text("Continue CBT weekly, end of dictation."),
            vec!["Continue CBT weekly", "end of dictation."]
        );
    }

    #[test]
    fn a_section_name_in_a_list_is_not_a_heading() {
        assert_eq!(
            text("We reviewed her safety plan, assessment, and goals."),
            vec!["We reviewed her safety plan, assessment, and goals."]
        );
        assert_eq!(
            text("Reviewed the treatment plan, she agreed."),
            vec!["Reviewed the treatment plan, she agreed."]
        );
    }

    #[test]
    fn plain_sentences_split_on_terminal_punctuation() {
        assert_eq!(
            text("She slept better. She is tired! Is she? Yes."),
            ["She slept better.", "She is tired!", "Is she?", "Yes."]
        );
    }

    #[test]
    fn titles_do_not_end_sentences() {
        assert_eq!(
            text("She saw Dr. Patel and Mr. Jones with Mrs. Lee and Ms. Diaz. Next."),
            [
                "She saw Dr. Patel and Mr. Jones with Mrs. Lee and Ms. Diaz.",
                "Next."
            ]
        );
        assert_eq!(
            text("She lives on St. Mark's Place. Fine."),
            ["She lives on St. Mark's Place.", "Fine."]
        );
    }

    #[test]
    fn latin_abbreviations_do_not_end_sentences() {
        assert_eq!(
            text("Use skills, e.g. grounding, i.e. the five senses, vs. avoidance. Done."),
            [
                "Use skills, e.g. grounding, i.e. the five senses, vs. avoidance.",
                "Done."
            ]
        );
    }

    #[test]
    fn times_of_day_end_a_sentence_only_before_a_capital() {
        assert_eq!(
            text("She wakes at 3 a.m. most nights. She naps at 5 p.m. Fine."),
            [
                "She wakes at 3 a.m. most nights.",
                "She naps at 5 p.m.",
                "Fine."
            ]
        );
        assert_eq!(
            text("Next session Tuesday at 5 p.m. for fifty minutes."),
            ["Next session Tuesday at 5 p.m. for fifty minutes."]
        );
    }

    #[test]
    fn etc_mid_and_end_of_sentence() {
        assert_eq!(
            text("Sleep, appetite, etc. are fine. Worry, guilt, etc. She left."),
            [
                "Sleep, appetite, etc. are fine.",
                "Worry, guilt, etc.",
                "She left."
            ]
        );
    }

    #[test]
    fn decimals_and_instrument_names_do_not_split() {
        assert_eq!(
            text(
                "She sleeps 2.5 hours. PHQ-9 was 14 and GAD-7 was 9.5 points lower. PCL-5 was 38."
            ),
            [
                "She sleeps 2.5 hours.",
                "PHQ-9 was 14 and GAD-7 was 9.5 points lower.",
                "PCL-5 was 38."
            ]
        );
        assert_eq!(
            text("We repeated the PHQ-9. It was 12."),
            ["We repeated the PHQ-9.", "It was 12."]
        );
    }

    #[test]
    fn initials_stay_inside_a_sentence_unless_a_new_one_starts() {
        assert_eq!(
            text("Client J.D. arrived on time. Saw J. D. today."),
            ["Client J.D. arrived on time.", "Saw J. D. today."]
        );
        assert_eq!(
            text("Session six with J.D. She reported a good week."),
            ["Session six with J.D.", "She reported a good week."]
        );
    }

    #[test]
    fn quotes_keep_their_inner_sentences_together() {
        assert_eq!(
            text("She said, \"I'm tired. I can't sleep.\" She was tearful. “Fine.” Next."),
            [
                "She said, \"I'm tired. I can't sleep.\"",
                "She was tearful.",
                "“Fine.”",
                "Next."
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_does_not_swallow_the_rest() {
        assert_eq!(
            text("She said \"no way. She left. Then back."),
            ["She said \"no way.", "She left.", "Then back."]
        );
    }

    #[test]
    fn ellipsis_ends_a_sentence_only_before_a_capital() {
        assert_eq!(
            text("She was, um... really upset. She was going to... She stopped."),
            [
                "She was, um... really upset.",
                "She was going to...",
                "She stopped."
            ]
        );
    }

    #[test]
    fn blank_lines_are_paragraphs_and_pauses() {
        let s = split(&[TimedText {
            text: "First one.\n\nSecond one. Third one.".into(),
            start_s: None,
            end_s: None,
        }]);
        assert_eq!(s.len(), 3);
        assert!(!s[0].paragraph_before);
        assert!(s[1].paragraph_before && s[1].pause_before);
        assert!(!s[2].paragraph_before && !s[2].pause_before);
        assert_eq!(s[0].start_s, None);
    }

    #[test]
    fn line_breaks_end_sentences_only_where_the_line_is_finished() {
        assert_eq!(
            text("Subjective\nClient reports she slept\nbetter this week\nObjective:\nCalm."),
            [
                "Subjective",
                "Client reports she slept better this week",
                "Objective:",
                "Calm."
            ]
        );
        assert_eq!(
            text("She met with the\nDr. Lee team."),
            ["She met with the Dr. Lee team."]
        );
    }

    #[test]
    fn one_piece_per_line_matches_one_piece_with_newlines() {
        let lines = ["Subjective.", "She slept well.", "", "Plan.", "Weekly."];
        let pieces: Vec<TimedText> = lines
            .iter()
            .map(|l| TimedText {
                text: l.to_string(),
                start_s: None,
                end_s: None,
            })
            .collect();
        let a = split(&pieces);
        let b = split(&[TimedText {
            text: lines.join("\n"),
            start_s: None,
            end_s: None,
        }]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 4);
        assert!(a[2].paragraph_before);
    }

    #[test]
    fn a_sentence_over_several_segments_takes_first_start_and_last_end() {
        let s = timed(&[
            ("She slept", 0.0, 1.0),
            ("better this", 1.2, 2.0),
            ("week.", 2.1, 3.0),
        ]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].text, "She slept better this week.");
        assert_eq!(s[0].start_s, Some(0.0));
        assert_eq!(s[0].end_s, Some(3.0));
    }

    #[test]
    fn sentences_inside_one_segment_share_its_time_by_characters() {
        // 20 characters: "Ab cd. Ef gh ij kl." -> first sentence is 6 of 19 characters.
        let s = timed(&[("Ab cd. Ef gh ij kl.", 10.0, 29.0)]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].start_s, Some(10.0));
        assert!(
            (s[0].end_s.unwrap() - 16.0).abs() < 1e-9,
            "{:?}",
            s[0].end_s
        );
        assert!(
            (s[1].start_s.unwrap() - 17.0).abs() < 1e-9,
            "{:?}",
            s[1].start_s
        );
        assert_eq!(s[1].end_s, Some(29.0));
    }

    #[test]
    fn a_long_silence_is_a_pause_and_a_boundary() {
        let s = timed(&[
            ("For my notes, I felt tired.", 0.0, 2.0),
            ("She was calm.", 4.5, 6.0),
            ("And engaged", 6.5, 7.0),
            ("throughout.", 7.2, 8.0),
        ]);
        assert_eq!(s.len(), 3);
        assert!(s[1].pause_before);
        assert!(!s[1].paragraph_before);
        assert!(!s[2].pause_before);
        assert_eq!(s[2].start_s, Some(6.5));
    }

    #[test]
    fn a_pause_splits_an_unpunctuated_run() {
        let s = timed(&[("she was going to", 0.0, 1.0), ("Plan weekly.", 3.5, 4.0)]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].end_s, Some(1.0));
        assert_eq!(s[1].start_s, Some(3.5));
    }

    #[test]
    fn empty_input_gives_no_sentences() {
        assert!(split(&[]).is_empty());
        assert!(text("   \n ").is_empty());
    }
}

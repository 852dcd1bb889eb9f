//! Guards against invented text: silence, repetition loops, prompt echo and no-speech segments.
//!
//! Whisper was trained on subtitles, so over silence or noise it tends to write what subtitles say
//! there ("Thank you.", "Thanks for watching!", "[BLANK_AUDIO]"), to repeat its prompt, or to get
//! stuck repeating one sentence. Each rule here removes one of those; none of them rewrites words
//! that were really spoken, except that a loop is cut back to its first occurrence.

use super::RawSegment;

/// Whisper's own rule for "this was not speech": a high no-speech probability together with text the
/// decoder itself was unsure of. The probability alone does not separate speech from silence: on
/// espeak-ng dictation it ranged from 0.05 to 0.85 on real speech, against 0.4 to 0.82 on silence,
/// hiss and hum; the text's mean log probability told them apart (above -0.5 on every speech
/// segment, below -1.1 on the silent ones), so both must agree.
pub const NO_SPEECH_PROB: f32 = 0.6;
pub const UNSURE_LOGPROB: f32 = -1.0;
/// Short stock phrases ("Thank you.") are only believed when the model was fairly sure it heard speech.
pub const STOCK_PHRASE_NO_SPEECH: f32 = 0.2;

/// A run of words repeated back to back counts as a loop once the copies after the first add at
/// least this many words, with at least three copies in all: "very, very good" is not a loop,
/// the same sentence three times is.
pub const LOOP_MIN_EXTRA_WORDS: usize = 8;
const LOOP_MIN_COPIES: usize = 3;
/// A passage of at least this many words written twice back to back is also a loop (beam search
/// tends to repeat a whole paragraph once, sometimes with a word changed): nobody dictates the same
/// dozen words twice in a row.
pub const LOOP_LONG_UNIT_WORDS: usize = 12;
/// Share of words (in per cent) that must agree, position by position, for two long passages to
/// count as the same.
const LONG_UNIT_AGREEMENT_PERCENT: usize = 85;
/// Longest repeated unit looked for, in words (a paragraph).
const LOOP_MAX_UNIT_WORDS: usize = 80;

/// A segment whose words appear verbatim in the prompt, this many or more in a row, is the prompt
/// echoed back rather than dictation. Shorter runs are left alone: the prompt is made of sentences a
/// clinician might well say ("The client denies SI and HI."), and an echo over silence is already
/// caught by the voice detector and the no-speech rule.
pub const ECHO_MIN_WORDS: usize = 14;

/// Phrases that come from subtitle credits, never from a dictation.
const CREDIT_PHRASES: &[&str] = &[
    "thanks for watching",
    "thank you for watching",
    "thanks for listening",
    "thank you for listening",
    "please subscribe",
    "like and subscribe",
    "subtitles by",
    "amara org",
    "transcribed by",
    "captioned by",
    "see you in the next video",
];

/// Stock phrases Whisper writes over quiet stretches; a clinician could say them, so they are only
/// dropped when the model was not confident of speech.
const STOCK_PHRASES: &[&str] = &[
    "thank you",
    "thank you very much",
    "thank you so much",
    "thanks",
    "bye",
    "bye bye",
    "goodbye",
    "you",
    "okay",
    "oh",
    "so",
    "um",
];

/// Why a segment was removed; kept for the debug log and the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    NoSpeech,
    NonSpeechLabel,
    SubtitleCredit,
    StockPhrase,
    PromptEcho,
    NotOverSpeech,
}

/// Decide whether one segment is believable. `over_speech` says whether the voice detector heard
/// speech in the stretch of audio the segment claims to cover.
pub fn judge(segment: &RawSegment, prompt_words: &[String], over_speech: bool) -> Option<Dropped> {
    let words = normalized_words(&segment.text);
    let sentence = words.join(" ");
    if is_label_only(&segment.text) || words.is_empty() {
        return Some(Dropped::NonSpeechLabel);
    }
    if segment.no_speech_prob >= NO_SPEECH_PROB && segment.avg_logprob < UNSURE_LOGPROB {
        return Some(Dropped::NoSpeech);
    }
    if CREDIT_PHRASES.iter().any(|p| contains_phrase(&sentence, p)) {
        return Some(Dropped::SubtitleCredit);
    }
    if !over_speech {
        return Some(Dropped::NotOverSpeech);
    }
    if STOCK_PHRASES.contains(&sentence.as_str())
        && segment.no_speech_prob >= STOCK_PHRASE_NO_SPEECH
    {
        return Some(Dropped::StockPhrase);
    }
    if is_prompt_echo(&words, prompt_words) {
        return Some(Dropped::PromptEcho);
    }
    None
}

/// Lowercased words with punctuation removed, so "PHQ-9," and "phq 9" compare equal.
pub fn normalized_words(text: &str) -> Vec<String> {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

fn contains_phrase(sentence: &str, phrase: &str) -> bool {
    sentence == phrase
        || sentence.starts_with(&format!("{phrase} "))
        || sentence.ends_with(&format!(" {phrase}"))
        || sentence.contains(&format!(" {phrase} "))
}

/// Text made only of sound labels such as "[BLANK_AUDIO]", "(music)", "*sighs*" or music notes.
fn is_label_only(text: &str) -> bool {
    let mut rest = String::new();
    let mut depth = 0usize;
    let mut in_stars = false;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            '*' => in_stars = !in_stars,
            _ if depth > 0 || in_stars => {}
            '♪' | '♫' | '♬' | '♩' => {}
            _ => rest.push(c),
        }
    }
    let had_label = text.contains(['[', '(', '*', '♪', '♫', '♬', '♩']);
    had_label && rest.chars().all(|c| !c.is_alphanumeric())
}

/// True when the segment is a verbatim run of at least [`ECHO_MIN_WORDS`] words of the prompt
/// covering most of the segment.
pub fn is_prompt_echo(words: &[String], prompt_words: &[String]) -> bool {
    if words.len() < ECHO_MIN_WORDS || prompt_words.len() < ECHO_MIN_WORDS {
        return false;
    }
    let longest = longest_common_run(words, prompt_words);
    longest >= ECHO_MIN_WORDS && longest * 10 >= words.len() * 6
}

fn longest_common_run(a: &[String], b: &[String]) -> usize {
    let mut best = 0;
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            if x == y {
                cur[j + 1] = prev[j] + 1;
                best = best.max(cur[j + 1]);
            }
        }
        prev = cur;
    }
    best
}

/// One repetition loop found in a chunk's words: `unit` words starting at word `start`, written
/// `copies` times back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loop {
    pub start: usize,
    pub unit: usize,
    pub copies: usize,
    /// Words of one more, unfinished copy at the very end (the decoder was stopped mid-copy by
    /// its length limit); they go with the loop.
    pub tail: usize,
}

/// Find repetition loops across the segments of one chunk (loops often run from one segment into
/// the next): first exact repeats, then, in what is left once those are cut, passages written twice.
pub fn find_loops(segments: &[RawSegment]) -> Vec<Loop> {
    let words: Vec<String> = segments
        .iter()
        .flat_map(|s| normalized_words(&s.text))
        .collect();
    let (mut loops, kept) = loops_in(&words);
    loops.extend(kept);
    loops
}

/// Loops in `words`: the exact repeats (positions in `words`), and the doubled passages (positions
/// in the words that remain once the exact repeats are cut). Exact repeats go first because a long
/// window over a run of "mood was dysthymic, mood was dysthymic, ..." also looks like a doubled
/// passage, and cutting it that way would leave half the run behind.
fn loops_in(words: &[String]) -> (Vec<Loop>, Vec<Loop>) {
    let repeats = scan(words, LoopKind::Repeated);
    let keep = kept_after(words.len(), &repeats);
    let remaining: Vec<String> = words
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(w, _)| w.clone())
        .collect();
    let doubled = scan(&remaining, LoopKind::Doubled);
    (repeats, doubled)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LoopKind {
    /// The same words, exactly, three or more times.
    Repeated,
    /// A long passage twice, allowing a few changed words.
    Doubled,
}

fn scan(words: &[String], kind: LoopKind) -> Vec<Loop> {
    let mut loops = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut best: Option<Loop> = None;
        let shortest = match kind {
            LoopKind::Repeated => 1,
            LoopKind::Doubled => LOOP_LONG_UNIT_WORDS,
        };
        for unit in shortest..=LOOP_MAX_UNIT_WORDS.min((words.len() - i) / 2) {
            let first = &words[i..i + unit];
            let same = |other: &[String]| match kind {
                LoopKind::Repeated => first == other,
                LoopKind::Doubled => same_passage(first, other),
            };
            let mut copies = 1;
            while i + (copies + 1) * unit <= words.len()
                && same(&words[i + copies * unit..i + (copies + 1) * unit])
            {
                copies += 1;
            }
            // A copy cut off by the end of the text counts when it reaches the end: the decoder
            // was stopped mid-loop by its length limit.
            let after = i + copies * unit;
            let tail = if copies >= 2 && after < words.len() && words.len() - after < unit {
                let rest = &words[after..];
                // Two copies and a fragment need a fragment of some length to be believed.
                let least = if copies >= LOOP_MIN_COPIES {
                    1
                } else {
                    3.min(unit)
                };
                if rest.len() >= least && rest == &first[..rest.len()] {
                    rest.len()
                } else {
                    0
                }
            } else {
                0
            };
            let counted = copies + usize::from(tail > 0);
            let qualifies = match kind {
                LoopKind::Repeated => {
                    counted >= LOOP_MIN_COPIES && unit * (copies - 1) + tail >= LOOP_MIN_EXTRA_WORDS
                }
                LoopKind::Doubled => copies >= 2,
            };
            let covered = unit * copies + tail;
            if qualifies && best.is_none_or(|b| covered > b.unit * b.copies + b.tail) {
                best = Some(Loop {
                    start: i,
                    unit,
                    copies,
                    tail,
                });
            }
        }
        match best {
            Some(found) => {
                loops.push(found);
                i += found.unit * found.copies + found.tail;
            }
            None => i += 1,
        }
    }
    loops
}

/// Which of `len` words survive cutting `loops` back to their first copies.
fn kept_after(len: usize, loops: &[Loop]) -> Vec<bool> {
    let mut keep = vec![true; len];
    for l in loops {
        keep[l.start + l.unit..l.start + l.unit * l.copies + l.tail].fill(false);
    }
    keep
}

/// Long passages may differ in a few words.
fn same_passage(a: &[String], b: &[String]) -> bool {
    let agreeing = a.iter().zip(b).filter(|(x, y)| x == y).count();
    agreeing * 100 >= a.len() * LONG_UNIT_AGREEMENT_PERCENT
}

/// Cut every loop back to its first copy. Words keep their original spelling and punctuation;
/// segments left with no words are removed, and a segment that lost its tail ends where its last
/// kept word's segment ended.
pub fn cut_loops(segments: Vec<RawSegment>) -> Vec<RawSegment> {
    // Original words alongside their normalized forms, so that the cut keeps the real text.
    let mut owners: Vec<(usize, String)> = Vec::new();
    let mut normalized: Vec<String> = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        for raw in segment.text.split_whitespace() {
            let forms = normalized_words(raw);
            if forms.is_empty() {
                // Punctuation standing alone stays with the word before it.
                if let Some(last) = owners.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(raw);
                }
                continue;
            }
            // "PHQ-9" is one written word but two normalized ones; the first carries the text.
            for (k, form) in forms.into_iter().enumerate() {
                owners.push((
                    index,
                    if k == 0 {
                        raw.to_string()
                    } else {
                        String::new()
                    },
                ));
                normalized.push(form);
            }
        }
    }
    let (repeats, doubled) = loops_in(&normalized);
    if repeats.is_empty() && doubled.is_empty() {
        return segments;
    }
    let mut keep = kept_after(normalized.len(), &repeats);
    let remaining: Vec<usize> = (0..normalized.len()).filter(|&k| keep[k]).collect();
    for (k, kept) in kept_after(remaining.len(), &doubled)
        .into_iter()
        .enumerate()
    {
        if !kept {
            keep[remaining[k]] = false;
        }
    }
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); segments.len()];
    for ((index, raw), kept) in owners.into_iter().zip(keep) {
        if kept && !raw.is_empty() {
            texts[index].push(raw);
        }
    }
    segments
        .into_iter()
        .zip(texts)
        .filter(|(_, words)| !words.is_empty())
        .map(|(segment, words)| RawSegment {
            text: format!(" {}", words.join(" ")),
            ..segment
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, no_speech_prob: f32) -> RawSegment {
        RawSegment {
            start_s: 0.0,
            end_s: 2.0,
            text: text.to_string(),
            no_speech_prob,
            avg_logprob: -0.2,
        }
    }

    fn words(text: &str) -> Vec<String> {
        normalized_words(text)
    }

    #[test]
    fn normalization_ignores_case_and_punctuation() {
        assert_eq!(words(" PHQ-9, score: 14."), vec!["phq", "9", "score", "14"]);
        assert_eq!(words("Client's mood"), vec!["client's", "mood"]);
    }

    #[test]
    fn real_dictation_passes() {
        let s = seg(" Client denies SI and HI. PHQ-9 is 14.", 0.01);
        assert_eq!(
            judge(&s, &words("Clinical terms: PHQ-9, GAD-7."), true),
            None
        );
    }

    #[test]
    fn sound_labels_are_dropped_even_over_speech() {
        for text in [
            " [BLANK_AUDIO]",
            " (music)",
            " [Music]",
            " *sighs*",
            " ♪ ♪",
            "( silence )",
        ] {
            assert_eq!(
                judge(&seg(text, 0.0), &[], true),
                Some(Dropped::NonSpeechLabel),
                "{text}"
            );
        }
        // Brackets around part of a real sentence do not make it a label.
        assert_eq!(
            judge(&seg(" Mood (self-reported) is low.", 0.0), &[], true),
            None
        );
    }

    #[test]
    fn high_no_speech_probability_with_unsure_text_drops_the_segment() {
        // Values measured on an 8-second silent chunk: "The client denies SI and HI." echoed.
        let mut unsure = seg(" The client denies SI and HI.", 0.823);
        unsure.avg_logprob = -1.11;
        assert_eq!(judge(&unsure, &[], true), Some(Dropped::NoSpeech));
        // Real espeak-ng speech can score 0.85 no-speech; its confident text keeps it.
        let mut speech = seg(" The wife has a history of bipolar disorder.", 0.851);
        speech.avg_logprob = -0.34;
        assert_eq!(judge(&speech, &[], true), None);
    }

    #[test]
    fn subtitle_credits_are_always_dropped() {
        for text in [
            " Thanks for watching!",
            " Thank you for watching.",
            " Subtitles by the Amara.org community",
        ] {
            assert_eq!(
                judge(&seg(text, 0.0), &[], true),
                Some(Dropped::SubtitleCredit),
                "{text}"
            );
        }
        // "watching" alone in dictation is fine.
        assert_eq!(
            judge(&seg(" She is watching her sleep.", 0.0), &[], true),
            None
        );
    }

    #[test]
    fn thank_you_survives_only_when_the_model_heard_speech() {
        assert_eq!(
            judge(&seg(" Thank you.", 0.35), &[], true),
            Some(Dropped::StockPhrase)
        );
        assert_eq!(judge(&seg(" Thank you.", 0.02), &[], true), None);
        // Part of a longer sentence is dictation.
        assert_eq!(
            judge(&seg(" Client said thank you.", 0.35), &[], true),
            None
        );
    }

    #[test]
    fn segments_over_non_speech_are_dropped() {
        assert_eq!(
            judge(&seg(" The client is well.", 0.1), &[], false),
            Some(Dropped::NotOverSpeech)
        );
    }

    #[test]
    fn the_prompt_echoed_back_is_dropped_but_shared_terms_are_not() {
        let prompt = words(
            "Progress note. The client denies SI and HI. PHQ-9 score was 14 and GAD-7 score was 9; \
             PCL-5 score was 41. Medications are sertraline, fluoxetine, escitalopram and bupropion.",
        );
        // Measured on a 60 Hz hum: most of the prompt came back.
        let echo = seg(
            " The client denies SI and HI. PHQ-9 score was 14 and GAD-7 score was 9; PCL-5 score was 41.",
            0.1,
        );
        assert_eq!(judge(&echo, &prompt, true), Some(Dropped::PromptEcho));
        // A clinician saying one of the prompt's sentences is dictation, not an echo.
        let real = seg(" The client denies SI and HI.", 0.1);
        assert_eq!(judge(&real, &prompt, true), None);
        let real = seg(
            " Client denies SI and HI; PHQ-9 and GAD-7 were repeated.",
            0.1,
        );
        assert_eq!(judge(&real, &prompt, true), None);
    }

    #[test]
    fn a_sentence_repeated_over_and_over_is_a_loop() {
        let looped = [
            seg(" She has been engaged in a high-level situation.", 0.0),
            seg(" She has been engaged in a high-level situation.", 0.0),
            seg(" She has been engaged in a high-level situation.", 0.0),
        ];
        assert_eq!(
            find_loops(&looped),
            vec![Loop {
                start: 0,
                unit: 9,
                copies: 3,
                tail: 0
            }]
        );
    }

    #[test]
    fn a_loop_cut_short_by_the_length_limit_is_still_a_loop_and_is_cut_whole() {
        let looped = [seg(
            " She said she finally told her sister how she felt. She said she finally told her sister how she felt. She said she finally told",
            0.0,
        )];
        assert_eq!(
            find_loops(&looped),
            vec![Loop {
                start: 0,
                unit: 10,
                copies: 2,
                tail: 5
            }]
        );
        let cut = cut_loops(looped.to_vec());
        assert_eq!(
            cut[0].text.trim(),
            "She said she finally told her sister how she felt."
        );
    }

    #[test]
    fn ordinary_repetition_is_not_a_loop() {
        let fine = [seg(
            " Very, very good sleep. No, no, no thoughts of harm. Sleep is good, sleep is good.",
            0.0,
        )];
        assert_eq!(find_loops(&fine), vec![]);
    }

    #[test]
    fn cutting_keeps_the_first_copy_and_the_words_around_it() {
        let looped = vec![
            seg(
                " Mood is low. She has been engaged in a high-level situation.",
                0.0,
            ),
            seg(" She has been engaged in a high-level situation.", 0.0),
            seg(
                " She has been engaged in a high-level situation. Plan: CBT weekly.",
                0.0,
            ),
            seg(" She has been engaged in a high-level situation.", 0.0),
        ];
        let cut = cut_loops(looped);
        let text: Vec<&str> = cut.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            text,
            vec![
                " Mood is low. She has been engaged in a high-level situation.",
                " Plan: CBT weekly.",
                " She has been engaged in a high-level situation."
            ]
        );
    }

    #[test]
    fn a_paragraph_written_twice_with_a_word_changed_is_a_loop() {
        let text = " The wife reports increased conflict about finances and parenting. The husband \
                    states he feels criticized and withdraws. We practiced a speaker listener exercise.";
        let twice = format!("{text}{}", text.replace("practiced", "practice"));
        let found = find_loops(&[seg(&twice, 0.0)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].copies, 2);
        let cut = cut_loops(vec![seg(&twice, 0.0)]);
        assert_eq!(cut[0].text.trim(), text.trim());
    }

    #[test]
    fn a_short_sentence_said_twice_is_not_a_loop() {
        let fine = [seg(
            " Sleep is better. Sleep is better. Appetite is fair.",
            0.0,
        )];
        assert_eq!(find_loops(&fine), vec![]);
    }

    #[test]
    fn a_long_run_of_one_phrase_is_cut_to_one_copy() {
        // Measured on loud noise: the prompt, then one phrase 33 times.
        let text = format!(
            " The client denies SI and HI. Affect was euthymic,{} mood was",
            " mood was dysthymic,".repeat(33)
        );
        let cut = cut_loops(vec![seg(&text, 0.0)]);
        // The unfinished copy at the end goes with the rest.
        assert_eq!(
            cut[0].text,
            " The client denies SI and HI. Affect was euthymic, mood was dysthymic,"
        );
    }

    #[test]
    fn a_single_word_stutter_loop_is_cut() {
        let cut = cut_loops(vec![seg(&" the".repeat(12), 0.0)]);
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].text, " the");
    }
}

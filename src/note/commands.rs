//! Spoken headings and commands ("objective", "scratch that", "for my notes", ...) found and obeyed.
//!
//! A command is recognised only as a short utterance at the start of a sentence, closed by punctuation
//! or the end of the sentence: "Plan." and "For the plan, ..." are headings; "she has a plan to kill
//! herself" and "her subjective sense of ..." are content. The words kept for the note are the
//! clinician's own, verbatim, with fillers ("um", "uh", "you know") and the command words removed.

use super::sentences::Sentence;
use super::words::{Chunk, Tokens as Words, capitalize_first, words};

/// Where a spoken heading sends the sentences that follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Heading {
    Subjective,
    Objective,
    Assessment,
    Plan,
    /// "Data": the client's report and the clinician's observations together (DAP's first section).
    Data,
    /// "Assessment and plan", said as one heading.
    AssessmentAndPlan,
    /// "Interventions": what was done in session, an objective matter.
    Interventions,
    /// "Session info": the note header.
    SessionInfo,
}

impl Heading {
    pub fn label(self) -> &'static str {
        match self {
            Heading::Subjective => "subjective",
            Heading::Objective => "objective",
            Heading::Assessment => "assessment",
            Heading::Plan => "plan",
            Heading::Data => "data",
            Heading::AssessmentAndPlan => "assessment and plan",
            Heading::Interventions => "interventions",
            Heading::SessionInfo => "session info",
        }
    }
}

/// A spoken command other than a heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// "Scratch that", "delete that": remove the sentence before.
    ScratchThat,
    /// "New paragraph".
    NewParagraph,
    /// "End of dictation", "end of note".
    EndOfDictation,
    /// "For my notes", "off the record", "private note", "note to self": what follows is private.
    PrivateMarker,
    /// "Back on the record": the private passage ends.
    EndPrivate,
}

/// One sentence read for commands.
#[derive(Clone, Debug, PartialEq)]
pub struct Utterance {
    pub sentence: Sentence,
    /// A heading said at the start of the sentence.
    pub heading: Option<Heading>,
    /// A command said at the start of the sentence (or alone).
    pub command: Option<Command>,
    /// "..., scratch that." at the end: the sentence takes itself back.
    pub retracts_itself: bool,
    /// The clinician's words left for the note, fillers and command words removed; `None` when nothing
    /// is left.
    pub content: Option<String>,
    /// The sentence held only fillers ("Um.", "Let me think.") or was abandoned half-way
    /// ("She was going to...").
    pub filler: bool,
    /// A filler sentence with words in it ("She showed me the video from his."): "scratch that" after it
    /// takes it back.
    pub fragment: bool,
}

/// Is this line inside a private (process-note) passage?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Private {
    /// Ordinary dictation.
    No,
    /// The sentence itself opened with a private marker.
    Marked,
    /// The sentence follows a private marker, before the next heading, pause or "back on the record".
    Following,
}

/// What became of one dictated sentence once the commands were obeyed.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Clinician's content, for a section, the header or the process note.
    Note {
        /// The last heading in effect.
        heading: Option<Heading>,
        /// The heading was said in this very sentence ("Objective: she arrived on time.").
        heading_here: bool,
        private: Private,
        /// Start a new paragraph here ("new paragraph", or a blank line in a text transcript).
        paragraph_before: bool,
    },
    /// Left out of the note.
    Excluded(Omission),
}

/// Why a sentence is not in the note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Omission {
    /// A heading or command, obeyed.
    Command,
    /// Said after "end of dictation".
    AfterEnd,
    /// Only fillers, or an abandoned fragment.
    Filler,
    /// Taken back by "scratch that".
    Retracted,
}

/// A dictated sentence and its fate.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub sentence: Sentence,
    /// The words for the note (fillers and command words removed); for an excluded line, what was said.
    pub text: String,
    pub fate: Fate,
}

const FILLERS: &[&str] = &[
    "um", "uh", "uhm", "umm", "uhh", "er", "erm", "ah", "ahh", "hmm", "hm", "mm", "mmm", "eh",
];

/// Words that open a dictated sentence without meaning anything ("Okay, so, objective.").
const DISCOURSE: &[&str] = &[
    "okay", "ok", "alright", "so", "and", "now", "then", "right", "well", "um", "uh", "first",
    "firstly", "finally", "lastly", "last", "next", "actually", "no", "sorry", "oops", "wait",
    "oh", "all", "second", "also", "hmm", "er", "erm", "uhm", "umm", "uhh", "ah", "mm", "yeah",
    "let's", "lets", "moving",
];

/// Words allowed before a heading word ("for the plan", "moving on to assessment", "in terms of the plan").
const HEADING_FRAME: &[&str] = &[
    "but",
    "not",
    "least",
    "finally",
    "lastly",
    "for",
    "the",
    "under",
    "in",
    "into",
    "on",
    "onto",
    "to",
    "moving",
    "move",
    "going",
    "go",
    "let's",
    "lets",
    "let",
    "us",
    "do",
    "now",
    "as",
    "far",
    "terms",
    "of",
    "regarding",
    "switching",
    "switch",
    "turning",
    "turn",
    "over",
    "with",
    "starting",
    "start",
    "begin",
    "beginning",
    "and",
    "my",
    "our",
    "next",
    "then",
    "here's",
    "here",
    "is",
    "comes",
    "okay",
    "so",
    "get",
    "getting",
    "a",
    "quick",
    "brief",
    "jump",
    "jumping",
    "back",
];

/// Words allowed after a heading word ("assessment section", "plan-wise", "session info").
const HEADING_SUFFIX: &[&str] = &[
    "data",
    "info",
    "information",
    "summary",
    "going",
    "forward",
    "goes",
    "go",
    "section",
    "portion",
    "part",
    "wise",
    "now",
    "then",
    "here",
    "stuff",
    "next",
    "first",
    "last",
    "piece",
    "side",
    "notes",
    "note",
    "again",
    "for",
    "a",
    "second",
    "sec",
    "moment",
    "minute",
    "quick",
    "quickly",
    "real",
];

const HEADING_WORDS: &[(&[&str], Heading)] = &[
    (&["assessment", "and", "plan"], Heading::AssessmentAndPlan),
    (&["a", "and", "p"], Heading::AssessmentAndPlan),
    (&["assessment", "plan"], Heading::AssessmentAndPlan),
    (&["identifying", "information"], Heading::SessionInfo),
    (&["identifying", "info"], Heading::SessionInfo),
    (&["session", "info"], Heading::SessionInfo),
    (&["session", "information"], Heading::SessionInfo),
    (&["session", "details"], Heading::SessionInfo),
    (&["session", "header"], Heading::SessionInfo),
    (&["treatment", "plan"], Heading::Plan),
    (&["objective", "findings"], Heading::Objective),
    (&["findings"], Heading::Objective),
    (&["observations"], Heading::Objective),
    (&["mental", "status", "exam"], Heading::Objective),
    (&["mental", "status"], Heading::Objective),
    (&["clinical", "impressions"], Heading::Assessment),
    (&["clinical", "impression"], Heading::Assessment),
    (&["impressions"], Heading::Assessment),
    (&["impression"], Heading::Assessment),
    (&["diagnosis"], Heading::Assessment),
    (&["formulation"], Heading::Assessment),
    (&["next", "steps"], Heading::Plan),
    (&["recommendations"], Heading::Plan),
    (&["subjective", "report"], Heading::Subjective),
    (&["subjective"], Heading::Subjective),
    (&["objective"], Heading::Objective),
    (&["assessment"], Heading::Assessment),
    (&["plan"], Heading::Plan),
    (&["data"], Heading::Data),
    (&["interventions"], Heading::Interventions),
    (&["intervention"], Heading::Interventions),
];

const SCRATCH: &[&[&str]] = &[
    &["scratch", "the", "last", "part"],
    &["delete", "the", "last", "part"],
    &["disregard", "the", "last", "sentence"],
    &["disregard", "the", "last", "part"],
    &["undo", "that"],
    &["never", "mind", "that"],
    &["never", "mind"],
    &["correction"],
    &["scratch", "that", "last", "sentence"],
    &["scratch", "the", "last", "sentence"],
    &["delete", "the", "last", "sentence"],
    &["delete", "that", "last", "sentence"],
    &["strike", "the", "last", "sentence"],
    &["scratch", "the", "last", "line"],
    &["delete", "the", "last", "line"],
    &["delete", "last", "sentence"],
    &["scratch", "last", "sentence"],
    &["take", "that", "out"],
    &["scratch", "that"],
    &["delete", "that"],
    &["strike", "that"],
    &["remove", "that"],
    &["cancel", "that"],
    &["disregard", "that"],
    &["ignore", "that"],
    &["erase", "that"],
    &["scratch", "this"],
];

const NEW_PARAGRAPH: &[&[&str]] = &[
    &["new", "line"],
    &["new", "paragraph"],
    &["next", "paragraph"],
    &["paragraph", "break"],
    &["new", "para"],
    &["paragraph"],
];

const END_OF_DICTATION: &[&[&str]] = &[
    &["stop", "recording"],
    &["that's", "it", "for", "this", "note"],
    &["that's", "it", "for", "the", "note"],
    &["that's", "all", "for", "this", "note"],
    &["that's", "all", "for", "the", "note"],
    &["end", "of", "my", "note"],
    &["end", "of", "dictation"],
    &["end", "of", "the", "dictation"],
    &["end", "dictation"],
    // How Whisper sometimes hears "end of dictation".
    &["end", "on", "dictation"],
    &["ended", "dictation"],
    &["and", "of", "dictation"],
    &["end", "of", "dictations"],
    &["end", "of", "note"],
    &["end", "of", "the", "note"],
    &["end", "of", "notes"],
    &["end", "note"],
    &["end", "of", "session", "note"],
    &["end", "of", "progress", "note"],
    &["end", "of", "the", "progress", "note"],
    &["end", "of", "recording"],
    &["stop", "dictation"],
    &["dictation", "ends"],
    &["dictation", "complete"],
    &["that's", "the", "end", "of", "the", "note"],
    &["that's", "the", "end", "of", "the", "dictation"],
    &["that's", "the", "end", "of", "my", "dictation"],
    &["that's", "the", "end", "of", "dictation"],
    &["that", "is", "the", "end", "of", "the", "note"],
    &["that", "concludes", "the", "note"],
    &["that", "concludes", "the", "dictation"],
    &["that", "concludes", "my", "dictation"],
    &["that", "concludes", "my", "note"],
    &["this", "concludes", "the", "note"],
    &["this", "concludes", "the", "dictation"],
];

/// Words that may follow an end-of-dictation command without being content ("End of note for J.D.").
const END_TRAILER: &[&str] = &[
    "for", "today", "this", "client", "patient", "thank", "thanks", "you", "the", "session", "now",
];

const PRIVATE_MARKERS: &[&[&str]] = &[
    &["note", "for", "myself"],
    &["notes", "for", "myself"],
    &["this", "is", "just", "for", "me"],
    &["for", "supervision"],
    &["for", "my", "supervision"],
    &["just", "for", "my", "own", "notes"],
    &["just", "for", "my", "own", "reference"],
    &["just", "for", "my", "notes"],
    &["for", "my", "own", "notes"],
    &["for", "my", "notes", "only"],
    &["for", "my", "notes"],
    &["for", "my", "own", "reference"],
    &["for", "my", "eyes", "only"],
    &["for", "my", "process", "notes"],
    &["for", "the", "process", "note"],
    &["for", "the", "process", "notes"],
    &["for", "my", "private", "notes"],
    &["not", "for", "the", "record"],
    &["not", "for", "the", "note"],
    &["not", "for", "the", "chart"],
    &["off", "the", "record"],
    &["note", "to", "self"],
    &["note", "to", "myself"],
];

/// Private markers that read as content unless punctuation closes them ("Private note: ...", but
/// "private practice ...", "process notes were ...").
const PRIVATE_MARKERS_CLOSED: &[&[&str]] = &[
    &["for", "me", "only"],
    &["private", "thought"],
    &["private", "thoughts"],
    &["personal", "reflection"],
    &["private", "note"],
    &["private", "notes"],
    &["personal", "note"],
    &["process", "note"],
    &["process", "notes"],
    &["just", "for", "me"],
    &["privately"],
    &["private"],
];

/// Interjections dropped from the start of a content sentence when a comma sets them off
/// ("Okay, she arrived ..."): dictation noise, not the clinician's note.
const LEADING_INTERJECTIONS: &[&str] =
    &["okay", "ok", "alright", "so", "well", "um", "uh", "right"];

const END_PRIVATE: &[&[&str]] = &[
    &["end", "process", "note"],
    &["end", "of", "private", "notes"],
    &["back", "on", "the", "record"],
    &["on", "the", "record"],
    &["end", "of", "private", "note"],
    &["end", "private", "note"],
    &["end", "of", "my", "notes"],
    &["back", "to", "the", "note"],
    &["back", "to", "the", "progress", "note"],
    &["end", "of", "process", "note"],
];

/// Whole sentences that say nothing for the note.
const META_SENTENCES: &[&[&str]] = &[
    &["where", "do", "i", "start"],
    &["where", "should", "i", "start"],
    &["where", "to", "start"],
    &["let", "me", "think"],
    &["let", "me", "see"],
    &["let's", "see"],
    &["lets", "see"],
    &["where", "was", "i"],
    &["what", "else"],
    &["one", "more", "thing"],
    &["hold", "on"],
    &["let", "me", "start", "over"],
    &["let", "me", "back", "up"],
    &["i", "mean"],
    &["what", "was", "i", "saying"],
    &["how", "do", "i", "put", "this"],
    &["moving", "on"],
    &["what", "am", "i", "missing"],
    &["give", "me", "a", "second"],
    &["one", "second"],
    &["one", "sec"],
    &["hang", "on"],
    &["where", "was", "i", "going", "with", "that"],
    &["how", "should", "i", "say", "this"],
    &["let", "me", "rephrase"],
    &["let", "me", "rephrase", "that"],
    &["recording"],
    &["still", "recording"],
    &["is", "this", "recording"],
    &["testing"],
    &["group", "note"],
    &["progress", "note"],
    &["session", "note"],
    &["quick", "note"],
    &["let", "me", "get", "this", "down"],
    &[
        "let", "me", "get", "this", "down", "before", "the", "next", "one",
    ],
    &["let", "me", "get", "this", "down", "before", "i", "forget"],
];

/// Words that, after a heading or command, are not content ("Subjective, I guess.", "Plan, please.").
const AFTER_COMMAND: &[&str] = &[
    "i", "guess", "suppose", "think", "please", "again", "then", "now", "here", "we", "go",
];

/// Words that, alone, are not content.
const EMPTY_WORDS: &[&str] = &[
    "okay", "ok", "so", "well", "and", "alright", "all", "right", "now", "then", "anyway", "oh",
    "yeah", "hmm", "also", "um", "uh", "just", "like", "but", "or", "um", "sorry", "wait", "yes",
    "er", "erm", "ah", "mm", "uhm", "umm", "uhh", "hm",
];

/// Words that leave a sentence unfinished when it trails off on them ("She was going to...").
const DANGLING_AFTER_TRAIL: &[&str] = &[
    "the", "a", "an", "and", "but", "or", "because", "of", "to", "with", "about", "that", "her",
    "his", "their", "my", "for", "in", "on", "at", "she", "he", "they", "i", "we", "it", "just",
    "like", "really", "kind", "sort", "more", "is", "was", "were", "had", "has", "have", "be",
    "so", "if", "when", "than", "very", "been", "not", "from", "into", "by", "some", "this", "um",
    "uh",
];

/// Words that leave a sentence unfinished even when a period follows ("She reports that the.").
const DANGLING_ALWAYS: &[&str] = &[
    "the", "a", "an", "and", "but", "or", "because", "my", "your", "our", "their", "if", "his",
    "we", "he", "she", "they", "i",
];

/// The index (in `ws`) just past `phrase` when `ws` starts with it at `at`.
fn phrase_end(ws: &[String], at: usize, phrase: &[&str]) -> Option<usize> {
    let end = at + phrase.len();
    (end <= ws.len() && phrase.iter().zip(&ws[at..end]).all(|(p, w)| p == w)).then_some(end)
}

/// Strips discourse words from `at` on; returns the first word that is not one.
fn skip_discourse(ws: &Words<'_>, mut at: usize) -> usize {
    while at < ws.words.len() && DISCOURSE.contains(&ws.words[at].as_str()) {
        // "all right" and "let's" only count as discourse when they are the whole phrase.
        if ws.words[at] == "all" && ws.words.get(at + 1).is_none_or(|w| w != "right") {
            break;
        }
        if ws.words[at] == "all" {
            at += 2;
            continue;
        }
        if (ws.words[at] == "let's" || ws.words[at] == "lets" || ws.words[at] == "moving")
            && ws.closes_at(at + 1)
        {
            break;
        }
        at += 1;
    }
    at
}

/// Where an end-of-dictation command closes a sentence after a short aside ("I have to run, end of
/// dictation."); `None` when the words before it are more than an aside.
fn trailing_end_of_dictation(ws: &Words<'_>, from: usize) -> Option<usize> {
    const MAX_ASIDE: usize = 6;
    let n = ws.words.len();
    END_OF_DICTATION.iter().find_map(|p| {
        let start = n.checked_sub(p.len())?;
        let matches = phrase_end(&ws.words, start, p) == Some(n);
        (matches && start > from && start - from <= MAX_ASIDE && ws.closes_at(start))
            .then_some(start)
    })
}

/// The first word after comma-set interjections at the start ("Okay, so, um, she ..." -> "so").
fn skip_interjections(ws: &Words<'_>) -> usize {
    let mut at = 0;
    while at < ws.words.len() {
        let word = ws.words[at].as_str();
        let span = if word == "all" && ws.words.get(at + 1).is_some_and(|w| w == "right") {
            2
        } else if LEADING_INTERJECTIONS.contains(&word) || FILLERS.contains(&word) {
            1
        } else {
            break;
        };
        if !ws.closes_at(at + span) || at + span == ws.words.len() {
            break;
        }
        at += span;
    }
    at
}

/// A heading starting at word `at`: (heading, word index just past it).
fn heading_at(ws: &Words<'_>, at: usize) -> Option<(Heading, usize)> {
    const MAX_FRAME: usize = 5;
    for frame_len in 0..=MAX_FRAME {
        let head = at + frame_len;
        if head >= ws.words.len() {
            break;
        }
        if frame_len > 0 && !HEADING_FRAME.contains(&ws.words[head - 1].as_str()) {
            break;
        }
        for (phrase, heading) in HEADING_WORDS {
            let Some(mut end) = phrase_end(&ws.words, head, phrase) else {
                continue;
            };
            while !ws.closes_at(end)
                && ws
                    .words
                    .get(end)
                    .is_some_and(|w| HEADING_SUFFIX.contains(&w.as_str()))
            {
                end += 1;
            }
            if ws.closes_at(end) {
                return Some((*heading, end));
            }
        }
    }
    None
}

fn phrase_in(ws: &Words<'_>, at: usize, phrases: &[&[&str]], must_close: bool) -> Option<usize> {
    phrases.iter().find_map(|p| {
        let end = phrase_end(&ws.words, at, p)?;
        (!must_close || ws.closes_at(end)).then_some(end)
    })
}

/// Removes fillers from a run of chunks, keeping the other words verbatim.
fn strip_fillers(chunks: &[Chunk<'_>]) -> String {
    let mut kept: Vec<String> = Vec::with_capacity(chunks.len());
    let mut i = 0;
    while i < chunks.len() {
        let c = &chunks[i];
        let words_here = words(c.raw);
        // "ER" in capitals is the emergency room, not the hesitation "er".
        let letters: Vec<char> = c.raw.chars().filter(|ch| ch.is_alphabetic()).collect();
        let acronym = letters.len() >= 2 && letters.iter().all(|ch| ch.is_uppercase());
        let is_filler =
            words_here.len() == 1 && FILLERS.contains(&words_here[0].as_str()) && !acronym;
        let prev_comma = kept.last().is_some_and(|k| k.ends_with(','));
        let is_you_know = c.core == "you"
            && chunks
                .get(i + 1)
                .is_some_and(|n| n.core == "know" && (n.closes_clause() || i + 2 == chunks.len()))
            && (kept.is_empty() || prev_comma);
        let span = if is_filler {
            1
        } else if is_you_know {
            2
        } else {
            0
        };
        if span == 0 {
            kept.push(c.raw.to_string());
            i += 1;
            continue;
        }
        let last = &chunks[i + span - 1];
        let final_punct: String = last
            .trailing
            .chars()
            .filter(|ch| matches!(ch, '.' | '?' | '!'))
            .take(1)
            .collect();
        let ends_sentence = i + span == chunks.len();
        if let Some(prev) = kept.last_mut() {
            if prev.ends_with(',') && (last.trailing.contains(',') || ends_sentence) {
                prev.pop();
            }
            if ends_sentence && !final_punct.is_empty() {
                let trimmed = prev.trim_end_matches([',', ';', ':']).to_string();
                *prev = trimmed + &final_punct;
            }
        }
        i += span;
    }
    kept.join(" ")
}

fn only_empty_words(ws: &[String]) -> bool {
    ws.iter().all(|w| EMPTY_WORDS.contains(&w.as_str()))
}

/// "Let me think.", "Okay.", "She was going to...": nothing for the note.
fn is_filler_sentence(content: &str, said: &str) -> bool {
    let ws = words(content);
    if ws.is_empty() || only_empty_words(&ws) {
        return true;
    }
    let core: Vec<String> = ws
        .iter()
        .skip_while(|w| EMPTY_WORDS.contains(&w.as_str()))
        .cloned()
        .collect();
    if META_SENTENCES
        .iter()
        .any(|m| m.len() == core.len() && m.iter().zip(&core).all(|(a, b)| a == b))
    {
        return true;
    }
    let trimmed = content.trim_end_matches(['"', '”', '\'', ')']);
    let trails_off = trimmed.ends_with("...")
        || trimmed.ends_with('…')
        || trimmed.ends_with('-')
        || trimmed.ends_with('—')
        || trimmed.ends_with('–');
    // The last word as written, so "CBT-I." does not end on a dangling "I".
    let last_chunk = super::words::chunks(content)
        .last()
        .map(|c| c.core.clone())
        .unwrap_or_default();
    let last = if last_chunk.contains(['-', '/', '.']) {
        ""
    } else {
        ws.last().map(String::as_str).unwrap_or("")
    };
    let first = ws.first().map(String::as_str).unwrap_or("");
    if EMPTY_WORDS.contains(&first) && EMPTY_WORDS.contains(&last) && ws.len() <= 5 {
        return true;
    }
    // "He also, um, no.": a start taken back.
    let said = said.trim_end_matches(['.', '!', '?', ' ']).to_lowercase();
    if last == "no" && ws.len() <= 4 && said.ends_with(", no") {
        return true;
    }
    // "I, um, I'm trying to.": the clinician breaking off.
    if first == "i" && last == "to" && ws.len() <= 6 {
        return true;
    }
    (trails_off && (DANGLING_AFTER_TRAIL.contains(&last) || ws.len() <= 2))
        || DANGLING_ALWAYS.contains(&last)
}

/// Reads one sentence for headings, commands, private markers and fillers.
pub fn read(sentence: &Sentence) -> Utterance {
    let ws = Words::new(&sentence.text);
    let mut heading = None;
    let mut command = None;
    let mut at = skip_discourse(&ws, 0);
    let mut consumed = false;
    loop {
        if command.is_none() {
            // Discourse words can also open a heading ("Next steps."), so try from the very start too.
            let found =
                heading_at(&ws, at).or_else(|| (!consumed).then(|| heading_at(&ws, 0)).flatten());
            if let Some((h, end)) = found.filter(|(h, _)| heading.is_none_or(|x| x == *h)) {
                heading = Some(h);
                consumed = true;
                at = skip_discourse(&ws, end);
                continue;
            }
        }
        if command.is_none() {
            let found = [
                (Command::ScratchThat, SCRATCH, true),
                (Command::EndPrivate, END_PRIVATE, true),
                (Command::PrivateMarker, PRIVATE_MARKERS, false),
                (Command::PrivateMarker, PRIVATE_MARKERS_CLOSED, true),
                (Command::NewParagraph, NEW_PARAGRAPH, true),
            ]
            .iter()
            .find_map(|(cmd, phrases, must_close)| {
                phrase_in(&ws, at, phrases, *must_close).map(|end| (*cmd, end))
            });
            if let Some((cmd, end)) = found {
                command = Some(cmd);
                consumed = true;
                at = skip_discourse(&ws, end);
                continue;
            }
            if let Some(end) = phrase_in(&ws, at, END_OF_DICTATION, false) {
                let rest = &ws.words[end..];
                if rest
                    .iter()
                    .all(|w| END_TRAILER.contains(&w.as_str()) || w.len() == 1)
                {
                    command = Some(Command::EndOfDictation);
                    consumed = true;
                    at = ws.words.len();
                }
            } else if let Some(start) = trailing_end_of_dictation(&ws, at) {
                // "Uh, okay, I have to run, end of dictation.": a short aside, then the command.
                command = Some(Command::EndOfDictation);
                consumed = true;
                at = ws.words.len();
                let _ = start;
            }
        }
        break;
    }
    if !consumed {
        at = skip_interjections(&ws);
    }

    let rest_chunks: &[Chunk<'_>] = match ws.chunk_at(at) {
        Some(c) => &ws.chunks[c..],
        None => &[],
    };
    let mut retracts_itself = false;
    let mut kept_chunks: Vec<Chunk<'_>> = rest_chunks.to_vec();
    let kept_words: Vec<String> = kept_chunks.iter().flat_map(|c| words(c.raw)).collect();
    if kept_words.len() > 2 && command.is_none() {
        let n = kept_words.len();
        let tail = &kept_words[n - 2..];
        if SCRATCH
            .iter()
            .any(|p| p.len() == 2 && p.iter().zip(tail).all(|(a, b)| a == b))
        {
            retracts_itself = true;
            let cut = kept_chunks.len().saturating_sub(2);
            kept_chunks.truncate(cut);
        }
    }
    let stripped = strip_fillers(&kept_chunks);
    let stripped = stripped.trim_start_matches([',', ':', ';', '-', '—', '–', '.', ' ']);
    let content_words = words(stripped);
    let leftover = consumed
        && content_words
            .iter()
            .all(|w| EMPTY_WORDS.contains(&w.as_str()) || AFTER_COMMAND.contains(&w.as_str()));
    let content = (!(content_words.is_empty() || leftover)).then(|| capitalize_first(stripped));
    let filler = heading.is_none()
        && command.is_none()
        && !retracts_itself
        && content
            .as_deref()
            .is_none_or(|c| is_filler_sentence(c, &sentence.text));
    let fragment = filler && !only_empty_words(&content_words);
    Utterance {
        sentence: sentence.clone(),
        heading,
        command,
        retracts_itself,
        content: if filler { None } else { content },
        filler,
        fragment,
    }
}

/// Reads every sentence and obeys the commands in order: headings set the section, "scratch that"
/// takes back the last note sentence, "new paragraph" marks the next one, "end of dictation" ends the
/// note (what is said after it is kept in the transcript only), and a private marker makes what
/// follows private up to the next heading, pause or "back on the record".
pub fn resolve(sentences: &[Sentence]) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::with_capacity(sentences.len());
    // Lines "scratch that" may take back: note sentences and abandoned fragments, not commands.
    let mut retractable: Vec<bool> = Vec::with_capacity(sentences.len());
    let mut heading: Option<Heading> = None;
    let mut private_open = false;
    let mut paragraph_pending = false;
    let mut ended = false;
    for sentence in sentences {
        let said = sentence.text.clone();
        if ended {
            retractable.push(false);
            lines.push(Line {
                sentence: sentence.clone(),
                text: said,
                fate: Fate::Excluded(Omission::AfterEnd),
            });
            continue;
        }
        let u = read(sentence);
        if sentence.pause_before {
            private_open = false;
        }
        if sentence.paragraph_before {
            paragraph_pending = true;
        }
        if let Some(h) = u.heading {
            heading = Some(h);
            private_open = false;
        }
        let mut private_here = false;
        match u.command {
            Some(Command::ScratchThat) => {
                if let Some(i) = retractable.iter().rposition(|r| *r) {
                    retractable[i] = false;
                    lines[i].text = lines[i].sentence.text.clone();
                    lines[i].fate = Fate::Excluded(Omission::Retracted);
                }
            }
            Some(Command::NewParagraph) => paragraph_pending = true,
            Some(Command::EndOfDictation) => ended = true,
            Some(Command::PrivateMarker) => {
                private_open = true;
                private_here = true;
            }
            Some(Command::EndPrivate) => private_open = false,
            None => {}
        }
        retractable.push(
            (u.filler && u.fragment) || (!u.filler && u.content.is_some() && !u.retracts_itself),
        );
        if u.filler {
            lines.push(Line {
                sentence: sentence.clone(),
                text: said,
                fate: Fate::Excluded(Omission::Filler),
            });
            continue;
        }
        match u.content {
            Some(_) if u.retracts_itself => lines.push(Line {
                sentence: sentence.clone(),
                text: said,
                fate: Fate::Excluded(Omission::Retracted),
            }),
            Some(content) => {
                let private = if private_here {
                    Private::Marked
                } else if private_open {
                    Private::Following
                } else {
                    Private::No
                };
                lines.push(Line {
                    sentence: sentence.clone(),
                    text: content,
                    fate: Fate::Note {
                        heading,
                        heading_here: u.heading.is_some(),
                        private,
                        paragraph_before: std::mem::take(&mut paragraph_pending),
                    },
                });
            }
            None => lines.push(Line {
                sentence: sentence.clone(),
                text: said,
                fate: Fate::Excluded(Omission::Command),
            }),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Sentence {
        Sentence {
            text: text.to_string(),
            start_s: None,
            end_s: None,
            pause_before: false,
            paragraph_before: false,
        }
    }

    fn heading_of(text: &str) -> Option<Heading> {
        read(&s(text)).heading
    }

    fn content_of(text: &str) -> Option<String> {
        read(&s(text)).content
    }

    #[test]
    fn bare_headings_with_any_punctuation() {
        for (t, h) in [
            ("Subjective.", Heading::Subjective),
            ("Objective:", Heading::Objective),
            ("Objective", Heading::Objective),
            ("Assessment.", Heading::Assessment),
            ("Plan.", Heading::Plan),
            ("Data.", Heading::Data),
            ("Session info.", Heading::SessionInfo),
            ("Session information:", Heading::SessionInfo),
            ("Assessment and plan.", Heading::AssessmentAndPlan),
            ("Interventions.", Heading::Interventions),
        ] {
            let u = read(&s(t));
            assert_eq!(u.heading, Some(h), "{t}");
            assert_eq!(u.content, None, "{t}");
            assert!(!u.filler, "{t}");
        }
    }

    #[test]
    fn natural_heading_variants() {
        for (t, h) in [
            ("Okay, objective.", Heading::Objective),
            ("Okay, objective,", Heading::Objective),
            ("For the plan,", Heading::Plan),
            ("Moving on to assessment.", Heading::Assessment),
            ("Moving on to the assessment section.", Heading::Assessment),
            ("Assessment section.", Heading::Assessment),
            ("Um, so, subjective.", Heading::Subjective),
            ("In terms of the plan:", Heading::Plan),
            ("Plan-wise,", Heading::Plan),
            ("And finally, the plan.", Heading::Plan),
            ("Now for objective.", Heading::Objective),
            ("Let's do the assessment.", Heading::Assessment),
            ("Starting with subjective.", Heading::Subjective),
            ("All right, data.", Heading::Data),
            ("Oh, back to subjective for a second.", Heading::Subjective),
            ("Objective findings.", Heading::Objective),
            ("Clinical impression.", Heading::Assessment),
            ("Next steps.", Heading::Plan),
            ("Mental status:", Heading::Objective),
            ("Objective data.", Heading::Objective),
            ("Assessment/plan.", Heading::AssessmentAndPlan),
            ("Plan going forward:", Heading::Plan),
            ("As far as the plan goes,", Heading::Plan),
            ("Last but not least, the plan.", Heading::Plan),
            ("Okay, objective again.", Heading::Objective),
        ] {
            assert_eq!(heading_of(t), Some(h), "{t}");
            assert_eq!(content_of(t), None, "{t}");
        }
    }

    #[test]
    fn heading_followed_by_content_keeps_the_content_verbatim() {
        let u = read(&s(
            "Okay, objective: she arrived on time, casually dressed.",
        ));
        assert_eq!(u.heading, Some(Heading::Objective));
        assert_eq!(
            u.content.as_deref(),
            Some("She arrived on time, casually dressed.")
        );
        let u = read(&s("For the plan, we'll continue weekly CBT."));
        assert_eq!(u.heading, Some(Heading::Plan));
        assert_eq!(u.content.as_deref(), Some("We'll continue weekly CBT."));
        let u = read(&s("Subjective — client reports a hard week."));
        assert_eq!(u.heading, Some(Heading::Subjective));
        assert_eq!(u.content.as_deref(), Some("Client reports a hard week."));
    }

    #[test]
    fn heading_words_inside_content_are_not_headings() {
        for t in [
            "She has a plan to kill herself.",
            "Her subjective sense of the week was better.",
            "Plan is to continue weekly sessions.",
            "The plan we made last week worked.",
            "Data from her sleep log shows six hours.",
            "Assessment of risk was completed.",
            "Objectively she looked more rested.",
            "She denies any plan or intent.",
        ] {
            let u = read(&s(t));
            assert_eq!(u.heading, None, "{t}");
            assert_eq!(u.content.as_deref(), Some(t), "{t}");
        }
    }

    #[test]
    fn scratch_that_alone_and_with_a_correction() {
        let u = read(&s("Scratch that."));
        assert_eq!(u.command, Some(Command::ScratchThat));
        assert_eq!(u.content, None);
        let u = read(&s("Actually, delete that."));
        assert_eq!(u.command, Some(Command::ScratchThat));
        let u = read(&s(
            "Scratch that, she was tearful when discussing her mother.",
        ));
        assert_eq!(u.command, Some(Command::ScratchThat));
        assert_eq!(
            u.content.as_deref(),
            Some("She was tearful when discussing her mother.")
        );
        let u = read(&s("She was tearful throughout, scratch that."));
        assert!(u.retracts_itself);
        assert_eq!(u.command, None);
    }

    #[test]
    fn paragraph_end_and_private_commands() {
        assert_eq!(
            read(&s("New paragraph.")).command,
            Some(Command::NewParagraph)
        );
        for t in [
            "End of dictation.",
            "End of note.",
            "Okay, end of dictation.",
            "That's the end of the note.",
            "End of note for J.D.",
            "Uh, okay, I have to run, end of dictation.",
        ] {
            assert_eq!(read(&s(t)).command, Some(Command::EndOfDictation), "{t}");
        }
        assert_eq!(read(&s("The end of the note was rushed.")).command, None);
        let u = read(&s(
            "For my notes, I noticed I felt protective of her again.",
        ));
        assert_eq!(u.command, Some(Command::PrivateMarker));
        assert_eq!(
            u.content.as_deref(),
            Some("I noticed I felt protective of her again.")
        );
        for t in [
            "Off the record.",
            "Private note:",
            "Note to self, ask about the ex.",
        ] {
            assert_eq!(read(&s(t)).command, Some(Command::PrivateMarker), "{t}");
        }
        assert_eq!(read(&s("Private practice is busy.")).command, None);
        assert_eq!(
            read(&s("Back on the record.")).command,
            Some(Command::EndPrivate)
        );
    }

    #[test]
    fn fillers_are_removed_and_the_rest_kept() {
        assert_eq!(
            content_of("Um, she arrived on time.").as_deref(),
            Some("She arrived on time.")
        );
        assert_eq!(
            content_of("She was, uh, tearful when, you know, her mother came up.").as_deref(),
            Some("She was tearful when her mother came up.")
        );
        assert_eq!(
            content_of("She slept better, um.").as_deref(),
            Some("She slept better.")
        );
        assert_eq!(
            content_of("Should I have pushed harder on the ER?").as_deref(),
            Some("Should I have pushed harder on the ER?")
        );
        assert_eq!(
            content_of("You know, she knows the skills.").as_deref(),
            Some("She knows the skills.")
        );
        assert_eq!(
            content_of("She said you know nothing.").as_deref(),
            Some("She said you know nothing.")
        );
    }

    #[test]
    fn filler_only_and_abandoned_sentences() {
        for t in [
            "Um.",
            "Uh, okay.",
            "Let me think.",
            "So, um, let's see.",
            "What else?",
            "She was going to...",
            "And then the, um...",
            "Her mother and the.",
            "And the, um, the thing with his.",
            "And the, um, okay.",
            "Okay, um, recording.",
            "Okay, uh, group note.",
            "And then we.",
            "He also, um, no.",
            "I, um, I'm trying to.",
            "Okay, um, let me get this down before the next one.",
        ] {
            let u = read(&s(t));
            assert!(u.filler, "{t}");
            assert_eq!(u.content, None, "{t}");
        }
        for t in [
            "She said she was fine...",
            "She has nobody to talk to.",
            "He was able to ask it what it's afraid of.",
            "Okay.",
            "Weekly CBT for anxiety and CBT-I.",
        ] {
            let u = read(&s(t));
            assert_eq!(u.filler, t == "Okay.", "{t}");
        }
    }

    fn fates(texts: &[&str]) -> Vec<Line> {
        let sentences: Vec<Sentence> = texts.iter().map(|t| s(t)).collect();
        resolve(&sentences)
    }

    #[test]
    fn resolve_applies_headings_scratch_and_paragraphs() {
        let lines = fates(&[
            "Subjective.",
            "She slept better.",
            "She was tearful throughout.",
            "Scratch that.",
            "New paragraph.",
            "She was tearful when discussing her mother.",
            "Plan.",
            "Weekly sessions.",
        ]);
        assert_eq!(lines.len(), 8);
        assert_eq!(lines[0].fate, Fate::Excluded(Omission::Command));
        assert!(matches!(
            lines[1].fate,
            Fate::Note {
                heading: Some(Heading::Subjective),
                paragraph_before: false,
                ..
            }
        ));
        assert_eq!(lines[2].fate, Fate::Excluded(Omission::Retracted));
        assert_eq!(lines[3].fate, Fate::Excluded(Omission::Command));
        assert_eq!(lines[4].fate, Fate::Excluded(Omission::Command));
        assert!(matches!(
            lines[5].fate,
            Fate::Note {
                paragraph_before: true,
                ..
            }
        ));
        assert!(matches!(
            lines[7].fate,
            Fate::Note {
                heading: Some(Heading::Plan),
                ..
            }
        ));
    }

    #[test]
    fn resolve_private_passage_ends_at_heading_or_pause() {
        let mut sentences: Vec<Sentence> = [
            "For my notes, I felt protective.",
            "Bring that to supervision.",
            "Assessment.",
            "Progress is evident.",
            "Off the record.",
            "I was bored.",
            "She left early.",
        ]
        .iter()
        .map(|t| s(t))
        .collect();
        sentences[6].pause_before = true;
        let lines = resolve(&sentences);
        let private: Vec<Option<Private>> = lines
            .iter()
            .map(|l| match l.fate {
                Fate::Note { private, .. } => Some(private),
                Fate::Excluded(_) => None,
            })
            .collect();
        assert_eq!(
            private,
            [
                Some(Private::Marked),
                Some(Private::Following),
                None,
                Some(Private::No),
                None,
                Some(Private::Following),
                Some(Private::No),
            ]
        );
    }

    #[test]
    fn resolve_ends_at_end_of_dictation() {
        let lines = fates(&[
            "She slept.",
            "End of dictation.",
            "Oh and she needs a refill.",
        ]);
        assert_eq!(lines[1].fate, Fate::Excluded(Omission::Command));
        assert_eq!(lines[2].fate, Fate::Excluded(Omission::AfterEnd));
        assert_eq!(lines[2].text, "Oh and she needs a refill.");
    }

    #[test]
    fn repeated_heading_and_trailing_apology_leave_no_content() {
        let u = read(&s("Plan, uh, plan."));
        assert_eq!(u.heading, Some(Heading::Plan));
        assert_eq!(u.content, None);
        let u = read(&s("Oh, data, sorry."));
        assert_eq!(u.heading, Some(Heading::Data));
        assert_eq!(u.content, None);
    }

    #[test]
    fn a_heading_with_a_shrug_is_still_only_a_heading() {
        let u = read(&s("Subjective, I guess."));
        assert_eq!(u.heading, Some(Heading::Subjective));
        assert_eq!(u.content, None);
        assert!(read(&s("Um, so, where do I start.")).filler);
    }

    #[test]
    fn scratch_that_takes_back_an_abandoned_fragment_but_not_a_filler() {
        let lines = fates(&[
            "We looked at pictures of him.",
            "She showed me the video from his.",
            "Delete that.",
        ]);
        assert!(matches!(lines[0].fate, Fate::Note { .. }));
        assert_eq!(lines[1].fate, Fate::Excluded(Omission::Retracted));
        let lines = fates(&["She was tearful.", "Um.", "Scratch that."]);
        assert_eq!(lines[0].fate, Fate::Excluded(Omission::Retracted));
        assert_eq!(lines[1].fate, Fate::Excluded(Omission::Filler));
    }

    #[test]
    fn scratch_that_with_nothing_before_is_harmless() {
        let lines = fates(&["Scratch that.", "She slept."]);
        assert_eq!(lines[0].fate, Fate::Excluded(Omission::Command));
        assert!(matches!(lines[1].fate, Fate::Note { .. }));
    }
}

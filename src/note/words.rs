//! Word-level helpers shared by the note stages: verbatim chunks, normalised words and spoken numbers.

/// A whitespace-delimited piece of a sentence as dictated ("Okay," "PHQ-9," "“I").
///
/// Stages that strip words (headings, fillers) work on chunks so the words they keep stay verbatim,
/// punctuation included.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk<'a> {
    /// The chunk exactly as in the text.
    pub raw: &'a str,
    /// Lowercased, without the punctuation around it ("objective" for "Objective:").
    pub core: String,
    /// The punctuation after the core ("," ":" "." "..." "?\"").
    pub trailing: &'a str,
}

impl Chunk<'_> {
    /// True when the chunk ends a clause: a comma, colon, semicolon, dash, period, ... follows the word.
    pub fn closes_clause(&self) -> bool {
        self.trailing
            .chars()
            .any(|c| matches!(c, ',' | ':' | ';' | '.' | '?' | '!' | '—' | '–' | '-' | '…'))
    }
}

fn is_edge_punct(c: char) -> bool {
    !c.is_alphanumeric()
}

/// Splits text into chunks on whitespace.
pub fn chunks(text: &str) -> Vec<Chunk<'_>> {
    text.split_whitespace()
        .map(|raw| {
            let inner = raw.trim_end_matches(is_edge_punct);
            let trailing = &raw[inner.len()..];
            let core = inner.trim_start_matches(is_edge_punct).to_lowercase();
            Chunk {
                raw,
                core,
                trailing,
            }
        })
        .collect()
}

/// A sentence as chunks and as words, with the chunk of each word, so word positions map back to the
/// verbatim text.
pub struct Tokens<'a> {
    pub chunks: Vec<Chunk<'a>>,
    /// All words, and for each the chunk it came from.
    pub words: Vec<String>,
    pub chunk_of: Vec<usize>,
}

impl<'a> Tokens<'a> {
    pub fn new(text: &'a str) -> Self {
        let chunks = chunks(text);
        let mut all = Vec::new();
        let mut chunk_of = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            for w in words(c.raw) {
                all.push(w);
                chunk_of.push(i);
            }
        }
        Tokens {
            chunks,
            words: all,
            chunk_of,
        }
    }

    /// True when word `end - 1` is the last word of its chunk and that chunk closes a clause, or it is
    /// the last word of the sentence.
    pub fn closes_at(&self, end: usize) -> bool {
        if end == 0 || end > self.words.len() {
            return false;
        }
        if end == self.words.len() {
            return true;
        }
        let chunk = self.chunk_of[end - 1];
        let next = self.chunk_of[end];
        next != chunk && self.chunks[chunk..next].iter().any(Chunk::closes_clause)
    }

    /// The chunk index where the words from `word` on begin; `None` past the end.
    pub fn chunk_at(&self, word: usize) -> Option<usize> {
        self.chunk_of.get(word).copied()
    }
}

/// Joins chunks back into text with single spaces.
pub fn join_chunks(chunks: &[Chunk<'_>]) -> String {
    chunks.iter().map(|c| c.raw).collect::<Vec<_>>().join(" ")
}

/// Lowercased alphanumeric words; hyphens, slashes and periods separate words ("PHQ-9" -> "phq", "9";
/// "SI/HI" -> "si", "hi"), apostrophes inside words are kept ("client's", "we'll"), curly ones made straight.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if (c == '\'' || c == '’')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic())
        {
            current.push('\'');
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Words with a possessive or contraction ending removed, for cue matching ("client's" -> "client").
pub fn base_word(word: &str) -> &str {
    word.strip_suffix("'s").unwrap_or(word)
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const UNIT_ORDINALS: [&str; 20] = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];
const TENS_ORDINALS: [&str; 8] = [
    "twentieth",
    "thirtieth",
    "fortieth",
    "fiftieth",
    "sixtieth",
    "seventieth",
    "eightieth",
    "ninetieth",
];

fn unit_value(word: &str) -> Option<u32> {
    UNITS.iter().position(|u| *u == word).map(|p| p as u32)
}

fn tens_value(word: &str) -> Option<u32> {
    TENS.iter()
        .position(|t| *t == word)
        .map(|p| 20 + 10 * p as u32)
}

fn unit_ordinal_value(word: &str) -> Option<u32> {
    UNIT_ORDINALS
        .iter()
        .position(|u| *u == word)
        .map(|p| p as u32)
}

fn tens_ordinal_value(word: &str) -> Option<u32> {
    TENS_ORDINALS
        .iter()
        .position(|t| *t == word)
        .map(|p| 20 + 10 * p as u32)
}

/// A digit string ("14", "6th", "21st") as a number; ordinals suffixes accepted.
fn digit_value(word: &str) -> Option<(u32, bool)> {
    let digits: String = word.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 6 {
        return None;
    }
    let rest = &word[digits.len()..];
    let ordinal = match rest {
        "" => false,
        "st" | "nd" | "rd" | "th" => true,
        _ => return None,
    };
    digits.parse().ok().map(|v| (v, ordinal))
}

/// A number spoken or written at `words[i]`: "14", "fourteen", "twenty one" (from "twenty-one"),
/// "sixth", "21st". Returns the value, how many words it used, and whether it was an ordinal.
pub fn number_at(words: &[String], i: usize) -> Option<(u32, usize, bool)> {
    let word = words.get(i)?.as_str();
    if let Some((v, ordinal)) = digit_value(word) {
        return Some((v, 1, ordinal));
    }
    if let Some(v) = unit_value(word) {
        return Some((v, 1, false));
    }
    if let Some(v) = unit_ordinal_value(word) {
        return Some((v, 1, true));
    }
    if let Some(v) = tens_ordinal_value(word) {
        return Some((v, 1, true));
    }
    if let Some(tens) = tens_value(word) {
        if let Some(next) = words.get(i + 1) {
            if let Some(u) = unit_value(next).filter(|u| (1..10).contains(u)) {
                return Some((tens + u, 2, false));
            }
            if let Some(u) = unit_ordinal_value(next).filter(|u| (1..10).contains(u)) {
                return Some((tens + u, 2, true));
            }
        }
        return Some((tens, 1, false));
    }
    None
}

/// Every number in a word list with its position: (index, value, words used, ordinal).
pub fn numbers(words: &[String]) -> Vec<(usize, u32, usize, bool)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Some((v, used, ordinal)) = number_at(words, i) {
            out.push((i, v, used, ordinal));
            i += used;
        } else {
            i += 1;
        }
    }
    out
}

/// One word of a cue phrase: exact, or a prefix when written with a trailing "*" ("report*").
#[derive(Clone, Debug, PartialEq)]
pub enum WordPattern {
    Exact(String),
    Prefix(String),
}

impl WordPattern {
    pub fn parse(word: &str) -> Self {
        match word.strip_suffix('*') {
            Some(prefix) => WordPattern::Prefix(prefix.to_string()),
            None => WordPattern::Exact(word.to_string()),
        }
    }

    pub fn matches(&self, word: &str) -> bool {
        match self {
            WordPattern::Exact(w) => w == word,
            WordPattern::Prefix(p) => word.starts_with(p.as_str()),
        }
    }
}

/// A cue phrase as word patterns ("told me", "self-harm", "report*", "'ll").
#[derive(Clone, Debug, PartialEq)]
pub struct Phrase(Vec<WordPattern>);

impl Phrase {
    /// Splits a phrase the way sentences are split into words, keeping a trailing "*". A phrase that
    /// starts with an apostrophe ("'ll") matches the end of any word.
    pub fn parse(phrase: &str) -> Self {
        if phrase.starts_with('\'') {
            return Phrase(vec![WordPattern::Exact(phrase.to_string())]);
        }
        let mut ws = words(phrase);
        if phrase.ends_with('*')
            && let Some(last) = ws.last_mut()
        {
            last.push('*');
        }
        Phrase(ws.iter().map(|w| WordPattern::parse(w)).collect())
    }

    /// Where the phrase first occurs in `ws`: (start, length).
    pub fn find(&self, ws: &[String]) -> Option<(usize, usize)> {
        let pats = &self.0;
        if let [WordPattern::Exact(p)] = pats.as_slice()
            && p.starts_with('\'')
        {
            return ws
                .iter()
                .position(|w| w.ends_with(p.as_str()))
                .map(|i| (i, 1));
        }
        if pats.is_empty() || ws.len() < pats.len() {
            return None;
        }
        (0..=ws.len() - pats.len())
            .find(|&i| pats.iter().zip(&ws[i..]).all(|(p, w)| p.matches(w)))
            .map(|i| (i, pats.len()))
    }

    pub fn is_in(&self, ws: &[String]) -> bool {
        self.find(ws).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses a list of phrases.
pub fn phrases(list: &[String]) -> Vec<Phrase> {
    list.iter()
        .map(|p| Phrase::parse(p))
        .filter(|p| !p.is_empty())
        .collect()
}

/// True when `needle` occurs in `haystack` as consecutive words.
pub fn contains_phrase(haystack: &[String], needle: &[&str]) -> bool {
    find_phrase(haystack, needle, 0).is_some()
}

/// Position of the first occurrence of `needle` in `haystack` at or after `from`.
pub fn find_phrase(haystack: &[String], needle: &[&str], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len())
        .find(|&i| needle.iter().zip(&haystack[i..]).all(|(n, h)| n == h))
}

/// Uppercases the first letter of a sentence whose opening words were stripped ("she arrived" ->
/// "She arrived"); the words themselves are unchanged.
pub fn capitalize_first(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for c in text.chars() {
        if !done && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
            done = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<String> {
        words(text)
    }

    #[test]
    fn words_split_on_hyphens_slashes_and_keep_apostrophes() {
        assert_eq!(w("PHQ-9 was 14."), ["phq", "9", "was", "14"]);
        assert_eq!(w("Denies SI/HI."), ["denies", "si", "hi"]);
        assert_eq!(
            w("The client's mood; we'll see"),
            ["the", "client's", "mood", "we'll", "see"]
        );
        assert_eq!(w("She said, “I can’t.”"), ["she", "said", "i", "can't"]);
        assert_eq!(w("J.D."), ["j", "d"]);
    }

    #[test]
    fn chunks_keep_raw_text_and_split_punctuation() {
        let c = chunks("Okay, objective: she \"arrived\"...");
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].core, "okay");
        assert_eq!(c[0].trailing, ",");
        assert!(c[0].closes_clause());
        assert_eq!(c[1].core, "objective");
        assert_eq!(c[1].trailing, ":");
        assert!(!c[2].closes_clause());
        assert_eq!(c[3].core, "arrived");
        assert_eq!(c[3].trailing, "\"...");
        assert_eq!(join_chunks(&c[2..]), "she \"arrived\"...");
    }

    #[test]
    fn spoken_and_written_numbers() {
        let ws = w("fourteen twenty-one 38 sixth 21st twenty first ninety nine zero");
        let found: Vec<(u32, bool)> = numbers(&ws).iter().map(|n| (n.1, n.3)).collect();
        assert_eq!(
            found,
            [
                (14, false),
                (21, false),
                (38, false),
                (6, true),
                (21, true),
                (21, true),
                (99, false),
                (0, false)
            ]
        );
    }

    #[test]
    fn non_numbers_are_not_numbers() {
        assert!(number_at(&w("phq"), 0).is_none());
        assert!(number_at(&w("9a"), 0).is_none());
        assert!(number_at(&w("someone"), 0).is_none());
    }

    #[test]
    fn phrases_are_found_on_word_boundaries() {
        let ws = w("she has a plan to kill herself");
        assert!(contains_phrase(&ws, &["a", "plan"]));
        assert!(!contains_phrase(&ws, &["plan", "kill"]));
        assert_eq!(find_phrase(&ws, &["to"], 0), Some(4));
        assert_eq!(find_phrase(&ws, &["she"], 1), None);
    }

    #[test]
    fn phrases_with_wildcards_and_contractions() {
        let ws = w("She reported that we'll meet; self-harm denied.");
        assert_eq!(Phrase::parse("report*").find(&ws), Some((1, 1)));
        assert!(Phrase::parse("'ll").is_in(&ws));
        assert_eq!(Phrase::parse("self-harm").find(&ws), Some((5, 2)));
        assert!(!Phrase::parse("self harm denied today").is_in(&ws));
        assert!(!Phrase::parse("reports").is_in(&ws));
    }

    #[test]
    fn capitalize_first_letter_only() {
        assert_eq!(
            capitalize_first("she arrived on time."),
            "She arrived on time."
        );
        assert_eq!(capitalize_first("\"i can't\""), "\"I can't\"");
        assert_eq!(capitalize_first("14 minutes"), "14 minutes");
    }
}

//! Scoring a transcript against the script that was spoken: word error rate and clinical-term recall.
//!
//! Shared by the integration tests and the benchmark (`examples/score.rs`). Both sides are normalised
//! the same way first: lowercase, punctuation dropped, "PHQ-9"/"PHQ 9"/"phq9" alike, spelled-out
//! numbers as digits ("fourteen" and "14" agree), "S.I." and "SI" alike.

/// Clinical terms whose recognition matters most in a progress note.
pub const CLINICAL_TERMS: &[&str] = &[
    "SI",
    "HI",
    "PHQ-9",
    "GAD-7",
    "PCL-5",
    "CBT",
    "DBT",
    "EMDR",
    "ACT",
    "PTSD",
    "sertraline",
    "fluoxetine",
    "escitalopram",
    "bupropion",
    "lithium",
    "quetiapine",
    "aripiprazole",
    "lamotrigine",
    "prazosin",
    "denies",
    "affect",
    "linear",
    "tangential",
    "euthymic",
    "dysthymic",
    "congruent",
    "constricted",
    "restricted",
];

const UNITS: &[&str] = &[
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
const TENS: &[&str] = &[
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// Words of `text`, normalised for scoring.
pub fn normalize(text: &str) -> Vec<String> {
    let mut spaced = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = if c.is_alphanumeric() || c == '\'' {
            c
        } else {
            ' '
        };
        // Split letters from digits: "phq9" -> "phq 9".
        if let Some(p) = prev
            && p.is_alphanumeric()
            && c.is_alphanumeric()
            && p.is_ascii_digit() != c.is_ascii_digit()
        {
            spaced.push(' ');
        }
        spaced.push(c);
        prev = Some(c);
    }
    let raw: Vec<String> = spaced
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    join_spelled_letters(numbers_as_digits(raw))
}

/// "s i" (from "S.I.") -> "si"; runs of two or more single letters become one word.
fn join_spelled_letters(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    let single = |w: &str| w.chars().count() == 1 && w.chars().all(char::is_alphabetic);
    for w in words.into_iter().chain(std::iter::once(String::new())) {
        if single(&w) {
            run.push(w);
            continue;
        }
        if run.len() >= 2 {
            out.push(run.concat());
        } else {
            out.append(&mut run);
        }
        run.clear();
        if !w.is_empty() {
            out.push(w);
        }
    }
    out
}

fn number_value(word: &str) -> Option<u32> {
    if let Some(i) = UNITS.iter().position(|u| *u == word) {
        return Some(i as u32);
    }
    TENS.iter()
        .position(|t| !t.is_empty() && *t == word)
        .map(|i| i as u32 * 10)
}

/// Spelled-out numbers below a thousand become digits: "one hundred" -> "100", "forty one" -> "41".
fn numbers_as_digits(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let Some(first) = number_value(&words[i]) else {
            out.push(words[i].clone());
            i += 1;
            continue;
        };
        let mut value = first;
        let mut j = i + 1;
        if j < words.len() && words[j] == "hundred" && value < 10 {
            value *= 100;
            j += 1;
            if j < words.len()
                && words[j] == "and"
                && j + 1 < words.len()
                && number_value(&words[j + 1]).is_some()
            {
                j += 1;
            }
            if let Some(v) = words.get(j).and_then(|w| number_value(w)) {
                value += v;
                j += 1;
                if v >= 20
                    && v % 10 == 0
                    && let Some(u) = words
                        .get(j)
                        .and_then(|w| number_value(w))
                        .filter(|u| *u < 10)
                {
                    value += u;
                    j += 1;
                }
            }
        } else if (20..100).contains(&value)
            && value % 10 == 0
            && let Some(u) = words
                .get(j)
                .and_then(|w| number_value(w))
                .filter(|u| (1..10).contains(u))
        {
            value += u;
            j += 1;
        }
        out.push(value.to_string());
        i = j;
    }
    out
}

/// Word-level edit distance between the normalised texts, divided by the reference's length.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let substitution = prev[j] + usize::from(rw != hw);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len() as f64
}

fn count_phrase(words: &[String], phrase: &[String]) -> usize {
    if phrase.is_empty() || words.len() < phrase.len() {
        return 0;
    }
    words.windows(phrase.len()).filter(|w| *w == phrase).count()
}

/// Clinical-term recall: of the term occurrences in the reference, how many the hypothesis has
/// (per term, at most as many as the reference). Returns (found, total, missed terms).
pub fn term_recall(
    reference: &str,
    hypothesis: &str,
    terms: &[&str],
) -> (usize, usize, Vec<String>) {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    let (mut found, mut total, mut missed) = (0, 0, Vec::new());
    for term in terms {
        let t = normalize(term);
        let want = count_phrase(&r, &t);
        let got = count_phrase(&h, &t).min(want);
        total += want;
        found += got;
        if got < want {
            missed.push(format!("{term} ({got}/{want})"));
        }
    }
    (found, total, missed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_makes_spellings_agree() {
        assert_eq!(normalize("PHQ-9 was Fourteen."), normalize("phq9 was 14"));
        assert_eq!(normalize("S.I. and H.I."), vec!["si", "and", "hi"]);
        assert_eq!(
            normalize("one hundred milligrams"),
            vec!["100", "milligrams"]
        );
        assert_eq!(normalize("thirty four year old"), vec!["34", "year", "old"]);
    }

    #[test]
    fn wer_counts_edits_per_reference_word() {
        assert_eq!(wer("the client denies SI", "the client denies SI."), 0.0);
        assert_eq!(wer("the client denies SI", "a client denies"), 0.5);
        assert_eq!(wer("", ""), 0.0);
    }

    #[test]
    fn recall_counts_each_occurrence() {
        let (found, total, missed) = term_recall(
            "PHQ-9 then PHQ-9 and CBT",
            "PHQ 9 then HQ nine and CBT",
            CLINICAL_TERMS,
        );
        assert_eq!((found, total), (2, 3));
        assert_eq!(missed, vec!["PHQ-9 (1/2)".to_string()]);
    }
}

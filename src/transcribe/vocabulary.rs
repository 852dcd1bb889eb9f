//! Spelling of clinical words Whisper nearly gets: "fluoxetin", "quesia pine" become the medication meant.
//!
//! Also two small, safe repairs of screening-tool names and of "SI": the instruments are written the
//! way clinicians write them ("PHQ 9" -> "PHQ-9"), a tool that does not exist is the one that does
//! with that number ("PHQ-7" -> "GAD-7", "GAD-9" -> "PHQ-9", "HQ-9" -> "PHQ-9"), and the letter "C" or the word "see"
//! right after "denies"/"current"/"passive"/"active" or right before "or HI"/"and HI" is "SI".
//!
//! The prompt can only name a few medications (it is limited to about 220 tokens), and Whisper often
//! writes a drug name it half-recognises with a letter wrong or split into two words. A word (or two
//! or three adjacent words) within one or two letters of a name in this list, starting with the same
//! letter and not closer to any other name, is replaced by that name. Ordinary English words are
//! never this close to these names.

/// Psychiatric medications and mental-status terms, lowercase. Names under seven letters are left
/// out: short words are too easily one letter away from an ordinary word.
const LEXICON: &[&str] = &[
    // antidepressants
    "sertraline",
    "fluoxetine",
    "paroxetine",
    "citalopram",
    "escitalopram",
    "fluvoxamine",
    "vilazodone",
    "vortioxetine",
    "venlafaxine",
    "desvenlafaxine",
    "duloxetine",
    "levomilnacipran",
    "bupropion",
    "mirtazapine",
    "trazodone",
    "nefazodone",
    "amitriptyline",
    "nortriptyline",
    "imipramine",
    "desipramine",
    "clomipramine",
    "phenelzine",
    "tranylcypromine",
    "selegiline",
    "esketamine",
    "zuranolone",
    "brexanolone",
    // mood stabilisers and anticonvulsants
    "lithium",
    "lamotrigine",
    "valproate",
    "divalproex",
    "carbamazepine",
    "oxcarbazepine",
    "topiramate",
    "gabapentin",
    "pregabalin",
    // antipsychotics
    "quetiapine",
    "aripiprazole",
    "brexpiprazole",
    "cariprazine",
    "olanzapine",
    "risperidone",
    "paliperidone",
    "ziprasidone",
    "lurasidone",
    "clozapine",
    "haloperidol",
    "asenapine",
    "iloperidone",
    "lumateperone",
    "chlorpromazine",
    "fluphenazine",
    "perphenazine",
    "benztropine",
    // anxiety, sleep
    "buspirone",
    "hydroxyzine",
    "clonazepam",
    "lorazepam",
    "alprazolam",
    "diazepam",
    "temazepam",
    "zolpidem",
    "eszopiclone",
    "ramelteon",
    "suvorexant",
    "prazosin",
    "propranolol",
    // ADHD
    "clonidine",
    "guanfacine",
    "atomoxetine",
    "methylphenidate",
    "lisdexamfetamine",
    "dextroamphetamine",
    "modafinil",
    // substance use
    "naltrexone",
    "buprenorphine",
    "acamprosate",
    "disulfiram",
    "varenicline",
    // mental status
    "euthymic",
    "dysthymic",
    "anhedonia",
    "tangential",
    "circumstantial",
    "perseverative",
    "psychomotor",
    "hypomanic",
];

/// Most words joined into one when looking for a split medication name ("quesia pine").
const MAX_JOINED_WORDS: usize = 3;

/// Replace near-miss spellings of the names in the lexicon and repair screening-tool names and
/// "SI"; everything else is left as written.
pub fn correct_clinical_spelling(text: &str) -> String {
    let medications = correct_names(text);
    let instruments = correct_instruments(&medications);
    correct_si(&instruments)
}

/// Screening tools: (letters, numbers they come with, the canonical name for each number).
const INSTRUMENTS: &[(&str, &[(&str, &str)])] = &[
    (
        "PHQ",
        &[
            ("9", "PHQ-9"),
            ("2", "PHQ-2"),
            ("15", "PHQ-15"),
            ("7", "GAD-7"),
        ],
    ),
    ("GAD", &[("7", "GAD-7"), ("2", "GAD-2"), ("9", "PHQ-9")]),
    ("PCL", &[("5", "PCL-5")]),
    // The P is often lost ("The HQ-9 score was 14"); HQ with these numbers is no other tool.
    ("HQ", &[("9", "PHQ-9"), ("2", "PHQ-2"), ("15", "PHQ-15")]),
];

/// "PHQ 9", "PHQ9", "phq-9" -> "PHQ-9"; a number with no such tool becomes the tool it belongs to.
fn correct_instruments(text: &str) -> String {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let word = tokens[i];
        let core = word.trim_end_matches(|c: char| !c.is_alphanumeric());
        let trailing = &word[core.len()..];
        let upper = core.to_ascii_uppercase();
        let mut handled = false;
        for (letters, numbers) in INSTRUMENTS {
            let Some(rest) = upper.strip_prefix(letters) else {
                continue;
            };
            let rest = rest.trim_start_matches('-');
            // The number is either in this word ("PHQ9", "PHQ-9") or the next one ("PHQ 9").
            let (number, next_trailing, used) = if !rest.is_empty() {
                (rest.to_string(), trailing, 1)
            } else if trailing.is_empty() && i + 1 < tokens.len() {
                let next = tokens[i + 1];
                let next_core = next.trim_end_matches(|c: char| !c.is_alphanumeric());
                (next_core.to_string(), &next[next_core.len()..], 2)
            } else {
                break;
            };
            if let Some((_, canonical)) = numbers.iter().find(|(n, _)| *n == number) {
                out.push(format!("{canonical}{next_trailing}"));
                i += used;
                handled = true;
            }
            break;
        }
        if !handled {
            out.push(word.to_string());
            i += 1;
        }
    }
    out.join(" ")
}

/// Whisper writes a spoken "S I" as "C" or "see" when it misses it; only in these places is it
/// certainly the abbreviation.
fn correct_si(text: &str) -> String {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let core = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_ascii_lowercase()
    };
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    for (i, word) in tokens.iter().enumerate() {
        let this = core(word);
        let trailing = &word[word.trim_end_matches(|c: char| !c.is_alphanumeric()).len()..];
        let heard_as = matches!(this.as_str(), "c" | "see" | "sea") && trailing != "?";
        let after_denial = i > 0
            && !tokens[i - 1].ends_with(['.', ',', ';', ':'])
            && matches!(
                core(tokens[i - 1]).as_str(),
                "denies" | "deny" | "denied" | "denying" | "current" | "passive" | "active"
            );
        let before_hi = tokens
            .get(i + 1)
            .is_some_and(|n| matches!(core(n).as_str(), "or" | "and"))
            && tokens.get(i + 2).is_some_and(|n| core(n) == "hi");
        if heard_as && (after_denial || before_hi) {
            out.push(format!("SI{trailing}"));
        } else {
            out.push((*word).to_string());
        }
    }
    out.join(" ")
}

fn correct_names(text: &str) -> String {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let mut replaced = false;
        for n in (1..=MAX_JOINED_WORDS.min(tokens.len() - i)).rev() {
            if let Some(fixed) = correct_run(&tokens[i..i + n]) {
                out.push(fixed);
                i += n;
                replaced = true;
                break;
            }
        }
        if !replaced {
            out.push(tokens[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

/// The corrected word for a run of tokens, if the run (joined) is a near miss of one lexicon name.
fn correct_run(run: &[&str]) -> Option<String> {
    let (lead, last) = run.split_at(run.len() - 1);
    let last = last.first()?;
    // Only the last token may carry punctuation: a comma inside a run means two separate words.
    let last_core = last.trim_end_matches(|c: char| !c.is_alphanumeric());
    let trailing = &last[last_core.len()..];
    let mut joined = String::new();
    for word in lead.iter().copied().chain(std::iter::once(last_core)) {
        if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        joined.push_str(word);
    }
    let lower = joined.to_ascii_lowercase();
    if lower.len() < 6 || LEXICON.contains(&lower.as_str()) {
        return None;
    }
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for name in LEXICON {
        if name.as_bytes()[0] != lower.as_bytes()[0] {
            continue;
        }
        let limit = if name.len() >= 9 { 2 } else { 1 };
        let d = edit_distance(&lower, name);
        if d > limit {
            continue;
        }
        match best {
            Some((_, bd)) if d > bd => {}
            Some((_, bd)) if d == bd => tie = true,
            _ => {
                best = Some((name, d));
                tie = false;
            }
        }
    }
    let (name, _) = best.filter(|_| !tie)?;
    let capitalised = joined.chars().next().is_some_and(char::is_uppercase);
    let mut word = if capitalised {
        let mut c = name.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    } else {
        name.to_string()
    };
    word.push_str(trailing);
    tracing::trace!(from = %run.join(" "), to = %word, "clinical spelling corrected");
    Some(word)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_miss_medication_names_are_corrected() {
        assert_eq!(
            correct_clinical_spelling("The husband is taking fluoxetin 20 milligrams."),
            "The husband is taking fluoxetine 20 milligrams."
        );
        assert_eq!(
            correct_clinical_spelling("and discontinued quesia pine, because of weight gain"),
            "and discontinued quetiapine, because of weight gain"
        );
        assert_eq!(correct_clinical_spelling("Lamotrigene."), "Lamotrigine.");
        assert_eq!(
            correct_clinical_spelling("mood dysthimic"),
            "mood dysthymic"
        );
    }

    #[test]
    fn ordinary_words_and_correct_names_are_left_alone() {
        let text = "Client continues sertraline and reports improved concentration, \
                    with some questions about the appointment and the pine trees outside.";
        assert_eq!(correct_clinical_spelling(text), text);
        assert_eq!(correct_clinical_spelling("PHQ-9 was 14."), "PHQ-9 was 14.");
    }

    #[test]
    fn the_nearest_of_similar_names_wins() {
        assert_eq!(edit_distance("citalopran", "escitalopram"), 3);
        assert_eq!(edit_distance("lorazepan", "lorazepam"), 1);
        assert_eq!(correct_clinical_spelling("lorazepan"), "lorazepam");
        assert_eq!(edit_distance("citalopran", "citalopram"), 1);
        assert_eq!(correct_clinical_spelling("citalopran"), "citalopram");
    }

    #[test]
    fn screening_tools_are_written_the_usual_way() {
        assert_eq!(
            correct_clinical_spelling("PHQ 9 was 14 and gad7 was 9; PCL 5, done."),
            "PHQ-9 was 14 and GAD-7 was 9; PCL-5, done."
        );
        assert_eq!(correct_clinical_spelling("PHQ-7 was 9."), "GAD-7 was 9.");
        assert_eq!(
            correct_clinical_spelling("The HQ-9 score was 14."),
            "The PHQ-9 score was 14."
        );
        assert_eq!(
            correct_clinical_spelling("HQ staff called; HQs 9 floors."),
            "HQ staff called; HQs 9 floors."
        );
        assert_eq!(
            correct_clinical_spelling("the PHQ. Then 9"),
            "the PHQ. Then 9"
        );
    }

    #[test]
    fn si_heard_as_c_is_repaired_only_beside_denial_or_hi() {
        assert_eq!(
            correct_clinical_spelling("Neither partner reports C or HI."),
            "Neither partner reports SI or HI."
        );
        assert_eq!(
            correct_clinical_spelling("She denies current C, with no plan."),
            "She denies current SI, with no plan."
        );
        let untouched = "Vitamin C and iron were discussed; see the plan. Hepatitis C or flu.";
        assert_eq!(correct_clinical_spelling(untouched), untouched);
    }

    #[test]
    fn punctuation_inside_a_run_keeps_the_words_apart() {
        assert_eq!(correct_clinical_spelling("quesia, pine"), "quesia, pine");
    }
}

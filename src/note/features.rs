//! The features the section classifier reads: cue phrases, who is speaking and with what verb, word
//! stems and pairs, and the neighbouring sentences.
//!
//! Every feature is a readable name ("cue:client_report", "sv:client+report", "w=tearful"), so a
//! decision can be explained by the features that weighed most.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::commands::Private;
use super::words::{Phrase, WordPattern, phrases as phrases_of, words};

const CUES_TOML: &str = include_str!("../../prompts/classifier-cues.toml");

#[derive(Debug, Default, Deserialize)]
struct CueFile {
    cues: std::collections::BTreeMap<String, Vec<String>>,
    subjects: std::collections::BTreeMap<String, Vec<String>>,
    verbs: std::collections::BTreeMap<String, Vec<String>>,
    process_rules: ProcessRuleFile,
}

#[derive(Debug, Default, Deserialize)]
struct ProcessRuleFile {
    openers: Vec<String>,
    anywhere: Vec<String>,
    hedges: Vec<String>,
    report_verbs: Vec<String>,
}

/// The cue lists, parsed once from the embedded TOML.
#[derive(Debug, Default)]
pub struct Cues {
    /// (cue name, phrases).
    lists: Vec<(String, Vec<Phrase>)>,
    /// Subject word -> subject class.
    subjects: HashMap<String, String>,
    /// (verb class, patterns).
    verbs: Vec<(String, Vec<WordPattern>)>,
    process_openers: Vec<(String, Phrase)>,
    process_anywhere: Vec<(String, Phrase)>,
    process_hedges: Vec<(String, Phrase)>,
    report_verbs: Vec<String>,
}

impl Cues {
    fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        let file: CueFile = toml::from_str(text)?;
        let lists = file
            .cues
            .into_iter()
            .map(|(name, phrases)| {
                let patterns = phrases_of(&phrases);
                (name, patterns)
            })
            .collect();
        let mut subjects = HashMap::new();
        for (class, ws) in file.subjects {
            for w in ws {
                subjects.insert(w, class.clone());
            }
        }
        let verbs = file
            .verbs
            .into_iter()
            .map(|(class, ws)| (class, ws.iter().map(|w| WordPattern::parse(w)).collect()))
            .collect();
        let named = |list: &[String]| -> Vec<(String, Phrase)> {
            list.iter().map(|p| (p.clone(), Phrase::parse(p))).collect()
        };
        let rules = &file.process_rules;
        Ok(Cues {
            lists,
            subjects,
            verbs,
            process_openers: named(&rules.openers),
            process_anywhere: named(&rules.anywhere),
            process_hedges: named(&rules.hedges),
            report_verbs: rules.report_verbs.clone(),
        })
    }

    /// The names of the cue lists with a phrase in these words.
    pub fn fired(&self, ws: &[String]) -> Vec<&str> {
        self.lists
            .iter()
            .filter(|(_, phrases)| phrases.iter().any(|p| p.is_in(ws)))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    fn verb_classes(&self, word: &str) -> Vec<&str> {
        self.verbs
            .iter()
            .filter(|(_, pats)| pats.iter().any(|p| p.matches(word)))
            .map(|(c, _)| c.as_str())
            .collect()
    }
}

/// Process-note wording outside any quotation: the phrase that marks the sentence as the clinician's
/// own reaction, hunch or speculation about someone else, or `None`.
pub fn process_wording(text: &str) -> Option<String> {
    let c = cues();
    // Only the clinician's own words count: cut the sentence at its first quotation mark.
    let own = text.split(['"', '“']).next().unwrap_or("");
    let ws = words(own);
    let start = ws
        .iter()
        .take(3)
        .position(|w| !LEAD_WORDS.contains(&w.as_str()))
        .unwrap_or(0);
    let rest = &ws[start.min(ws.len())..];
    for (name, phrase) in &c.process_openers {
        if phrase.find(rest).is_some_and(|(at, _)| at == 0) {
            return Some(name.clone());
        }
    }
    for (name, phrase) in &c.process_anywhere {
        if phrase.is_in(&ws) {
            return Some(name.clone());
        }
    }
    // "I think her mother ...", "His old sergeant sounds like ...": a third party judged.
    let subject_at = if rest.first().is_some_and(|w| w == "i")
        && rest
            .get(1)
            .is_some_and(|w| matches!(w.as_str(), "think" | "bet" | "suspect"))
    {
        start + 2
    } else {
        start
    };
    // Groups in the room ("the family", "the parents") are observed, not speculated about.
    let group = ws
        .get(relation_end(&ws, subject_at).saturating_sub(1))
        .is_some_and(|w| {
            matches!(
                w.as_str(),
                "family" | "parents" | "kids" | "children" | "couple"
            )
        });
    if is_third_party_subject(&ws, subject_at) && !group {
        let mut verb_at = relation_end(&ws, subject_at);
        // "Mom and stepdad seem ...", "the daughter's mom is ...".
        while ws
            .get(verb_at)
            .is_some_and(|w| w == "and" || RELATIONS.contains(&super::words::base_word(w)))
        {
            verb_at += 1;
        }
        let reported = ws
            .get(verb_at)
            .is_some_and(|v| c.report_verbs.iter().any(|r| r == v));
        let hedged = subject_at > start
            || c.process_hedges
                .iter()
                .any(|(_, p)| p.is_in(&ws[subject_at..]));
        if hedged && (!reported || subject_at > start) {
            let hedge = c
                .process_hedges
                .iter()
                .find(|(_, p)| p.is_in(&ws))
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| "i think".to_string());
            return Some(format!("speculation about someone else ({hedge})"));
        }
    }
    None
}

/// The embedded cue lists.
pub fn cues() -> &'static Cues {
    static CUES: OnceLock<Cues> = OnceLock::new();
    CUES.get_or_init(|| Cues::from_toml(CUES_TOML).unwrap_or_default())
}

/// A light suffix stripper so "reports", "reported" and "reporting" share a feature.
pub fn stem(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    let n = w.len();
    if n > 5 && w.ends_with("ing") {
        w[..n - 3].to_string()
    } else if n > 4 && w.ends_with("ied") {
        format!("{}y", &w[..n - 3])
    } else if n > 4 && w.ends_with("ed") {
        w[..n - 2].to_string()
    } else if n > 4 && w.ends_with("ies") {
        format!("{}y", &w[..n - 3])
    } else if n > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w[..n - 1].to_string()
    } else {
        w.to_string()
    }
}

/// Words at the start of a sentence that come before its subject ("And so she ...").
const LEAD_WORDS: &[&str] = &[
    "and",
    "so",
    "also",
    "then",
    "but",
    "overall",
    "today",
    "now",
    "oh",
    "um",
    "uh",
    "okay",
    "well",
    "again",
    "later",
    "finally",
    "still",
    "honestly",
    "actually",
    "plus",
    "initially",
];

/// Adverbs between a subject and its verb ("she also reported").
const ADVERBS: &[&str] = &[
    "also",
    "then",
    "still",
    "just",
    "really",
    "only",
    "never",
    "always",
    "even",
    "again",
    "actually",
    "finally",
    "initially",
    "both",
    "later",
    "eventually",
    "honestly",
    "did",
    "do",
    "does",
    "has",
    "have",
    "had",
    "was",
    "is",
    "were",
    "been",
    "not",
];

/// What one sentence looks like on its own, before its neighbours are considered.
#[derive(Clone, Debug, Default)]
pub struct SentenceFeatures {
    pub own: Vec<String>,
    /// The cue lists that fired (shared with neighbours as context).
    pub cues: Vec<String>,
    /// The subject class ("client", "clinician", "together", "third", "named", "none").
    pub subject: String,
}

/// Features of a sentence from its own words.
pub fn sentence_features(text: &str) -> SentenceFeatures {
    let cues = cues();
    let ws = words(text);
    let stems: Vec<String> = ws.iter().map(|w| stem(w)).collect();
    let mut own: Vec<String> = Vec::with_capacity(ws.len() * 2 + 16);
    own.push("bias".to_string());
    for s in &stems {
        own.push(format!("w={s}"));
    }
    for pair in stems.windows(2) {
        own.push(format!("b={}_{}", pair[0], pair[1]));
    }
    if let Some(first) = stems.first() {
        own.push(format!("first={first}"));
        if let Some(second) = stems.get(1) {
            own.push(format!("first2={first}_{second}"));
        }
    }
    let fired: Vec<String> = cues.fired(&ws).iter().map(|c| c.to_string()).collect();
    for c in &fired {
        own.push(format!("cue:{c}"));
    }
    let len_bucket = match ws.len() {
        0..=4 => "len:short",
        5..=9 => "len:medium",
        10..=19 => "len:long",
        _ => "len:very-long",
    };
    own.push(len_bucket.to_string());
    if text.contains('"') || text.contains('“') || ws.iter().any(|w| w == "quote") {
        own.push("has:quote".to_string());
    }
    if super::words::numbers(&ws).iter().any(|n| !n.3) {
        own.push("has:number".to_string());
    }
    if text.trim_end().ends_with('?') {
        own.push("has:question".to_string());
    }

    // Subject and verb near the start.
    let start = ws
        .iter()
        .take(4)
        .position(|w| !LEAD_WORDS.contains(&w.as_str()))
        .unwrap_or(0);
    let mut subject = "none".to_string();
    let mut verb_at = None;
    if let Some(first) = ws.get(start) {
        if is_third_party_subject(&ws, start) {
            subject = "third".to_string();
            verb_at = Some(relation_end(&ws, start));
        } else if let Some(class) = cues.subjects.get(first.as_str()) {
            subject = class.clone();
            verb_at = Some(start + 1);
        } else if ws.get(start + 1).is_some_and(|v| {
            cues.verb_classes(v).contains(&"report") && !cues.subjects.contains_key(v.as_str())
        }) && starts_capitalised(text, start)
        {
            subject = "named".to_string();
            verb_at = Some(start + 1);
        }
    }
    if subject == "client"
        && ws
            .get(start)
            .is_some_and(|w| matches!(w.as_str(), "her" | "his" | "their"))
    {
        // "Her mood ...", "His affect ...": a possessive, not a subject.
        subject = "client-possessive".to_string();
        verb_at = None;
    }
    own.push(format!("subj:{subject}"));
    if let Some(mut v) = verb_at {
        while ws.get(v).is_some_and(|w| ADVERBS.contains(&w.as_str())) && v < start + 4 {
            own.push(format!("aux:{subject}+{}", ws[v]));
            v += 1;
        }
        if let Some(verb) = ws.get(v) {
            own.push(format!("sv:{subject}+{}", stem(verb)));
            for class in cues.verb_classes(verb) {
                own.push(format!("svc:{subject}+{class}"));
            }
        }
    }
    SentenceFeatures {
        own,
        cues: fired,
        subject,
    }
}

const RELATIONS: &[&str] = &[
    "husband",
    "wife",
    "partner",
    "mother",
    "father",
    "mom",
    "dad",
    "stepdad",
    "stepmom",
    "stepmother",
    "stepfather",
    "grandma",
    "grandpa",
    "grandmother",
    "grandfather",
    "boss",
    "sister",
    "brother",
    "daughter",
    "son",
    "ex",
    "boyfriend",
    "girlfriend",
    "parents",
    "teacher",
    "friend",
    "roommate",
    "supervisor",
    "manager",
    "sergeant",
    "aunt",
    "uncle",
    "cousin",
    "neighbor",
    "coworker",
    "kids",
    "children",
    "family",
    "mother-in-law",
    "father-in-law",
    "in",
    "law",
    "fiance",
    "fiancee",
];

fn is_third_party_subject(ws: &[String], start: usize) -> bool {
    let first = ws.get(start).map(String::as_str).unwrap_or("");
    if RELATIONS.contains(&super::words::base_word(first)) {
        return true;
    }
    let relation = |w: &String| {
        let w = super::words::base_word(w);
        RELATIONS.contains(&w) || w.starts_with("mother") || w.starts_with("father")
    };
    // "her husband", "his old platoon sergeant": a relation within three words of the possessive.
    matches!(first, "her" | "his" | "the" | "their")
        && (start + 1..(start + 4).min(ws.len())).any(|k| relation(&ws[k]))
}

/// Index of the relation word of a third-party subject starting at `start`.
fn relation_end(ws: &[String], start: usize) -> usize {
    (start..(start + 4).min(ws.len()))
        .find(|&k| {
            let w = super::words::base_word(&ws[k]);
            RELATIONS.contains(&w) || w.starts_with("mother") || w.starts_with("father")
        })
        .map_or(start + 1, |k| k + 1)
}

fn starts_capitalised(text: &str, word_index: usize) -> bool {
    let mut count = 0;
    for token in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
        if token.is_empty() {
            continue;
        }
        if count == word_index {
            return token.chars().next().is_some_and(|c| c.is_uppercase());
        }
        count += 1;
    }
    false
}

/// One sentence handed to the classifier with what the commands said about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    pub private: Private,
}

/// Features for a run of sentences: each sentence's own, its place in the dictation, and its
/// neighbours' cues.
pub fn sequence_features(texts: &[&str], contexts: &[Context]) -> Vec<Vec<String>> {
    let singles: Vec<SentenceFeatures> = texts.iter().map(|t| sentence_features(t)).collect();
    let n = singles.len();
    (0..n)
        .map(|i| {
            let mut f = singles[i].own.clone();
            let bucket = if n <= 1 { 0 } else { (i * 5) / n };
            f.push(format!("pos:{bucket}"));
            if i == 0 {
                f.push("pos:first".to_string());
            }
            if i + 1 == n {
                f.push("pos:last".to_string());
            }
            if let Some(prev) = i.checked_sub(1).map(|p| &singles[p]) {
                for c in &prev.cues {
                    f.push(format!("prev:cue:{c}"));
                }
                f.push(format!("prev:subj:{}", prev.subject));
            } else {
                f.push("prev:none".to_string());
            }
            if let Some(next) = singles.get(i + 1) {
                for c in &next.cues {
                    f.push(format!("next:cue:{c}"));
                }
                f.push(format!("next:subj:{}", next.subject));
            } else {
                f.push("next:none".to_string());
            }
            match contexts.get(i).map(|c| c.private) {
                Some(Private::Marked) => f.push("private:marked".to_string()),
                Some(Private::Following) => f.push("private:following".to_string()),
                _ => {}
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(f: &[String], name: &str) -> bool {
        f.iter().any(|x| x == name)
    }

    #[test]
    fn the_embedded_cue_file_parses_with_every_list() {
        let c = Cues::from_toml(CUES_TOML).expect("classifier-cues.toml parses");
        assert!(c.lists.len() >= 10);
        assert!(c.lists.iter().all(|(_, p)| !p.is_empty()));
        assert_eq!(c.subjects.get("she").map(String::as_str), Some("client"));
        assert!(!cues().lists.is_empty());
    }

    #[test]
    fn cue_phrases_match_words_and_wildcards() {
        let ws = words("Client reported she slept better this week.");
        let fired = cues().fired(&ws);
        assert!(fired.contains(&"client_report"), "{fired:?}");
        assert!(fired.contains(&"between_sessions"), "{fired:?}");
        let fired = cues().fired(&words("We'll meet in two weeks."));
        assert!(fired.contains(&"plan"), "{fired:?}");
        let fired = cues().fired(&words("She has a plan."));
        assert!(!fired.contains(&"safety"), "{fired:?}");
    }

    #[test]
    fn subject_and_verb_are_read_at_the_start() {
        let f = sentence_features("And she also reported a rough week.").own;
        assert!(has(&f, "subj:client"), "{f:?}");
        assert!(has(&f, "svc:client+report"), "{f:?}");
        let f = sentence_features("I felt protective of her.").own;
        assert!(has(&f, "subj:clinician"), "{f:?}");
        assert!(has(&f, "sv:clinician+felt"), "{f:?}");
        let f = sentence_features("Her husband sounds controlling.").own;
        assert!(has(&f, "subj:third"), "{f:?}");
        let f = sentence_features("Maya said she hates school.").own;
        assert!(has(&f, "subj:named"), "{f:?}");
        let f = sentence_features("Her affect was flat.").own;
        assert!(has(&f, "subj:client-possessive"), "{f:?}");
        let f = sentence_features("We practiced box breathing.").own;
        assert!(has(&f, "svc:together+do"), "{f:?}");
    }

    #[test]
    fn process_wording_outside_quotes() {
        for t in [
            "I wonder if Maya's acting out is keeping them focused on her.",
            "And I notice I'm siding with Dana more than I should.",
            "Part of me wonders if there's an eating disorder underneath this.",
            "I have a hunch mom is depressed herself.",
            "I felt a strong pull to reassure her.",
            "Watch that, it's my own dad stuff.",
            "His old platoon sergeant sounds like a real sadist.",
            "Mom and stepdad seem to be in a pretty shaky place themselves.",
            "The wife, from what he describes, sounds like she's enabling him.",
            "I think her mother is pretty narcissistic, honestly.",
            "I think the daughter's mom is keeping the kid from him.",
            "Honestly, his supervisor sounds like a bully.",
        ] {
            assert!(process_wording(t).is_some(), "{t}");
        }
        for t in [
            "She said, \"I wonder if I'll ever feel normal.\"",
            "Her husband told her she seems somewhere else at dinner.",
            "Mom said she's worried about his safety.",
            "I noticed she was tearful when discussing her mother.",
            "Stepdad looked down a lot and only spoke when I asked him.",
            "I think she is making progress.",
            "We reviewed the treatment plan.",
            "I also did about ten minutes of parent consultation with mom.",
            "The family seems to be communicating more openly.",
        ] {
            assert_eq!(process_wording(t), None, "{t}");
        }
    }

    #[test]
    fn stems_group_word_forms() {
        assert_eq!(stem("reports"), "report");
        assert_eq!(stem("reported"), "report");
        assert_eq!(stem("reporting"), "report");
        assert_eq!(stem("denies"), "deny");
        assert_eq!(stem("denied"), "deny");
        assert_eq!(stem("client's"), "client");
        assert_eq!(stem("stress"), "stress");
        assert_eq!(stem("is"), "is");
    }

    #[test]
    fn neighbours_and_position_are_in_the_sequence_features() {
        let texts = [
            "She reported a hard week.",
            "Affect was flat.",
            "Next session in a week.",
        ];
        let ctx = vec![
            Context {
                private: Private::No
            };
            3
        ];
        let f = sequence_features(&texts, &ctx);
        assert!(has(&f[0], "pos:first") && has(&f[0], "prev:none"));
        assert!(has(&f[1], "prev:cue:client_report"), "{:?}", f[1]);
        assert!(has(&f[1], "next:cue:plan"), "{:?}", f[1]);
        assert!(has(&f[2], "pos:last") && has(&f[2], "next:none"));
    }
}

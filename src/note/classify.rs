//! The section classifier for SOAP and DAP notes.
//!
//! Two layers, both small enough to read:
//!
//! 1. A multinomial logistic regression gives each sentence a probability for Subjective, Objective,
//!    Assessment, Plan and the private process note, from readable features (cue phrases, who speaks
//!    with what verb, word stems and pairs, neighbouring sentences; see `features.rs`). Its weights are
//!    fitted on the tuning corpus (`train.rs`) and embedded from `prompts/classifier-weights.tsv`.
//! 2. A Viterbi pass over the dictation combines those probabilities with transition scores (clinicians
//!    stay in a section and mostly go S -> O -> A -> P) and with the spoken headings: a sentence under a
//!    heading stays there unless the classifier is very sure it belongs elsewhere. A "for my notes"
//!    sentence is always private.
//!
//! The result is deterministic, takes well under a millisecond per sentence, and every placement
//! carries its confidence (the forward-backward posterior) and the features that decided it. DAP's Data
//! is Subjective and Objective together, so DAP drafts are decoded in SOAP slots and merged.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::commands::{Heading, Private};
use super::features::{Context, process_wording, sequence_features};

const WEIGHTS_TSV: &str = include_str!("../../prompts/classifier-weights.tsv");

/// Where the classifier can put a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    S,
    O,
    A,
    P,
    /// The private process note.
    X,
}

pub const SLOTS: [Slot; 5] = [Slot::S, Slot::O, Slot::A, Slot::P, Slot::X];
const N: usize = SLOTS.len();

impl Slot {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn code(self) -> &'static str {
        match self {
            Slot::S => "S",
            Slot::O => "O",
            Slot::A => "A",
            Slot::P => "P",
            Slot::X => "X",
        }
    }

    fn from_code(code: &str) -> Option<Slot> {
        SLOTS.iter().copied().find(|s| s.code() == code)
    }
}

/// Who decided where a sentence went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecidedBy {
    Heading,
    Classifier,
}

/// The slots a spoken heading allows.
pub fn allowed(heading: Heading) -> &'static [Slot] {
    match heading {
        Heading::Subjective => &[Slot::S],
        Heading::Objective | Heading::Interventions => &[Slot::O],
        Heading::Assessment => &[Slot::A],
        Heading::Plan => &[Slot::P],
        Heading::Data => &[Slot::S, Slot::O],
        Heading::AssessmentAndPlan => &[Slot::A, Slot::P],
        Heading::SessionInfo => &[],
    }
}

/// How the sequence pass weighs its parts; tuned by cross-validation on the tuning corpus.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// Weight of the sentence's own log-probabilities.
    pub emission: f64,
    /// Weight of the transition log-probabilities.
    pub transition: f64,
    /// Cost of leaving the section a heading named, in log units.
    pub heading_penalty: f64,
    /// Cost of sending a sentence under a heading to the process note.
    pub heading_process_penalty: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            emission: 1.0,
            transition: 0.2,
            heading_penalty: 3.0,
            heading_process_penalty: 0.5,
        }
    }
}

/// The fitted classifier: feature weights, transition scores and sequence parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    pub weights: HashMap<String, [f64; N]>,
    /// Log-probability of the first slot.
    pub start: [f64; N],
    /// Log-probability of slot `to` after slot `from`: `transitions[from][to]`.
    pub transitions: [[f64; N]; N],
    pub params: Params,
}

/// A weights file that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "classifier weights line {line}: {problem}; regenerate prompts/classifier-weights.tsv with `cargo test --test train_classifier -- --ignored`"
)]
pub struct WeightsError {
    pub line: usize,
    pub problem: String,
}

fn parse_row(fields: &[&str], line: usize) -> Result<[f64; N], WeightsError> {
    if fields.len() != N {
        return Err(WeightsError {
            line,
            problem: format!("expected {N} numbers, found {}", fields.len()),
        });
    }
    let mut row = [0.0; N];
    for (slot, f) in row.iter_mut().zip(fields) {
        *slot = f.parse().map_err(|_| WeightsError {
            line,
            problem: format!("'{f}' is not a number"),
        })?;
    }
    Ok(row)
}

impl Model {
    /// Reads the tab-separated weights format written by [`Model::to_tsv`].
    pub fn from_tsv(text: &str) -> Result<Model, WeightsError> {
        let mut model = Model {
            params: Params::default(),
            ..Model::default()
        };
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            match fields[0] {
                "@param" if fields.len() == 3 => {
                    let value: f64 = fields[2].parse().map_err(|_| WeightsError {
                        line: line_no,
                        problem: format!("'{}' is not a number", fields[2]),
                    })?;
                    match fields[1] {
                        "emission" => model.params.emission = value,
                        "transition" => model.params.transition = value,
                        "heading_penalty" => model.params.heading_penalty = value,
                        "heading_process_penalty" => model.params.heading_process_penalty = value,
                        other => {
                            return Err(WeightsError {
                                line: line_no,
                                problem: format!("unknown parameter '{other}'"),
                            });
                        }
                    }
                }
                "@start" => model.start = parse_row(&fields[1..], line_no)?,
                "@trans" if fields.len() == N + 2 => {
                    let from = Slot::from_code(fields[1]).ok_or_else(|| WeightsError {
                        line: line_no,
                        problem: format!("unknown slot '{}'", fields[1]),
                    })?;
                    model.transitions[from.index()] = parse_row(&fields[2..], line_no)?;
                }
                name if !name.starts_with('@') && fields.len() == N + 1 => {
                    model
                        .weights
                        .insert(name.to_string(), parse_row(&fields[1..], line_no)?);
                }
                _ => {
                    return Err(WeightsError {
                        line: line_no,
                        problem: "unrecognised line".to_string(),
                    });
                }
            }
        }
        Ok(model)
    }

    /// Writes the weights in a stable order (sorted features, four decimals).
    pub fn to_tsv(&self) -> String {
        let mut out = String::new();
        out.push_str("# notedraft section classifier: multinomial logistic regression weights and sequence scores.\n");
        out.push_str("# Generated from tests/corpus/tune by `cargo test --test train_classifier -- --ignored`; do not edit.\n");
        out.push_str("# columns: feature then S O A P X (X = private process note)\n");
        let p = self.params;
        for (name, value) in [
            ("emission", p.emission),
            ("transition", p.transition),
            ("heading_penalty", p.heading_penalty),
            ("heading_process_penalty", p.heading_process_penalty),
        ] {
            out.push_str(&format!("@param\t{name}\t{value}\n"));
        }
        let row = |r: &[f64; N]| {
            r.iter()
                .map(|v| format!("{v:.4}"))
                .collect::<Vec<_>>()
                .join("\t")
        };
        out.push_str(&format!("@start\t{}\n", row(&self.start)));
        for slot in SLOTS {
            out.push_str(&format!(
                "@trans\t{}\t{}\n",
                slot.code(),
                row(&self.transitions[slot.index()])
            ));
        }
        let mut names: Vec<&String> = self.weights.keys().collect();
        names.sort();
        for name in names {
            out.push_str(&format!("{name}\t{}\n", row(&self.weights[name])));
        }
        out
    }

    /// Class probabilities for one sentence's features.
    pub fn probabilities(&self, features: &[String]) -> [f64; N] {
        let mut scores = [0.0; N];
        for f in features {
            if let Some(w) = self.weights.get(f) {
                for (s, wv) in scores.iter_mut().zip(w) {
                    *s += wv;
                }
            }
        }
        softmax(scores)
    }

    /// The features that pushed hardest toward `slot`, strongest first.
    pub fn reasons(&self, features: &[String], slot: Slot, count: usize) -> Vec<(String, f64)> {
        let mut contributions: Vec<(String, f64)> = features
            .iter()
            .filter(|f| explains(f))
            .filter_map(|f| {
                let w = self.weights.get(f)?;
                let mean = w.iter().sum::<f64>() / N as f64;
                Some((f.clone(), w[slot.index()] - mean))
            })
            .filter(|(_, c)| *c > 0.0)
            .collect();
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        contributions.dedup_by(|a, b| a.0 == b.0);
        contributions.truncate(count);
        contributions
    }
}

/// Words too common to explain a decision on their own.
const PLAIN_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "was", "is",
    "were", "be", "been", "it", "that", "this", "she", "he", "they", "her", "his", "their", "i",
    "we", "so", "as", "by", "from", "about", "had", "ha", "have", "do", "did", "not", "no", "up",
    "out",
];

/// Features worth naming to a clinician: not the bias, position or length, nor common words.
fn explains(feature: &str) -> bool {
    if feature == "bias"
        || feature.starts_with("pos:")
        || feature.starts_with("len:")
        || feature.ends_with(":none")
    {
        return false;
    }
    match feature.strip_prefix("w=") {
        Some(word) => !PLAIN_WORDS.contains(&word),
        None => !feature.starts_with("aux:"),
    }
}

fn subject(class: &str) -> &str {
    match class {
        "client" => "the client",
        "clinician" => "I (the clinician)",
        "together" => "'we'",
        "third" => "someone else",
        "named" => "a person named",
        "client-possessive" => "the client's",
        other => other,
    }
}

/// A feature name in plain words ("cue:client_report" -> "client-report wording").
pub fn describe(feature: &str) -> String {
    let (prefix, rest) = match feature.split_once(':') {
        Some((p, r)) if !feature.starts_with("w=") && !feature.starts_with("b=") => (p, r),
        _ => ("", feature),
    };
    let cue = |name: &str| format!("{} wording", name.replace('_', "-"));
    match prefix {
        "cue" => cue(rest),
        "prev" | "next" => {
            let side = if prefix == "prev" { "after" } else { "before" };
            match rest.split_once(':') {
                Some(("cue", c)) => format!("{side} a sentence with {}", cue(c)),
                Some(("subj", s)) => {
                    format!("{side} a sentence with {} as the subject", subject(s))
                }
                _ => format!("{side} {rest}"),
            }
        }
        "subj" => format!("{} as the subject", subject(rest)),
        "svc" | "sv" => match rest.split_once('+') {
            Some((who, verb)) => format!("{} + {verb}", subject(who)),
            None => rest.to_string(),
        },
        "has" => rest.to_string(),
        "private" => format!("private passage ({rest})"),
        _ => {
            if let Some(word) = feature.strip_prefix("w=") {
                format!("'{word}'")
            } else if let Some(pair) = feature.strip_prefix("b=") {
                format!("'{}'", pair.replace('_', " "))
            } else if let Some(first) = feature.strip_prefix("first=") {
                format!("starts with '{first}'")
            } else if let Some(first) = feature.strip_prefix("first2=") {
                format!("starts with '{}'", first.replace('_', " "))
            } else {
                feature.to_string()
            }
        }
    }
}

fn softmax(scores: [f64; N]) -> [f64; N] {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut out = scores.map(|s| (s - max).exp());
    let total: f64 = out.iter().sum();
    for v in &mut out {
        *v /= total;
    }
    out
}

/// The embedded, fitted model. An unreadable weights file (caught by a unit test) leaves an empty model
/// whose decisions rest on headings and transitions alone.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::from_tsv(WEIGHTS_TSV).unwrap_or_default())
}
/// A short plain explanation ("heading 'objective'", "client-report wording; the client + report").
/// One sentence for the classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Item<'a> {
    pub text: &'a str,
    /// The last heading in effect.
    pub heading: Option<Heading>,
    pub private: Private,
}

/// Where a sentence went, how sure the classifier is, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub slot: Slot,
    /// Posterior probability of the chosen slot (0..1).
    pub confidence: f64,
    pub decided_by: DecidedBy,
    /// Posterior of every slot, S O A P X.
    pub posterior: [f64; N],
    /// A short plain explanation ("heading 'objective'", "cue:client_report, sv:client+report").
    pub why: String,
}

const NEVER: f64 = -1.0e9;

/// Places a run of sentences with the embedded model.
pub fn classify(items: &[Item<'_>]) -> Vec<Placement> {
    classify_with(model(), items)
}

/// Places a run of sentences with a given model (training and tests use their own).
pub fn classify_with(model: &Model, items: &[Item<'_>]) -> Vec<Placement> {
    let n = items.len();
    if n == 0 {
        return Vec::new();
    }
    let texts: Vec<&str> = items.iter().map(|i| i.text).collect();
    let contexts: Vec<Context> = items
        .iter()
        .map(|i| Context { private: i.private })
        .collect();
    let features = sequence_features(&texts, &contexts);
    let wording: Vec<Option<String>> = texts.iter().map(|t| process_wording(t)).collect();
    let probabilities: Vec<[f64; N]> = features.iter().map(|f| model.probabilities(f)).collect();
    let p = model.params;
    let emissions: Vec<[f64; N]> = items
        .iter()
        .zip(&probabilities)
        .enumerate()
        .map(|(i, (item, probs))| {
            let mut e = probs.map(|q| p.emission * q.max(1e-12).ln());
            if let Some(allowed_slots) = item.heading.map(allowed).filter(|a| !a.is_empty()) {
                for slot in SLOTS {
                    if slot == Slot::X {
                        e[slot.index()] -= p.heading_process_penalty;
                    } else if !allowed_slots.contains(&slot) {
                        e[slot.index()] -= p.heading_penalty;
                    }
                }
            }
            if item.private == Private::Marked || wording[i].is_some() {
                for slot in [Slot::S, Slot::O, Slot::A, Slot::P] {
                    e[slot.index()] = NEVER;
                }
            }
            e
        })
        .collect();
    let start = model.start.map(|v| p.transition * v);
    let trans = model.transitions.map(|row| row.map(|v| p.transition * v));

    let path = viterbi(&emissions, &start, &trans);
    let posteriors = forward_backward(&emissions, &start, &trans);
    (0..n)
        .map(|i| {
            let slot = path[i];
            let by_heading = items[i]
                .heading
                .map(allowed)
                .is_some_and(|a| a.contains(&slot));
            let why = if items[i].private == Private::Marked {
                "private marker".to_string()
            } else if let Some(w) = &wording[i] {
                format!("process-note wording: '{w}'")
            } else if by_heading {
                let h = items[i].heading.map(Heading::label).unwrap_or_default();
                format!("heading '{h}'")
            } else {
                let reasons = model.reasons(&features[i], slot, 3);
                if reasons.is_empty() {
                    "position in the dictation".to_string()
                } else {
                    reasons
                        .iter()
                        .map(|(f, _)| describe(f))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            };
            Placement {
                slot,
                confidence: posteriors[i][slot.index()],
                decided_by: if (by_heading || items[i].private == Private::Marked)
                    && wording[i].is_none()
                {
                    DecidedBy::Heading
                } else {
                    DecidedBy::Classifier
                },
                posterior: posteriors[i],
                why,
            }
        })
        .collect()
}

fn viterbi(emissions: &[[f64; N]], start: &[f64; N], trans: &[[f64; N]; N]) -> Vec<Slot> {
    let n = emissions.len();
    let mut score = [0.0; N];
    for s in 0..N {
        score[s] = start[s] + emissions[0][s];
    }
    let mut back: Vec<[usize; N]> = vec![[0; N]; n];
    for i in 1..n {
        let mut next = [f64::NEG_INFINITY; N];
        for to in 0..N {
            for from in 0..N {
                let v = score[from] + trans[from][to];
                if v > next[to] {
                    next[to] = v;
                    back[i][to] = from;
                }
            }
            next[to] += emissions[i][to];
        }
        score = next;
    }
    let mut best = 0;
    for s in 1..N {
        if score[s] > score[best] {
            best = s;
        }
    }
    let mut path = vec![SLOTS[best]; n];
    for i in (1..n).rev() {
        best = back[i][best];
        path[i - 1] = SLOTS[best];
    }
    path
}

fn log_sum_exp(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

fn forward_backward(
    emissions: &[[f64; N]],
    start: &[f64; N],
    trans: &[[f64; N]; N],
) -> Vec<[f64; N]> {
    let n = emissions.len();
    let mut alpha = vec![[0.0; N]; n];
    for s in 0..N {
        alpha[0][s] = start[s] + emissions[0][s];
    }
    for i in 1..n {
        for to in 0..N {
            alpha[i][to] = log_sum_exp((0..N).map(|from| alpha[i - 1][from] + trans[from][to]))
                + emissions[i][to];
        }
    }
    let mut beta = vec![[0.0; N]; n];
    for i in (0..n.saturating_sub(1)).rev() {
        for from in 0..N {
            beta[i][from] = log_sum_exp(
                (0..N).map(|to| trans[from][to] + emissions[i + 1][to] + beta[i + 1][to]),
            );
        }
    }
    (0..n)
        .map(|i| {
            let joint: [f64; N] = std::array::from_fn(|s| alpha[i][s] + beta[i][s]);
            let total = log_sum_exp(joint.iter().copied());
            joint.map(|j| (j - total).exp())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_model() -> Model {
        let mut weights = HashMap::new();
        weights.insert("cue:client_report".to_string(), [3.0, 0.0, 0.0, 0.0, 0.0]);
        weights.insert("cue:observation".to_string(), [0.0, 3.0, 0.0, 0.0, 0.0]);
        weights.insert("cue:interpretation".to_string(), [0.0, 0.0, 3.0, 0.0, 0.0]);
        weights.insert("cue:plan".to_string(), [0.0, 0.0, 0.0, 3.0, 0.0]);
        weights.insert("cue:process".to_string(), [0.0, 0.0, 0.0, 0.0, 4.0]);
        let stay = [[0.0; N]; N];
        Model {
            weights,
            start: [0.0; N],
            transitions: stay,
            params: Params::default(),
        }
    }

    fn item(text: &str, heading: Option<Heading>) -> Item<'_> {
        Item {
            text,
            heading,
            private: Private::No,
        }
    }

    #[test]
    fn the_embedded_weights_parse() {
        let m = Model::from_tsv(WEIGHTS_TSV).expect("prompts/classifier-weights.tsv parses");
        assert_eq!(&m, model());
    }

    #[test]
    fn weights_round_trip_through_tsv() {
        let m = toy_model();
        let back = Model::from_tsv(&m.to_tsv()).unwrap();
        assert_eq!(back, m);
        assert!(Model::from_tsv("w=x\t1\t2\n").is_err());
    }

    #[test]
    fn cues_decide_without_headings() {
        let m = toy_model();
        let items = [
            item("She reported a hard week.", None),
            item("Affect was constricted, speech normal rate.", None),
            item("Symptoms are consistent with a moderate episode.", None),
            item("Next session in one week, continue homework.", None),
        ];
        let placed = classify_with(&m, &items);
        let slots: Vec<Slot> = placed.iter().map(|p| p.slot).collect();
        assert_eq!(slots, [Slot::S, Slot::O, Slot::A, Slot::P]);
        assert!(placed.iter().all(|p| p.decided_by == DecidedBy::Classifier));
        assert!(
            placed[0].why.contains("client-report wording"),
            "{}",
            placed[0].why
        );
        assert!(placed.iter().all(|p| (0.0..=1.0).contains(&p.confidence)));
    }

    #[test]
    fn a_heading_wins_over_a_weak_cue_but_not_a_clear_contradiction() {
        let m = toy_model();
        // Weak: no cue at all under "Plan" stays in the plan.
        let placed = classify_with(&m, &[item("Weekly.", Some(Heading::Plan))]);
        assert_eq!(placed[0].slot, Slot::P);
        assert_eq!(placed[0].decided_by, DecidedBy::Heading);
        assert_eq!(placed[0].why, "heading 'plan'");
        // Clear: a strong subjective cue under "Plan" with a much stronger model.
        let mut strong = toy_model();
        strong
            .weights
            .insert("cue:client_report".to_string(), [9.0, 0.0, 0.0, 0.0, 0.0]);
        let placed = classify_with(
            &strong,
            &[item(
                "She also mentioned her sister had panic attacks.",
                Some(Heading::Plan),
            )],
        );
        assert_eq!(placed[0].slot, Slot::S);
        assert_eq!(placed[0].decided_by, DecidedBy::Classifier);
    }

    #[test]
    fn a_private_marker_always_goes_to_the_process_note() {
        let m = toy_model();
        let placed = classify_with(
            &m,
            &[Item {
                text: "She reported a hard week.",
                heading: Some(Heading::Subjective),
                private: Private::Marked,
            }],
        );
        assert_eq!(placed[0].slot, Slot::X);
    }

    #[test]
    fn transitions_smooth_an_ambiguous_sentence() {
        let mut m = toy_model();
        m.transitions = std::array::from_fn(|from| {
            std::array::from_fn(|to| if from == to { -0.1 } else { -3.0 })
        });
        let placed = classify_with(
            &m,
            &[
                item("Affect was flat.", None),
                item("Yes.", None),
                item("Speech was slow.", None),
            ],
        );
        assert_eq!(placed[1].slot, Slot::O);
    }

    #[test]
    fn posteriors_sum_to_one() {
        let m = toy_model();
        let placed = classify_with(
            &m,
            &[
                item("She reported a hard week.", None),
                item("Affect flat.", None),
            ],
        );
        for p in placed {
            let total: f64 = p.posterior.iter().sum();
            assert!((total - 1.0).abs() < 1e-9);
        }
    }
}

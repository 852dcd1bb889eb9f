//! Fitting the section classifier on the labelled tuning corpus: a multinomial logistic regression over
//! the features of `features.rs`, and transition scores counted from the labelled sequences.
//!
//! Pure and deterministic (full-batch AdaGrad, fixed iterations, features in sorted order), so the same
//! corpus always gives the same weights file.

use std::collections::{BTreeMap, HashMap};

use super::classify::{Model, Params, SLOTS, Slot};
use super::commands::{Fate, Private};
use super::corpus::{CorpusFile, Label};
use super::features::{Context, sequence_features};
use super::sentences::Sentence;
use super::{Destination, prepare};

const N: usize = SLOTS.len();

/// One labelled sentence as the classifier sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub features: Vec<String>,
    pub label: Slot,
}

/// Examples and the label sequences (for transitions) of a set of corpus files.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainingSet {
    pub examples: Vec<Example>,
    pub sequences: Vec<Vec<Slot>>,
}

/// The slot a corpus label trains, if any.
pub fn slot_of(label: Label) -> Option<Slot> {
    match label {
        Label::S => Some(Slot::S),
        Label::O => Some(Slot::O),
        Label::A => Some(Slot::A),
        Label::P => Some(Slot::P),
        Label::Process => Some(Slot::X),
        _ => None,
    }
}

/// Runs corpus files through the same commands and header steps as drafting (one sentence per
/// labelled line) and collects what reaches the classifier with its label.
pub fn training_set(files: &[&CorpusFile]) -> TrainingSet {
    let today = jiff::civil::date(2026, 3, 20);
    let mut set = TrainingSet::default();
    for file in files {
        let sentences: Vec<Sentence> = file
            .lines
            .iter()
            .map(|l| Sentence {
                text: l.text.clone(),
                start_s: None,
                end_s: None,
                pause_before: false,
                paragraph_before: false,
            })
            .collect();
        let prepared = prepare(&sentences, today);
        let mut texts = Vec::new();
        let mut contexts = Vec::new();
        let mut labels = Vec::new();
        for (i, line) in prepared.lines.iter().enumerate() {
            if prepared.destinations[i] != Destination::Classify {
                continue;
            }
            let private = match line.fate {
                Fate::Note { private, .. } => private,
                Fate::Excluded(_) => Private::No,
            };
            texts.push(line.text.as_str());
            contexts.push(Context { private });
            labels.push(file.lines.get(i).and_then(|l| slot_of(l.label)));
        }
        let features = sequence_features(&texts, &contexts);
        let mut sequence = Vec::new();
        for (f, label) in features.into_iter().zip(labels) {
            if let Some(label) = label {
                set.examples.push(Example { features: f, label });
                sequence.push(label);
            }
        }
        set.sequences.push(sequence);
    }
    set
}

/// How to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// L2 penalty per weight.
    pub l2: f64,
    pub iterations: usize,
    /// Features seen in fewer examples are dropped.
    pub min_count: usize,
    pub learning_rate: f64,
    pub params: Params,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 0.002,
            iterations: 300,
            min_count: 2,
            learning_rate: 0.3,
            params: Params::default(),
        }
    }
}

fn softmax(scores: [f64; N]) -> [f64; N] {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut out = scores.map(|s| (s - max).exp());
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= total);
    out
}

/// Fits weights and transitions.
pub fn fit(set: &TrainingSet, options: &FitOptions) -> Model {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &set.examples {
        let mut seen: Vec<&str> = e.features.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for f in seen {
            *counts.entry(f).or_default() += 1;
        }
    }
    let names: Vec<&str> = counts
        .iter()
        .filter(|(name, c)| **c >= options.min_count || **name == "bias")
        .map(|(name, _)| *name)
        .collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let rows: Vec<Vec<usize>> = set
        .examples
        .iter()
        .map(|e| {
            e.features
                .iter()
                .filter_map(|f| index.get(f.as_str()).copied())
                .collect()
        })
        .collect();
    let bias = index.get("bias").copied();
    let mut w = vec![[0.0f64; N]; names.len()];
    let mut g2 = vec![[0.0f64; N]; names.len()];
    let count = set.examples.len().max(1) as f64;
    for _ in 0..options.iterations {
        let mut grad = vec![[0.0f64; N]; names.len()];
        for (row, e) in rows.iter().zip(&set.examples) {
            let mut scores = [0.0; N];
            for &f in row {
                for k in 0..N {
                    scores[k] += w[f][k];
                }
            }
            let p = softmax(scores);
            for &f in row {
                for k in 0..N {
                    let target = if k == e.label.index() { 1.0 } else { 0.0 };
                    grad[f][k] += (p[k] - target) / count;
                }
            }
        }
        for f in 0..names.len() {
            for k in 0..N {
                let mut g = grad[f][k];
                if Some(f) != bias {
                    g += options.l2 * w[f][k];
                }
                g2[f][k] += g * g;
                w[f][k] -= options.learning_rate * g / (g2[f][k].sqrt() + 1e-8);
            }
        }
    }
    let weights: HashMap<String, [f64; N]> = names
        .iter()
        .zip(&w)
        .filter(|(_, row)| row.iter().any(|v| v.abs() >= 5e-5))
        .map(|(n, row)| {
            (
                n.to_string(),
                row.map(|v| (v * 10_000.0).round() / 10_000.0),
            )
        })
        .collect();
    let (start, transitions) = transition_scores(&set.sequences);
    Model {
        weights,
        start,
        transitions,
        params: options.params,
    }
}

/// Log-probabilities of the first slot and of each slot after another, add-one smoothed.
pub fn transition_scores(sequences: &[Vec<Slot>]) -> ([f64; N], [[f64; N]; N]) {
    let mut start = [1.0; N];
    let mut trans = [[1.0; N]; N];
    for seq in sequences {
        if let Some(first) = seq.first() {
            start[first.index()] += 1.0;
        }
        for pair in seq.windows(2) {
            trans[pair[0].index()][pair[1].index()] += 1.0;
        }
    }
    let log_normalise = |row: [f64; N]| {
        let total: f64 = row.iter().sum();
        row.map(|v| ((v / total).ln() * 10_000.0).round() / 10_000.0)
    };
    (log_normalise(start), trans.map(log_normalise))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::classify::{Item, classify_with};
    use crate::note::corpus::parse;

    const FILE: &str = "# format: soap\n# style: freeform\n# flags: none\n# scores: none\n\
S | She reported a hard week at work.\n\
S | She said she slept badly.\n\
O | Affect was flat and speech slow.\n\
O | She was tearful when discussing her mother.\n\
A | Symptoms are consistent with a moderate depressive episode.\n\
P | Next session in one week.\n\
process | I felt bored today.\n";

    #[test]
    fn training_set_keeps_labels_aligned() {
        let f = parse("t", FILE).unwrap();
        let set = training_set(&[&f]);
        let labels: Vec<Slot> = set.examples.iter().map(|e| e.label).collect();
        assert_eq!(
            labels,
            [
                Slot::S,
                Slot::S,
                Slot::O,
                Slot::O,
                Slot::A,
                Slot::P,
                Slot::X
            ]
        );
        assert_eq!(set.sequences, [labels]);
    }

    #[test]
    fn fitting_learns_the_training_examples_deterministically() {
        let f = parse("t", FILE).unwrap();
        let set = training_set(&[&f]);
        let options = FitOptions {
            min_count: 1,
            ..FitOptions::default()
        };
        let model = fit(&set, &options);
        assert_eq!(model, fit(&set, &options));
        let texts: Vec<&str> = f.lines.iter().map(|l| l.text.as_str()).collect();
        let items: Vec<Item<'_>> = texts
            .iter()
            .map(|t| Item {
                text: t,
                heading: None,
                private: Private::No,
            })
            .collect();
        let placed: Vec<Slot> = classify_with(&model, &items)
            .iter()
            .map(|p| p.slot)
            .collect();
        assert_eq!(
            placed,
            [
                Slot::S,
                Slot::S,
                Slot::O,
                Slot::O,
                Slot::A,
                Slot::P,
                Slot::X
            ]
        );
    }

    #[test]
    fn transitions_favour_what_was_seen() {
        let (start, trans) = transition_scores(&[vec![Slot::S, Slot::S, Slot::O]]);
        assert!(start[Slot::S.index()] > start[Slot::O.index()]);
        assert!(trans[Slot::S.index()][Slot::S.index()] > trans[Slot::S.index()][Slot::A.index()]);
        let total: f64 = trans[0].iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-3);
    }
}

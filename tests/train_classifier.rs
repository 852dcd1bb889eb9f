//! Fits the section classifier on tests/corpus/tune and writes prompts/classifier-weights.tsv.
//!
//! `cargo test --release --test train_classifier -- --ignored --nocapture train` regenerates the weights;
//! `... cross_validate` reports 5-fold figures on the tuning corpus (each file scored by a model that
//! never saw it). The held-out corpus is never read here.

use std::path::Path;

use notedraft::note::classify::Model;
use notedraft::note::corpus::CorpusFile;
use notedraft::note::eval::{score_joined, score_with};
use notedraft::note::train::{FitOptions, fit, training_set};

fn tune() -> Vec<CorpusFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/tune");
    notedraft::eval::load(&dir).expect("tests/corpus/tune loads")
}

fn options() -> FitOptions {
    let mut o = FitOptions::default();
    if let Ok(v) = std::env::var("ND_L2") {
        o.l2 = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ND_ITER") {
        o.iterations = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ND_TRANS") {
        o.params.transition = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ND_HEAD") {
        o.params.heading_penalty = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ND_HEADX") {
        o.params.heading_process_penalty = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("ND_MIN") {
        o.min_count = v.parse().unwrap();
    }
    o
}

fn train_all(files: &[CorpusFile], options: &FitOptions) -> Model {
    let refs: Vec<&CorpusFile> = files.iter().collect();
    fit(&training_set(&refs), options)
}

#[test]
#[ignore = "writes prompts/classifier-weights.tsv"]
fn train() {
    let files = tune();
    let model = train_all(&files, &options());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/classifier-weights.tsv");
    std::fs::write(&path, model.to_tsv()).unwrap();
    println!(
        "wrote {} features to {}",
        model.weights.len(),
        path.display()
    );
}

#[test]
#[ignore = "slow: trains five models"]
fn cross_validate() {
    let files = tune();
    const FOLDS: usize = 5;
    let options = options();
    let models: Vec<Model> = (0..FOLDS)
        .map(|k| {
            let train: Vec<&CorpusFile> = files
                .iter()
                .enumerate()
                .filter(|(i, _)| i % FOLDS != k)
                .map(|(_, f)| f)
                .collect();
            fit(&training_set(&train), &options)
        })
        .collect();
    let per_file: Vec<&Model> = (0..files.len()).map(|i| &models[i % FOLDS]).collect();
    let report = score_with(&files, &per_file);
    println!("{report}");
    let by_line = score_joined(&files, &per_file, "\n");
    println!(
        "one sentence per line: {:.1}%",
        100.0 * by_line.sentences.rate()
    );
    if std::env::var("ND_MISSES").is_ok() {
        for m in &report.misses {
            println!(
                "{} {:>3} {:<9} -> {:<12} {}",
                m.file,
                m.line_no,
                m.label.name(),
                m.landed,
                m.text
            );
        }
        for m in &report.flag_misses {
            println!("{m}");
        }
        for m in &report.score_misses {
            println!("{m}");
        }
    }
}

#[test]
fn committed_weights_are_the_ones_the_tune_corpus_gives() {
    let files = tune();
    let model = train_all(
        &files,
        &FitOptions {
            params: notedraft::note::classify::model().params,
            ..options()
        },
    );
    let committed = notedraft::note::classify::model();
    assert_eq!(
        model.weights.len(),
        committed.weights.len(),
        "retrain: cargo test --release --test train_classifier -- --ignored train"
    );
    for (name, w) in &model.weights {
        let c = committed
            .weights
            .get(name)
            .unwrap_or_else(|| panic!("feature {name} missing: retrain"));
        for (a, b) in w.iter().zip(c) {
            assert!((a - b).abs() < 1e-3, "feature {name} differs: retrain");
        }
    }
}

#[test]
#[ignore = "slow: cross-writer check"]
fn cross_writer() {
    let files = tune();
    let (theirs, mine): (Vec<CorpusFile>, Vec<CorpusFile>) =
        files.into_iter().partition(|f| !f.name.starts_with('9'));
    let options = options();
    for (train_on, test_on, label) in [
        (&theirs, &mine, "tune author -> 9NN"),
        (&mine, &theirs, "9NN -> tune author"),
    ] {
        let model = train_all(train_on, &options);
        let models: Vec<&Model> = vec![&model; test_on.len()];
        let report = score_with(test_on, &models);
        println!("{label}:\n{report}");
        if std::env::var("ND_MISSES").is_ok() {
            for m in &report.misses {
                println!(
                    "{} {:>3} {:<9} -> {:<12} {}",
                    m.file,
                    m.line_no,
                    m.label.name(),
                    m.landed,
                    m.text
                );
            }
        }
    }
}

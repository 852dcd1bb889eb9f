//! The corpus evaluation as a regression test: drafting the labelled dictations must keep placing
//! sentences, raising flags and reading scores at least as well as the figures recorded in the README.
//!
//! `tests/corpus/heldout` was never used for tuning; `tests/corpus/tune` is what the classifier was
//! fitted on, so its floors are higher.

use std::path::Path;
use std::time::Instant;

use notedraft::note::corpus::Style;
use notedraft::note::draft::{Source, SourceKind};
use notedraft::note::eval::EvalReport;
use notedraft::note::{DraftRequest, NoteFormat, TimedText, build_draft};

fn report(dir: &str) -> EvalReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    notedraft::eval::run(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_floor(what: &str, value: f64, floor: f64) {
    assert!(value >= floor, "{what}: {:.3} fell below {floor}", value);
}

#[test]
fn tune_corpus_floors() {
    let r = report("tests/corpus/tune");
    println!("{r}");
    assert_floor("sentences", r.sentences.rate(), 0.98);
    let flags = r.flags_total();
    assert_floor("flag precision", flags.precision(), 0.97);
    assert_floor("flag recall", flags.recall(), 0.97);
    assert_floor("scores", r.scores_banded.rate(), 0.97);
}

#[test]
fn heldout_corpus_floors() {
    let r = report("tests/corpus/heldout");
    println!("{r}");
    assert_floor(
        "headings",
        r.style(Style::Headings).rate(),
        HELDOUT_HEADINGS,
    );
    assert_floor(
        "freeform",
        r.style(Style::Freeform).rate(),
        HELDOUT_FREEFORM,
    );
    assert_floor("messy", r.style(Style::Messy).rate(), HELDOUT_MESSY);
    let flags = r.flags_total();
    assert_floor("flag precision", flags.precision(), HELDOUT_FLAG_PRECISION);
    assert_floor("flag recall", flags.recall(), HELDOUT_FLAG_RECALL);
    assert_floor("scores with band", r.scores_banded.rate(), HELDOUT_SCORES);
}

// The bar, a little under the figures measured on the held-out set (tests/corpus/README.md:
// headings 0.974, freeform 0.911, messy 0.961, flags precision and recall 0.984, scores 1.0).
const HELDOUT_HEADINGS: f64 = 0.95;
const HELDOUT_FREEFORM: f64 = 0.90;
const HELDOUT_MESSY: f64 = 0.94;
const HELDOUT_FLAG_PRECISION: f64 = 0.95;
const HELDOUT_FLAG_RECALL: f64 = 0.95;
const HELDOUT_SCORES: f64 = 0.95;

#[test]
fn a_ten_minute_dictation_drafts_fast() {
    let files =
        notedraft::eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/tune"))
            .expect("tune corpus loads");
    // About 1,500 words: ten minutes of dictation at a calm pace.
    let mut text = String::new();
    for f in files.iter().take(8) {
        text.push_str(&f.transcript());
        text.push(' ');
    }
    let words = text.split_whitespace().count();
    assert!(words > 1400, "{words} words");
    let request = DraftRequest {
        format: NoteFormat::Soap,
        pieces: vec![TimedText {
            text,
            start_s: None,
            end_s: None,
        }],
        source: Source {
            kind: SourceKind::Text,
            path: "long.txt".into(),
            duration_s: None,
            model: None,
        },
        created_at: jiff::Timestamp::UNIX_EPOCH,
    };
    build_draft(&request);
    let started = Instant::now();
    let draft = build_draft(&request);
    let took = started.elapsed();
    println!("{words} words drafted in {took:?}");
    assert!(!draft.sections.is_empty());
    let limit_ms = if cfg!(debug_assertions) { 2000 } else { 50 };
    assert!(took.as_millis() < limit_ms, "drafting took {took:?}");
}

#[test]
#[ignore = "prints every held-out miss"]
fn heldout_misses() {
    print_misses("tests/corpus/heldout");
}

#[test]
#[ignore = "prints every tuning-corpus miss"]
fn tune_misses() {
    print_misses("tests/corpus/tune");
}

fn print_misses(dir: &str) {
    let r = report(dir);
    for m in &r.misses {
        println!(
            "{} {:>3} {:<9} -> {:<12} {}",
            m.file,
            m.line_no,
            m.label.name(),
            m.landed,
            m.text
        );
    }
    for m in r.flag_misses.iter().chain(&r.score_misses) {
        println!("{m}");
    }
}

/// Drafting must never panic, whatever the transcript holds: every tune dictation cut at many places,
/// with odd characters, stray quotes and punctuation mixed in.
#[test]
fn drafting_survives_mangled_transcripts() {
    let files =
        notedraft::eval::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/tune"))
            .expect("tune corpus loads");
    let oddities = [
        "\"",
        "“",
        "”",
        "...",
        "…",
        "—",
        "-",
        ":",
        "?!",
        " . ",
        "\n\n",
        "é",
        "🙂",
        "’",
        "(",
        ")",
        "5.",
        "p.m.",
        "J.",
        "Dr.",
        " scratch that ",
        " for my notes ",
        " end of note ",
        "PHQ-9 ",
        " item 9 ",
        "\t",
        "\r\n",
        "0/0/0",
        "2026-13-45",
        "February 30th",
        "99999999999",
        "",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    for file in &files {
        let text = file.transcript();
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..6 {
            let mut mangled: String = chars[..next(chars.len() + 1)].iter().collect();
            for _ in 0..4 {
                let at = next(mangled.chars().count() + 1);
                let byte = mangled
                    .char_indices()
                    .nth(at)
                    .map_or(mangled.len(), |(b, _)| b);
                mangled.insert_str(byte, oddities[next(oddities.len())]);
            }
            for format in [NoteFormat::Soap, NoteFormat::Dap] {
                let draft = build_draft(&DraftRequest {
                    format,
                    pieces: vec![TimedText {
                        text: mangled.clone(),
                        start_s: Some(0.0),
                        end_s: Some(next(600) as f64),
                    }],
                    source: Source {
                        kind: SourceKind::Audio,
                        path: "x.wav".into(),
                        duration_s: Some(600.0),
                        model: Some("base.en".into()),
                    },
                    created_at: jiff::Timestamp::UNIX_EPOCH,
                });
                assert_eq!(draft.sections.len(), format.sections().len());
                let _ = notedraft::note::render::markdown(&draft);
            }
        }
    }
}

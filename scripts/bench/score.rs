//! Score a transcript against its script: `cargo run --example score -- SCRIPT.txt TRANSCRIPT.txt`.
//! Prints one line: word error rate, clinical-term recall and the terms that were missed.

#[path = "../../tests/common/score.rs"]
mod common;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [script, transcript] = args.as_slice() else {
        eprintln!("usage: score SCRIPT.txt TRANSCRIPT.txt");
        return std::process::ExitCode::from(2);
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"));
    let (reference, hypothesis) = match (read(script), read(transcript)) {
        (Ok(r), Ok(h)) => (r, h),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(1);
        }
    };
    let wer = common::wer(&reference, &hypothesis);
    let (found, total, missed) =
        common::term_recall(&reference, &hypothesis, common::CLINICAL_TERMS);
    let recall = if total == 0 {
        1.0
    } else {
        found as f64 / total as f64
    };
    println!(
        "wer={wer:.3} term_recall={recall:.3} ({found}/{total}) missed=[{}]",
        missed.join(", ")
    );
    std::process::ExitCode::SUCCESS
}

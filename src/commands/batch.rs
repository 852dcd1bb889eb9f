//! `notedraft batch`: a folder of memos to drafts, with a progress bar and the review queue.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use notedraft::batch::{self, BatchProgress, MemoReport, MemoStatus, RecordedFrom};
use notedraft::config::Settings;
use notedraft::error;

use super::show;
use crate::cli::BatchArgs;

pub fn run(args: BatchArgs, settings: &Settings) -> Result<ExitCode> {
    // Ctrl-C (or the system ending notedraft) stops at once: every draft on disk is complete,
    // and the next run picks up the memos still waiting.
    let handler = ctrlc::set_handler(|| {
        eprintln!(
            "\nnotedraft: stopped. The drafts written so far are complete; run the same command again to draft the rest."
        );
        std::process::exit(130);
    });
    if let Err(err) = handler {
        tracing::debug!("Ctrl-C handler: {err}");
    }
    let now = jiff::Timestamp::now();
    let bar = Bar::new();
    let reports = batch::run(settings, &args.inputs, &bar, now)?;
    if args.json {
        show(&format!("{}\n", summary_json(&reports, now)));
    } else {
        show(&summary_table(&reports, now));
    }
    let failed = reports.iter().any(MemoReport::is_failure);
    Ok(error::exit(if failed {
        error::EXIT_FAILED
    } else {
        error::EXIT_OK
    }))
}

/// A progress bar over the audio to be transcribed, on standard error; hidden when that is not
/// a terminal.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {percent:>3}%  {msg}  (about {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Self { bar }
    }
}

impl BatchProgress for Bar {
    fn begin(&self, memos: usize, audio_s: f64) {
        self.bar
            .set_length((audio_s * 1000.0).round().max(1.0) as u64);
        self.bar.set_message(format!(
            "{memos} memo(s), {} of audio",
            minutes_seconds(audio_s)
        ));
        self.bar.enable_steady_tick(Duration::from_millis(250));
    }

    fn advance(&self, audio_s: f64, memo: &Path) {
        self.bar.inc((audio_s * 1000.0).round().max(0.0) as u64);
        self.bar.set_message(file_name(memo));
    }

    fn memo_done(&self, report: &MemoReport) {
        if let MemoStatus::Failed(why) = &report.status {
            self.bar
                .suspend(|| eprintln!("notedraft: skipped {}: {why}", report.memo.display()));
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn minutes_seconds(seconds: f64) -> String {
    let s = seconds.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// "overdue 5 h", "due in 20 h".
fn due_words(due: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(due) = due else {
        return String::new();
    };
    let hours = (due.as_second() - now.as_second()) as f64 / 3600.0;
    if hours < 0.0 {
        let late = -hours;
        if late >= 48.0 {
            format!("overdue {:.0} d", late / 24.0)
        } else {
            format!("overdue {late:.0} h")
        }
    } else {
        format!("due in {hours:.0} h")
    }
}

fn status_words(report: &MemoReport) -> String {
    match &report.status {
        MemoStatus::Drafted if report.edited_draft_kept.is_some() => {
            "drafted beside your edited draft".to_string()
        }
        MemoStatus::Drafted => "drafted".to_string(),
        MemoStatus::UpToDate => "already drafted".to_string(),
        MemoStatus::Failed(_) => "failed (see below)".to_string(),
    }
}

/// The review queue as a table, soonest due first.
fn summary_table(reports: &[MemoReport], now: jiff::Timestamp) -> String {
    let tz = jiff::tz::TimeZone::system();
    let rows: Vec<[String; 7]> = reports
        .iter()
        .map(|r| {
            let recorded = r
                .recorded_at
                .map(|t| {
                    let local = t
                        .to_zoned(tz.clone())
                        .strftime("%Y-%m-%d %H:%M")
                        .to_string();
                    match r.recorded_from {
                        Some(RecordedFrom::FileTime) => format!("{local}*"),
                        _ => local,
                    }
                })
                .unwrap_or_default();
            [
                due_words(r.due_at, now),
                file_name(&r.memo),
                recorded,
                r.duration_s.map(minutes_seconds).unwrap_or_default(),
                if r.is_failure() {
                    String::new()
                } else {
                    r.flags.len().to_string()
                },
                status_words(r),
                r.draft
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let headers = [
        "DUE", "MEMO", "RECORDED", "LENGTH", "FLAGS", "STATUS", "DRAFT",
    ];
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in &rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    let count = |f: &dyn Fn(&MemoReport) -> bool| reports.iter().filter(|r| f(r)).count();
    let drafted = count(&|r| r.status == MemoStatus::Drafted);
    let skipped = count(&|r| r.status == MemoStatus::UpToDate);
    let failed = count(&|r| r.is_failure());
    let late = count(&|r| r.flags.iter().any(|f| f == "late-note"));
    out += &format!(
        "\n{drafted} drafted, {skipped} already drafted, {failed} failed. Every draft is UNSIGNED: review each one before it goes into the record.\n"
    );
    if late > 0 {
        out += &format!(
            "{late} note(s) are past the 24-hour mark: the ones at the top of the list are due first.\n"
        );
    }
    if reports
        .iter()
        .any(|r| r.recorded_from == Some(RecordedFrom::FileTime))
    {
        out += "* recording time taken from the file's date (the memo itself does not say when it was recorded).\n";
    }
    if failed > 0 {
        out += "\nCould not draft:\n";
        for r in reports {
            if let MemoStatus::Failed(why) = &r.status {
                out += &format!("  {}: {why}\n", file_name(&r.memo));
            }
        }
        out += "Fix or re-export these memos and run the same command again; the memos already drafted will be skipped.\n";
    }
    out
}

#[derive(Serialize)]
struct Summary<'a> {
    schema: &'static str,
    created_at: jiff::Timestamp,
    drafted: usize,
    up_to_date: usize,
    failed: usize,
    memos: &'a [MemoReport],
}

fn summary_json(reports: &[MemoReport], now: jiff::Timestamp) -> String {
    let summary = Summary {
        schema: "notedraft.batch/1",
        created_at: now,
        drafted: reports
            .iter()
            .filter(|r| r.status == MemoStatus::Drafted)
            .count(),
        up_to_date: reports
            .iter()
            .filter(|r| r.status == MemoStatus::UpToDate)
            .count(),
        failed: reports.iter().filter(|r| r.is_failure()).count(),
        memos: reports,
    };
    serde_json::to_string_pretty(&summary).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_read_plainly() {
        let now = jiff::Timestamp::from_second(100 * 3600).unwrap();
        let at = |h: i64| Some(jiff::Timestamp::from_second(h * 3600).unwrap());
        assert_eq!(due_words(at(120), now), "due in 20 h");
        assert_eq!(due_words(at(95), now), "overdue 5 h");
        assert_eq!(due_words(at(28), now), "overdue 3 d");
        assert_eq!(due_words(None, now), "");
    }
}

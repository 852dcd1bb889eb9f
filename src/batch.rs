//! Day's-end batch driver: a folder of memos becomes a review queue of drafts.
//!
//! Every memo goes through the same pipeline as `notedraft draft`. Before any work each memo is
//! probed (format, length, recording time) and hashed; a memo whose draft for this audio, format
//! and model is already on disk is skipped, so a re-run, or a run after an interruption, does only
//! what is left. Memos are worked on oldest first, because the oldest note is due first; one that
//! cannot be read is reported with the reason and the others go on.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::audio::{self, AudioError};
use crate::config::Settings;
use crate::note::{self, NoteFormat};
use crate::pipeline::{self, PipelineError, Speech};
use crate::record::{RECORDING_SUFFIX, UNFINISHED_SUFFIX};
use crate::store::{self, DraftOrigin, DraftStore, SavedDraft, StoreError};

/// Memos decoded at once when `--jobs` is not given. Measured with scripts/bench-batch.sh on these
/// 2-core machines (ten 2-minute memos, base): see the README.
pub const DEFAULT_JOBS: usize = 1;
/// Leftovers of a write that was interrupted are removed once they are this old (a younger one may
/// belong to another notedraft writing into the same folder right now).
const STALE_TEMP: Duration = Duration::from_secs(600);

/// Where a memo's recording time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedFrom {
    /// The file's own metadata (a creation date written by the recorder).
    Metadata,
    /// The file's modification time.
    FileTime,
}

/// What became of one memo.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum MemoStatus {
    Drafted,
    /// A draft of this very audio, format and model was already there.
    UpToDate,
    /// The memo could not be drafted; the reason, in plain words.
    Failed(String),
}

/// One line of the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoReport {
    pub memo: PathBuf,
    pub recorded_at: Option<jiff::Timestamp>,
    pub recorded_from: Option<RecordedFrom>,
    /// When the note is due: 24 hours after the recording.
    pub due_at: Option<jiff::Timestamp>,
    pub duration_s: Option<f64>,
    pub draft: Option<PathBuf>,
    pub process_note: Option<PathBuf>,
    pub flags: Vec<String>,
    /// An edited draft found where the new one would have gone, and left untouched.
    pub edited_draft_kept: Option<PathBuf>,
    #[serde(flatten)]
    pub status: MemoStatus,
}

impl MemoReport {
    fn failed(memo: &Path, reason: String) -> Self {
        Self {
            memo: memo.to_path_buf(),
            recorded_at: None,
            recorded_from: None,
            due_at: None,
            duration_s: None,
            draft: None,
            process_note: None,
            flags: Vec::new(),
            edited_draft_kept: None,
            status: MemoStatus::Failed(reason),
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self.status, MemoStatus::Failed(_))
    }
}

/// Shown while the batch runs (a progress bar on a terminal; nothing elsewhere).
pub trait BatchProgress: Sync {
    /// `audio_s`: the total length of the memos that will be transcribed.
    fn begin(&self, memos: usize, audio_s: f64);
    /// `audio_s` more seconds of audio are done.
    fn advance(&self, audio_s: f64, memo: &Path);
    fn memo_done(&self, report: &MemoReport);
    fn finish(&self);
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there are no memos in {}: check the folder name", path.display())]
    NoMemos { path: PathBuf },
}

/// A memo found on disk, before any work.
struct Found {
    path: PathBuf,
    stem: String,
}

/// A memo that needs transcribing.
struct Queued {
    found: Found,
    info: audio::AudioInfo,
    recorded_at: jiff::Timestamp,
    recorded_from: RecordedFrom,
    origin: DraftOrigin,
}

/// The outputs notedraft writes, which a memo folder that is also the drafts folder holds too.
fn is_own_output(name: &str) -> bool {
    name.ends_with(".draft.md")
        || name.ends_with(".draft.json")
        || name.ends_with(".process-note.md")
        || name.ends_with(".notedraft.json")
        || name.ends_with(RECORDING_SUFFIX)
        || name.ends_with(UNFINISHED_SUFFIX)
}

/// The memo files the inputs name: files as given, folders' files (not hidden, not notedraft's
/// own outputs), each once, in name order. Inputs that do not exist are reported as failures.
fn find_memos(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<MemoReport>) {
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for input in inputs {
        match std::fs::metadata(input) {
            Ok(meta) if meta.is_dir() => {
                let mut found: Vec<PathBuf> = match std::fs::read_dir(input) {
                    Ok(entries) => entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| !n.starts_with('.') && !is_own_output(n))
                        })
                        .collect(),
                    Err(e) => {
                        failures.push(MemoReport::failed(
                            input,
                            format!("the folder could not be read ({e}): check its permissions"),
                        ));
                        continue;
                    }
                };
                found.sort();
                files.extend(found);
            }
            Ok(_) => files.push(input.clone()),
            Err(e) => failures.push(MemoReport::failed(
                input,
                AudioError::from_io(input, e).to_string(),
            )),
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    (files, failures)
}

/// A draft name per memo: its file stem, or stem and extension where two memos share a stem
/// ("intake.m4a" and "intake.wav").
fn stems(files: &[PathBuf]) -> Vec<String> {
    let plain: Vec<String> = files
        .iter()
        .map(|p| {
            store::safe_stem(
                &p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for stem in &plain {
        *count.entry(stem.as_str()).or_default() += 1;
    }
    plain
        .iter()
        .zip(files)
        .map(|(stem, path)| {
            if count[stem.as_str()] > 1 {
                let ext = path
                    .extension()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_default();
                store::safe_stem(&format!("{stem}-{ext}"))
            } else {
                stem.clone()
            }
        })
        .collect()
}

fn file_time(path: &Path) -> Option<jiff::Timestamp> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    jiff::Timestamp::try_from(modified).ok()
}

/// Remove what interrupted atomic writes left behind in the drafts folder.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(".notedraft-") && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= STALE_TEMP);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// How many memos to decode at once and with how many threads each.
pub fn plan_jobs(requested: Option<usize>, threads: usize, memos: usize) -> (usize, usize) {
    let jobs = requested
        .unwrap_or(DEFAULT_JOBS)
        .clamp(1, memos.max(1))
        .min(threads.max(1));
    (jobs, (threads / jobs).max(1))
}

/// Draft every memo the inputs name. `now` decides which notes are late. The model is loaded only
/// if some memo needs transcribing.
pub fn run(
    settings: &Settings,
    inputs: &[PathBuf],
    progress: &dyn BatchProgress,
    now: jiff::Timestamp,
) -> Result<Vec<MemoReport>, BatchError> {
    let (files, mut reports) = find_memos(inputs);
    if files.is_empty() && reports.is_empty() {
        return Err(BatchError::NoMemos {
            path: inputs.first().cloned().unwrap_or_default(),
        });
    }
    let store = DraftStore::open(&settings.out_dir)?;
    remove_stale_temp_files(store.dir());
    let model = pipeline::model_name(settings)?;

    let mut queue = Vec::new();
    for (path, stem) in files.iter().zip(stems(&files)) {
        let found = Found {
            path: path.clone(),
            stem,
        };
        match examine(&found, &store, settings.format, &model) {
            Examined::Queued(q) => queue.push(*q),
            Examined::Done(report) => {
                progress.memo_done(&report);
                reports.push(*report);
            }
        }
    }
    // The oldest recording's note is due first.
    queue.sort_by_key(|q| q.recorded_at);

    if !queue.is_empty() {
        let speech = Speech::load(settings)?;
        let (jobs, threads) = plan_jobs(settings.jobs, settings.threads, queue.len());
        tracing::info!(jobs, threads, memos = queue.len(), "batch");
        let total_s: f64 = queue.iter().map(|q| q.info.duration_s).sum();
        progress.begin(queue.len(), total_s);
        let work = Mutex::new(VecDeque::from(queue));
        let done = Mutex::new(Vec::new());
        let speech = speech.with_threads(threads);
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                scope.spawn(|| {
                    loop {
                        let next = work.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                        let Some(memo) = next else { break };
                        let report = draft_memo(&speech, &store, settings, &memo, progress, now);
                        progress.memo_done(&report);
                        done.lock().unwrap_or_else(|e| e.into_inner()).push(report);
                    }
                });
            }
        });
        reports.extend(done.into_inner().unwrap_or_else(|e| e.into_inner()));
        progress.finish();
    }
    sort_for_review(&mut reports);
    Ok(reports)
}

enum Examined {
    Queued(Box<Queued>),
    Done(Box<MemoReport>),
}

/// Probe and hash a memo; say whether it needs work.
fn examine(found: &Found, store: &DraftStore, format: NoteFormat, model: &str) -> Examined {
    let info = match audio::probe_file(&found.path) {
        Ok(info) => info,
        Err(e) => return Examined::Done(Box::new(MemoReport::failed(&found.path, e.to_string()))),
    };
    let (recorded_at, recorded_from) = match info.recorded_at {
        Some(t) => (t, RecordedFrom::Metadata),
        None => (
            file_time(&found.path).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            RecordedFrom::FileTime,
        ),
    };
    let hash = match store::sha256_file(&found.path) {
        Ok(h) => h,
        Err(e) => {
            return Examined::Done(Box::new(MemoReport::failed(
                &found.path,
                AudioError::from_io(&found.path, e).to_string(),
            )));
        }
    };
    let origin = DraftOrigin {
        input_sha256: hash,
        input_path: found.path.display().to_string(),
        format: format.label().to_string(),
        model: Some(model.to_string()),
    };
    if let Some(saved) = store.find_up_to_date(&origin) {
        let flags = read_flag_codes(&saved.json);
        return Examined::Done(Box::new(MemoReport {
            memo: found.path.clone(),
            recorded_at: Some(recorded_at),
            recorded_from: Some(recorded_from),
            due_at: Some(due(recorded_at)),
            duration_s: Some(info.duration_s).filter(|d| *d > 0.0),
            draft: Some(saved.markdown),
            process_note: saved.process_note,
            flags,
            edited_draft_kept: None,
            status: MemoStatus::UpToDate,
        }));
    }
    Examined::Queued(Box::new(Queued {
        found: Found {
            path: found.path.clone(),
            stem: found.stem.clone(),
        },
        info,
        recorded_at,
        recorded_from,
        origin,
    }))
}

fn due(recorded_at: jiff::Timestamp) -> jiff::Timestamp {
    recorded_at
        .checked_add(jiff::SignedDuration::from_hours(note::NOTE_DUE_HOURS))
        .unwrap_or(recorded_at)
}

/// The flag codes of a draft already on disk (for the summary of a skipped memo).
fn read_flag_codes(json: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(json) else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    value["flags"]
        .as_array()
        .map(|flags| {
            flags
                .iter()
                .filter_map(|f| f["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn draft_memo(
    speech: &Speech,
    store: &DraftStore,
    settings: &Settings,
    memo: &Queued,
    progress: &dyn BatchProgress,
    now: jiff::Timestamp,
) -> MemoReport {
    let path = &memo.found.path;
    let duration = memo.info.duration_s;
    let mut reported = 0.0;
    let mut on_progress = |p: crate::transcribe::Progress| {
        if p.chunks_total > 0 {
            let reached = duration * p.chunks_done as f64 / p.chunks_total as f64;
            progress.advance(reached - reported, path);
            reported = reached;
        }
    };
    let result = pipeline::transcribe_file_with_progress(speech, path, &mut on_progress);
    progress.advance((duration - reported).max(0.0), path);
    let mut report = MemoReport {
        memo: path.clone(),
        recorded_at: Some(memo.recorded_at),
        recorded_from: Some(memo.recorded_from),
        due_at: Some(due(memo.recorded_at)),
        duration_s: Some(duration).filter(|d| *d > 0.0),
        draft: None,
        process_note: None,
        flags: Vec::new(),
        edited_draft_kept: None,
        status: MemoStatus::Drafted,
    };
    let heard = match result {
        Ok(heard) => heard,
        Err(e) => {
            report.status = MemoStatus::Failed(e.to_string());
            return report;
        }
    };
    report.duration_s = Some(heard.info.duration_s);
    if heard.transcript.segments.is_empty() {
        report.status = MemoStatus::Failed(
            "no speech was heard in it: check that it is the right recording".to_string(),
        );
        return report;
    }
    let source = pipeline::audio_source(path, &heard.info, speech.model_name());
    let mut draft =
        pipeline::draft_from_transcript(&heard.transcript, settings.format, source, now);
    note::mark_recorded(&mut draft, memo.recorded_at, now);
    match pipeline::save_draft(store, &memo.found.stem, &draft, &memo.origin) {
        Ok(saved) => fill_saved(&mut report, &saved, &draft),
        Err(e) => report.status = MemoStatus::Failed(e.to_string()),
    }
    report
}

fn fill_saved(report: &mut MemoReport, saved: &SavedDraft, draft: &note::draft::Draft) {
    report.draft = Some(saved.markdown.clone());
    report.process_note = saved.process_note.clone();
    report.edited_draft_kept = saved.edited_draft_kept.clone();
    report.flags = draft
        .flags
        .iter()
        .map(|f| f.code.code().to_string())
        .collect();
}

/// Drafts in order of how soon their note is due (overdue first), then the memos that failed.
pub fn sort_for_review(reports: &mut [MemoReport]) {
    reports.sort_by(|a, b| {
        a.is_failure()
            .cmp(&b.is_failure())
            .then(a.due_at.cmp(&b.due_at))
            .then(a.memo.cmp(&b.memo))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_never_exceed_the_cores_or_the_memos() {
        assert_eq!(plan_jobs(None, 2, 10), (DEFAULT_JOBS, 2 / DEFAULT_JOBS));
        assert_eq!(plan_jobs(Some(2), 2, 10), (2, 1));
        assert_eq!(plan_jobs(Some(8), 2, 10), (2, 1));
        assert_eq!(plan_jobs(Some(4), 8, 1), (1, 8));
        assert_eq!(plan_jobs(Some(0), 2, 3), (1, 2));
    }

    #[test]
    fn memos_sharing_a_name_get_drafts_of_their_own() {
        let files = [
            PathBuf::from("/m/intake.m4a"),
            PathBuf::from("/m/intake.wav"),
            PathBuf::from("/m/Jo (follow up).mp3"),
        ];
        assert_eq!(
            stems(&files),
            vec!["intake-m4a", "intake-wav", "Jo--follow-up"]
        );
    }

    #[test]
    fn a_folder_gives_its_memos_but_not_notedrafts_own_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "b.m4a",
            "a.wav",
            ".hidden.wav",
            "a.draft.md",
            "a.draft.json",
            "a.process-note.md",
            ".a.notedraft.json",
            "dictation-1.recording.wav",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let (files, failures) = find_memos(&[
            dir.path().to_path_buf(),
            dir.path().join("a.wav"),
            dir.path().join("missing.mp3"),
        ]);
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // notes.txt is offered, to be reported as not audio; a.wav is listed once.
        assert_eq!(names, ["a.wav", "b.m4a", "notes.txt"]);
        assert_eq!(failures.len(), 1);
        assert!(
            matches!(&failures[0].status, MemoStatus::Failed(why) if why.contains("was not found")),
            "{failures:?}"
        );
    }

    fn report(memo: &str, due_h: Option<i64>, failed: bool) -> MemoReport {
        let mut r = MemoReport::failed(Path::new(memo), "x".into());
        r.due_at = due_h.map(|h| jiff::Timestamp::from_second(h * 3600).unwrap());
        if !failed {
            r.status = MemoStatus::Drafted;
        }
        r
    }

    #[test]
    fn the_review_queue_puts_the_note_due_soonest_first_and_failures_last() {
        let mut reports = vec![
            report("late.wav", Some(10), false),
            report("broken.wav", None, true),
            report("overdue.wav", Some(2), false),
            report("skipped.wav", Some(5), false),
        ];
        sort_for_review(&mut reports);
        let order: Vec<&str> = reports.iter().map(|r| r.memo.to_str().unwrap()).collect();
        assert_eq!(
            order,
            ["overdue.wav", "skipped.wav", "late.wav", "broken.wav"]
        );
    }

    #[test]
    fn the_summary_json_names_the_status_and_its_reason() {
        let r = report("broken.wav", None, true);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "failed");
        assert_eq!(json["detail"], "x");
        let ok = report("fine.wav", Some(1), false);
        assert_eq!(serde_json::to_value(&ok).unwrap()["status"], "drafted");
    }
}

//! Live dictation driver: capture, live view, stop conditions, recovery of interrupted recordings.
//!
//! The microphone's sound goes, at its own rate, through the resampler to 16 kHz, onto disk (a WAV
//! whose header is kept valid as it grows, named `STEM.unfinished.wav` until the draft is written) and
//! into the live utterance cutter. Each utterance the cutter closes at a pause is transcribed straight
//! away on a worker thread, so when the clinician stops only the last sentence is left to decode; the
//! draft then comes from the same pipeline as any recorded file.
//!
//! A recording still called `*.unfinished.wav` was interrupted (crash, kill, power cut) before its
//! draft was written: [`recover`] drafts it. While a recording is being made its file is locked, so
//! recovery in another window never takes a recording that is still going.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::audio::capture::{Capture, CaptureError, CaptureEvent, InputDevice};
use crate::audio::resample::Resampler16k;
use crate::audio::vad::{LiveChunkParams, LiveChunker};
use crate::audio::wav::{self, RecordingWriter};
use crate::audio::{AudioError, Samples16k, WHISPER_RATE};
use crate::config::Settings;
use crate::note::draft::{Draft, Source, SourceKind};
use crate::note::{self, NoteFormat, Section, TimedText};
use crate::pipeline::{self, PipelineError, Speech};
use crate::store::{self, DraftOrigin, DraftStore, SavedDraft, StoreError};
use crate::transcribe::{Segment, TranscribeError, Transcript};

/// Ending of a recording whose draft has not been written yet.
pub const UNFINISHED_SUFFIX: &str = ".unfinished.wav";
/// Ending of a recording kept beside its draft.
pub const RECORDING_SUFFIX: &str = ".recording.wav";
/// How long one read from the microphone waits for sound: the loop's heartbeat.
const READ_WAIT: Duration = Duration::from_millis(40);
/// How often the live view is redrawn.
const VIEW_INTERVAL: Duration = Duration::from_millis(100);
/// Audio kept before an utterance can open, so its pre-roll is still in memory.
const KEEP_BEFORE_S: f64 = 1.0;
/// A short utterance followed by this much quiet is decoded at once, before the cutter closes it
/// (after 0.6 s), in case it is "end of dictation": the spoken stop then costs this pause, not the
/// cutter's.
const EARLY_LOOK_AFTER_S: f64 = 0.3;
/// Only utterances with at most this much speech get the early look: the stop phrase is short, and
/// a long utterance is not worth decoding twice.
const EARLY_LOOK_MAX_SPEECH_S: f64 = 3.0;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{error} The recording so far is kept at {}: run `notedraft recover` once this is fixed.",
        recording.display()
    )]
    Interrupted {
        recording: PathBuf,
        error: Box<RecordError>,
    },
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
}

/// Why recording stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// Enter was pressed.
    Enter,
    /// Ctrl-C (or the system asked notedraft to end).
    Interrupted,
    /// "End of dictation" was said.
    SpokenEnd,
    /// No speech for the configured stretch.
    Silence { seconds: f64 },
    /// The microphone stopped (unplugged, or failing).
    DeviceLost(CaptureError),
}

impl StopReason {
    /// The plain sentence shown when recording stops.
    pub fn describe(&self) -> String {
        match self {
            StopReason::Enter => "Stopped: you pressed Enter.".into(),
            StopReason::Interrupted => "Stopped: Ctrl-C. Everything you said was kept.".into(),
            StopReason::SpokenEnd => "Stopped: you said \"end of dictation\".".into(),
            StopReason::Silence { seconds } => {
                format!("Stopped after {seconds:.0} seconds without speech.")
            }
            StopReason::DeviceLost(err) => err.to_string(),
        }
    }
}

/// What can end a recording, seen by the loop between two reads from the microphone.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// Time passes; `silence_s` is how long nothing was said (since the start if nothing was).
    Tick {
        silence_s: f64,
    },
    EnterPressed,
    Interrupted,
    HeardEndOfDictation,
    DeviceEnded(CaptureError),
}

/// The stop conditions as a state machine: one `match (state, signal)` decides everything.
#[derive(Clone, Debug, PartialEq)]
pub enum RecorderState {
    Recording,
    Stopped(StopReason),
}

/// Applies the stop conditions; `silence_stop_s` of 0 or less never stops on silence.
#[derive(Clone, Debug)]
pub struct StopRule {
    pub silence_stop_s: f64,
}

impl StopRule {
    pub fn next(&self, state: RecorderState, signal: Signal) -> RecorderState {
        match (state, signal) {
            // Once stopped, nothing changes the reason.
            (stopped @ RecorderState::Stopped(_), _) => stopped,
            (RecorderState::Recording, Signal::Tick { silence_s }) => {
                if self.silence_stop_s > 0.0 && silence_s >= self.silence_stop_s {
                    RecorderState::Stopped(StopReason::Silence {
                        seconds: self.silence_stop_s,
                    })
                } else {
                    RecorderState::Recording
                }
            }
            (RecorderState::Recording, Signal::EnterPressed) => {
                RecorderState::Stopped(StopReason::Enter)
            }
            (RecorderState::Recording, Signal::Interrupted) => {
                RecorderState::Stopped(StopReason::Interrupted)
            }
            (RecorderState::Recording, Signal::HeardEndOfDictation) => {
                RecorderState::Stopped(StopReason::SpokenEnd)
            }
            (RecorderState::Recording, Signal::DeviceEnded(err)) => {
                RecorderState::Stopped(StopReason::DeviceLost(err))
            }
        }
    }
}

/// Flags the command line sets from outside the loop (a thread reading Enter, the Ctrl-C handler).
#[derive(Clone, Debug, Default)]
pub struct StopFlags {
    pub enter: Arc<AtomicBool>,
    pub interrupted: Arc<AtomicBool>,
}

/// What the live view shows on each redraw.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveStatus {
    pub elapsed_s: f64,
    /// Level of the latest sound, dBFS.
    pub level_dbfs: Option<f32>,
    pub speaking: bool,
    /// Where the latest sentence went.
    pub section: Option<Section>,
    /// Utterances heard but not yet transcribed.
    pub waiting: usize,
}

/// A sentence just recognised, with where the draft puts it.
#[derive(Clone, Debug, PartialEq)]
pub struct HeardSentence {
    pub start_s: f64,
    pub text: String,
    /// `None`: not part of a section (a heading, a command, the header, the process note).
    pub section: Option<Section>,
}

/// The terminal (or anything else) showing a recording as it happens.
pub trait LiveView {
    fn started(&mut self, device: &InputDevice, recording: &Path);
    fn tick(&mut self, status: &LiveStatus);
    fn heard(&mut self, sentences: &[HeardSentence]);
    fn stopped(&mut self, reason: &StopReason);
}

/// How a recording ended up.
#[derive(Debug)]
pub struct RecordOutcome {
    pub reason: StopReason,
    /// `None` when nothing was said.
    pub saved: Option<SavedDraft>,
    pub draft: Option<Draft>,
    /// Where the audio is now (`None` when it was not to be kept and has been deleted).
    pub recording: Option<PathBuf>,
    pub audio_s: f64,
    /// From the moment the stop was noticed to the draft on disk.
    pub stop_to_draft: Duration,
    /// Sound the computer could not take in time (ring buffer full, or the device's own overruns).
    pub lost_s: f64,
    pub overruns: u64,
}

/// A piece of the dictation for the transcription worker: samples from `start` on.
struct Job {
    start: u64,
    audio: Vec<f32>,
    /// An utterance not yet closed, decoded early only to hear whether it ends the dictation.
    early: bool,
    /// When it was handed to the worker, for the debug timings.
    sent: Instant,
}

/// What became of one job.
#[derive(Debug, PartialEq, Eq)]
enum HeardKind {
    /// A closed utterance: its text belongs in the note.
    Utterance,
    /// An early look; `ends` when it says "end of dictation" (its text is then the utterance's).
    Early { ends: bool },
    /// Not decoded: it starts after the spoken end of the dictation.
    Skipped,
}

type Decoded = Result<Vec<Segment>, TranscribeError>;

/// An early look at an utterance not yet closed: a quick listen first (see
/// [`Speech::listen_for_stop`]); only when it hears the stop with words for the note is the
/// utterance decoded properly, so those words are as good as any other utterance's.
fn early_look(
    quick: impl FnOnce() -> Decoded,
    full: impl FnOnce() -> Decoded,
) -> (HeardKind, Decoded) {
    let says = |decoded: &Decoded, check: fn(&[TimedText]) -> bool| {
        decoded.as_ref().is_ok_and(|segments| {
            let pieces: Vec<TimedText> = segments.iter().map(timed).collect();
            check(&pieces)
        })
    };
    let heard = quick();
    if says(&heard, note::says_only_end_of_dictation) {
        // Nothing of it goes in the note, so the quick listen's words will do.
        return (HeardKind::Early { ends: true }, heard);
    }
    if !says(&heard, note::says_end_of_dictation) {
        return (HeardKind::Early { ends: false }, heard);
    }
    let decoded = full();
    let ends = says(&decoded, note::says_end_of_dictation);
    (HeardKind::Early { ends }, decoded)
}

/// What the worker sends back for one job.
struct Heard {
    start: u64,
    kind: HeardKind,
    result: Result<Vec<Segment>, TranscribeError>,
}

/// The 16 kHz audio not yet handed to the transcriber, from sample `start` on.
struct Pending {
    start: u64,
    samples: Vec<f32>,
}

impl Pending {
    fn extend(&mut self, samples: &[f32]) {
        self.samples.extend_from_slice(samples);
    }

    /// A copy of `range` (clipped to what is held); everything before its end is let go.
    fn take(&mut self, range: &Range<u64>) -> Vec<f32> {
        let out = self.copy(range);
        self.drop_before(range.end);
        out
    }

    /// A copy of `range` (clipped to what is held), keeping it all.
    fn copy(&self, range: &Range<u64>) -> Vec<f32> {
        let held = self.start..self.start + self.samples.len() as u64;
        let from = (range.start.max(held.start) - held.start) as usize;
        let to = (range.end.clamp(held.start, held.end) - held.start) as usize;
        self.samples[from.min(to)..to].to_vec()
    }

    fn drop_before(&mut self, sample: u64) {
        let n = (sample.saturating_sub(self.start) as usize).min(self.samples.len());
        self.samples.drain(..n);
        self.start += n as u64;
    }
}

/// The name of a new dictation: local date and time, to the second.
pub fn new_stem(now: &jiff::Zoned) -> String {
    format!("dictation-{}", now.strftime("%Y-%m-%d-%H%M%S"))
}

/// The recordings in `dir` whose drafts were never written, oldest name first.
pub fn unfinished_recordings(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(UNFINISHED_SUFFIX) && !n.starts_with('.'))
        })
        .collect();
    found.sort();
    found
}

/// `STEM` of `STEM.unfinished.wav`.
fn stem_of_unfinished(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    store::safe_stem(name.strip_suffix(UNFINISHED_SUFFIX).unwrap_or(&name))
}

/// Record from the microphone until a stop condition, then write the draft.
pub fn record(
    settings: &Settings,
    speech: &Speech,
    flags: &StopFlags,
    view: &mut dyn LiveView,
) -> Result<RecordOutcome, RecordError> {
    let store = DraftStore::open(&settings.out_dir)?;
    let mut capture = Capture::open(settings.device.as_deref())?;
    let stem = unique_stem(&store, &new_stem(&jiff::Zoned::now()));
    let unfinished = store.dir().join(format!("{stem}{UNFINISHED_SUFFIX}"));
    let mut writer = RecordingWriter::create(&unfinished, WHISPER_RATE)?;
    let lock = lock_recording(&unfinished);
    view.started(capture.device(), &unfinished);
    let interrupted = |error: RecordError| RecordError::Interrupted {
        recording: unfinished.clone(),
        error: Box::new(error),
    };

    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (heard_tx, heard_rx) = mpsc::channel::<Heard>();
    let worker_speech = speech.clone();
    // Set by the worker when an early look hears the end: what starts there or later is not decoded,
    // so the draft does not wait for the same words a second time.
    let ended_at = Arc::new(AtomicU64::new(u64::MAX));
    let worker = thread::Builder::new()
        .name("notedraft-transcribe".into())
        .spawn(move || {
            let mut said = String::new();
            for job in job_rx {
                if job.start >= ended_at.load(Ordering::SeqCst) {
                    let skipped = Heard {
                        start: job.start,
                        kind: HeardKind::Skipped,
                        result: Ok(Vec::new()),
                    };
                    if heard_tx.send(skipped).is_err() {
                        break;
                    }
                    continue;
                }
                let queued = job.sent.elapsed();
                let audio = Samples16k::new(job.audio);
                let decode_started = Instant::now();
                let full = || {
                    worker_speech
                        .transcribe_following(&audio, &said)
                        .map(|t| t.segments)
                };
                let (kind, result) = if job.early {
                    let quick = || {
                        worker_speech
                            .listen_for_stop(&audio, &said)
                            .map(|t| t.segments)
                    };
                    early_look(quick, full)
                } else {
                    (HeardKind::Utterance, full())
                };
                if kind == (HeardKind::Early { ends: true }) {
                    ended_at.store(job.start, Ordering::SeqCst);
                }
                tracing::debug!(
                    start_s = job.start as f64 / f64::from(WHISPER_RATE),
                    audio_s = audio.duration_s(),
                    ?kind,
                    queued_s = queued.as_secs_f64(),
                    decode_s = decode_started.elapsed().as_secs_f64(),
                    "utterance decoded"
                );
                if let (HeardKind::Utterance | HeardKind::Early { ends: true }, Ok(segments)) =
                    (&kind, &result)
                {
                    for segment in segments {
                        said.push(' ');
                        said.push_str(&segment.text);
                    }
                    // Only the end is ever used as context.
                    if said.len() > 4_000 {
                        let cut = said.len() - 2_000;
                        let cut = (cut..said.len())
                            .find(|&i| said.is_char_boundary(i))
                            .unwrap_or(0);
                        said.drain(..cut);
                    }
                }
                let heard = Heard {
                    start: job.start,
                    kind,
                    result,
                };
                if heard_tx.send(heard).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| {
            interrupted(RecordError::Transcribe(TranscribeError::Engine {
                detail: e.to_string(),
            }))
        })?;

    let rule = StopRule {
        silence_stop_s: settings.silence_stop_s,
    };
    let mut live = Live {
        format: settings.format,
        segments: Vec::new(),
        jobs_sent: 0,
        jobs_done: 0,
        heard_end: false,
        last_section: None,
        failure: None,
        early_look_at: None,
    };
    let mut resampler =
        Resampler16k::new(capture.sample_rate()).map_err(|e| interrupted(e.into()))?;
    let mut chunker = LiveChunker::new(LiveChunkParams::default());
    let mut pending = Pending {
        start: 0,
        samples: Vec::new(),
    };
    let started = Instant::now();
    let mut last_view = Instant::now() - VIEW_INTERVAL;
    let mut state = RecorderState::Recording;
    let mut resampled = Vec::new();

    let take_in = |native: &[f32],
                   resampled: &mut Vec<f32>,
                   writer: &mut RecordingWriter,
                   chunker: &mut LiveChunker,
                   pending: &mut Pending,
                   live: &mut Live,
                   resampler: &mut Resampler16k|
     -> Result<(), RecordError> {
        resampled.clear();
        resampler.push_into(native, resampled);
        writer.append(resampled)?;
        pending.extend(resampled);
        for range in chunker.push(resampled) {
            let audio = pending.take(&range);
            live.jobs_sent += 1;
            let _ = job_tx.send(Job {
                start: range.start,
                audio,
                early: false,
                sent: Instant::now(),
            });
        }
        if let Some(open) = chunker.open_since()
            && live.early_look_at != Some(open)
            && live.jobs_sent == live.jobs_done
        {
            let rate = f64::from(WHISPER_RATE);
            let quiet = chunker.silence_samples();
            let speech_end = chunker.position().saturating_sub(quiet);
            if quiet as f64 >= EARLY_LOOK_AFTER_S * rate
                && speech_end.saturating_sub(open) as f64 <= EARLY_LOOK_MAX_SPEECH_S * rate
            {
                live.early_look_at = Some(open);
                live.jobs_sent += 1;
                let _ = job_tx.send(Job {
                    start: open,
                    audio: pending.copy(&(open..chunker.position())),
                    early: true,
                    sent: Instant::now(),
                });
            }
        }
        if chunker.open_since().is_none() {
            let keep = (KEEP_BEFORE_S * f64::from(WHISPER_RATE)) as u64;
            pending.drop_before(chunker.position().saturating_sub(keep));
        }
        Ok(())
    };

    while state == RecorderState::Recording {
        let native = capture.read_mono_timeout(READ_WAIT);
        take_in(
            &native,
            &mut resampled,
            &mut writer,
            &mut chunker,
            &mut pending,
            &mut live,
            &mut resampler,
        )
        .map_err(&interrupted)?;
        while let Ok(heard) = heard_rx.try_recv() {
            let sentences = live.absorb(heard);
            if !sentences.is_empty() {
                view.heard(&sentences);
            }
        }
        if let Some(err) = live.failure.take() {
            return Err(interrupted(RecordError::Transcribe(err)));
        }
        let mut signals = Vec::new();
        while let Some(event) = capture.try_event() {
            match event {
                CaptureEvent::Overrun => {}
                CaptureEvent::Ended(err) => signals.push(Signal::DeviceEnded(err)),
            }
        }
        if live.heard_end {
            signals.push(Signal::HeardEndOfDictation);
        }
        if flags.interrupted.load(Ordering::SeqCst) {
            signals.push(Signal::Interrupted);
        }
        if flags.enter.load(Ordering::SeqCst) {
            signals.push(Signal::EnterPressed);
        }
        signals.push(Signal::Tick {
            silence_s: chunker.silence_samples() as f64 / f64::from(WHISPER_RATE),
        });
        for signal in signals {
            state = rule.next(state, signal);
        }
        if last_view.elapsed() >= VIEW_INTERVAL {
            last_view = Instant::now();
            view.tick(&LiveStatus {
                elapsed_s: started.elapsed().as_secs_f64(),
                level_dbfs: chunker.level_dbfs(),
                speaking: chunker.is_speaking(),
                section: live.last_section,
                waiting: live.jobs_sent - live.jobs_done,
            });
        }
    }
    let RecorderState::Stopped(reason) = state else {
        unreachable!("the loop ends only when stopped");
    };
    let stopped_at = Instant::now();
    view.stopped(&reason);

    // The sound already in the ring buffer is part of the dictation.
    capture.stop();
    let rest = capture.read_mono();
    take_in(
        &rest,
        &mut resampled,
        &mut writer,
        &mut chunker,
        &mut pending,
        &mut live,
        &mut resampler,
    )
    .map_err(&interrupted)?;
    resampled.clear();
    resampler.finish_into(&mut resampled);
    writer
        .append(&resampled)
        .map_err(|e| interrupted(e.into()))?;
    pending.extend(&resampled);
    let mut last: Vec<Range<u64>> = chunker.push(&resampled);
    last.extend(chunker.finish());
    // After "end of dictation" nothing more belongs in the note: no need to decode it.
    if reason != StopReason::SpokenEnd {
        for range in last {
            let audio = pending.take(&range);
            live.jobs_sent += 1;
            let _ = job_tx.send(Job {
                start: range.start,
                audio,
                early: false,
                sent: Instant::now(),
            });
        }
    }
    drop(job_tx);
    for heard in heard_rx.iter() {
        let sentences = live.absorb(heard);
        if !sentences.is_empty() {
            view.heard(&sentences);
        }
    }
    if worker.join().is_err() {
        tracing::warn!("the transcription thread ended abnormally");
    }
    if let Some(err) = live.failure.take() {
        return Err(interrupted(RecordError::Transcribe(err)));
    }

    let stats = capture.stats();
    let channels = u64::from(capture.device().channels.max(1));
    let lost_s =
        stats.dropped_samples as f64 / channels as f64 / f64::from(capture.sample_rate().max(1));
    let audio_s = writer.samples_written() as f64 / f64::from(WHISPER_RATE);
    let device_name = capture.device().name.clone();
    writer.finalize().map_err(|e| interrupted(e.into()))?;
    drop(lock);

    let kept = store.dir().join(format!("{stem}{RECORDING_SUFFIX}"));
    let outcome = finish_recording(FinishRecording {
        store: &store,
        stem: &stem,
        unfinished: &unfinished,
        kept: &kept,
        keep: settings.keep_recording,
        segments: live.segments,
        audio_s,
        format: settings.format,
        model: speech.model_name(),
        device_name: &device_name,
    })
    .map_err(&interrupted)?;
    let stop_to_draft = stopped_at.elapsed();
    tracing::info!(
        "draft ready {:.2} s after the stop ({audio_s:.1} s of audio)",
        stop_to_draft.as_secs_f64()
    );
    Ok(RecordOutcome {
        reason,
        saved: outcome.saved,
        draft: outcome.draft,
        recording: outcome.recording,
        audio_s,
        stop_to_draft,
        lost_s,
        overruns: stats.overruns,
    })
}

/// The live state of the dictation: what has been heard so far.
struct Live {
    format: NoteFormat,
    segments: Vec<Segment>,
    jobs_sent: usize,
    jobs_done: usize,
    heard_end: bool,
    last_section: Option<Section>,
    failure: Option<TranscribeError>,
    /// The open utterance (by its start) that was given an early look.
    early_look_at: Option<u64>,
}

impl Live {
    /// Take in what the worker heard; returns the new sentences with where they go.
    fn absorb(&mut self, heard: Heard) -> Vec<HeardSentence> {
        self.jobs_done += 1;
        let Heard {
            start,
            kind,
            result,
        } = heard;
        match kind {
            HeardKind::Utterance => {}
            HeardKind::Early { ends: true } => self.heard_end = true,
            // The utterance will be decoded whole once it closes; a failed early look changes nothing.
            HeardKind::Early { ends: false } | HeardKind::Skipped => return Vec::new(),
        }
        let segments = match result {
            Ok(segments) => segments,
            Err(err) => {
                self.failure.get_or_insert(err);
                return Vec::new();
            }
        };
        let offset = start as f64 / f64::from(WHISPER_RATE);
        let first_new = self.segments.len();
        self.segments.extend(segments.into_iter().map(|s| Segment {
            start_s: s.start_s + offset,
            end_s: s.end_s + offset,
            text: s.text,
        }));
        // The worker handles jobs in order, but keep the order by time whatever happens.
        self.segments
            .sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        if self.segments.len() == first_new {
            return Vec::new();
        }
        // "End of" at the end of one utterance and "dictation" at the start of the next still count.
        let recent: Vec<TimedText> = self.segments[first_new.saturating_sub(1)..]
            .iter()
            .map(timed)
            .collect();
        if note::says_end_of_dictation(&recent) {
            self.heard_end = true;
        }
        let draft = pipeline::draft_from_transcript(
            &Transcript {
                segments: self.segments.clone(),
                duration_s: 0.0,
            },
            self.format,
            live_source(),
            jiff::Timestamp::now(),
        );
        let new_from = self.segments[first_new].start_s - 1e-6;
        let heard = heard_sentences(&draft, new_from);
        if let Some(section) = heard.iter().rev().find_map(|s| s.section) {
            self.last_section = Some(section);
        }
        heard
    }
}

fn timed(segment: &Segment) -> TimedText {
    TimedText {
        text: segment.text.clone(),
        start_s: Some(segment.start_s),
        end_s: Some(segment.end_s),
    }
}

fn live_source() -> Source {
    Source {
        kind: SourceKind::Audio,
        path: String::new(),
        duration_s: None,
        model: None,
    }
}

/// The draft's sentences that begin at or after `from_s`, in spoken order, with their sections.
pub fn heard_sentences(draft: &Draft, from_s: f64) -> Vec<HeardSentence> {
    let mut out: Vec<HeardSentence> = Vec::new();
    for section in &draft.sections {
        for sentence in &section.sentences {
            if let Some(start_s) = sentence.start_s.filter(|&s| s >= from_s) {
                out.push(HeardSentence {
                    start_s,
                    text: sentence.text.clone(),
                    section: Some(section.name),
                });
            }
        }
    }
    for sentence in &draft.session.sentences {
        if let Some(start_s) = sentence.start_s.filter(|&s| s >= from_s) {
            out.push(HeardSentence {
                start_s,
                text: sentence.text.clone(),
                section: None,
            });
        }
    }
    for excluded in &draft.excluded {
        if let Some(start_s) = excluded.start_s.filter(|&s| s >= from_s) {
            out.push(HeardSentence {
                start_s,
                text: excluded.text.clone(),
                section: None,
            });
        }
    }
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

struct FinishRecording<'a> {
    store: &'a DraftStore,
    stem: &'a str,
    unfinished: &'a Path,
    kept: &'a Path,
    keep: bool,
    segments: Vec<Segment>,
    audio_s: f64,
    format: NoteFormat,
    model: &'a str,
    device_name: &'a str,
}

struct Finished {
    saved: Option<SavedDraft>,
    draft: Option<Draft>,
    recording: Option<PathBuf>,
}

/// Draft a finished (or recovered) recording and put the audio where it belongs.
fn finish_recording(job: FinishRecording<'_>) -> Result<Finished, RecordError> {
    if job.segments.is_empty() {
        // Nothing was said (or the microphone heard nothing): the audio is kept so that it can be
        // checked, under the name of a finished recording so recovery does not take it up again.
        rename_into_place(job.unfinished, job.kept)?;
        return Ok(Finished {
            saved: None,
            draft: None,
            recording: Some(job.kept.to_path_buf()),
        });
    }
    let recording_path = if job.keep {
        job.kept.display().to_string()
    } else {
        format!("microphone \"{}\"", job.device_name)
    };
    let source = Source {
        kind: SourceKind::Audio,
        path: recording_path,
        duration_s: Some((job.audio_s * 1000.0).round() / 1000.0),
        model: Some(job.model.to_string()),
    };
    let transcript = Transcript {
        segments: job.segments,
        duration_s: job.audio_s,
    };
    let draft =
        pipeline::draft_from_transcript(&transcript, job.format, source, jiff::Timestamp::now());
    let origin = DraftOrigin {
        input_sha256: store::sha256_file(job.unfinished)
            .map_err(|e| RecordError::Audio(AudioError::from_io(job.unfinished, e)))?,
        input_path: job.kept.display().to_string(),
        format: job.format.label().to_string(),
        model: Some(job.model.to_string()),
    };
    let saved = pipeline::save_draft(job.store, job.stem, &draft, &origin)?;
    let recording = if job.keep {
        rename_into_place(job.unfinished, job.kept)?;
        Some(job.kept.to_path_buf())
    } else {
        std::fs::remove_file(job.unfinished)
            .map_err(|e| RecordError::Audio(AudioError::from_io(job.unfinished, e)))?;
        None
    };
    Ok(Finished {
        saved: Some(saved),
        draft: Some(draft),
        recording,
    })
}

fn rename_into_place(from: &Path, to: &Path) -> Result<(), RecordError> {
    std::fs::rename(from, to).map_err(|e| {
        RecordError::Audio(AudioError::Write {
            path: to.to_path_buf(),
            detail: e.to_string(),
        })
    })
}

/// `stem`, or `stem-2`, `stem-3`, ... when a recording or draft of that name is already there
/// (two dictations in the same second).
fn unique_stem(store: &DraftStore, stem: &str) -> String {
    let taken = |s: &str| {
        let (md, _, _) = store.paths(s);
        md.exists()
            || store.dir().join(format!("{s}{UNFINISHED_SUFFIX}")).exists()
            || store.dir().join(format!("{s}{RECORDING_SUFFIX}")).exists()
    };
    if !taken(stem) {
        return stem.to_string();
    }
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|s| !taken(s))
        .unwrap_or_else(|| stem.to_string())
}

/// Hold an exclusive lock on the recording while it is being made (released when the process
/// ends, however it ends). `None` where the file system does not lock: recording goes on.
fn lock_recording(path: &Path) -> Option<File> {
    let file = File::open(path).ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(err) => {
            tracing::debug!("could not lock {}: {err:?}", path.display());
            None
        }
    }
}

/// Whether another notedraft is recording into this file now.
fn being_recorded(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// What recovering one interrupted recording gave.
#[derive(Debug)]
pub enum Recovered {
    Drafted {
        saved: SavedDraft,
        draft: Box<Draft>,
        recording: Option<PathBuf>,
        audio_s: f64,
    },
    /// The recording holds no speech; it is kept under its finished name.
    NoSpeech { recording: PathBuf, audio_s: f64 },
    /// Another notedraft is still recording into it.
    StillRecording,
}

/// Draft an interrupted recording: repair its header, transcribe it, write the draft beside it.
pub fn recover(
    settings: &Settings,
    speech: &Speech,
    unfinished: &Path,
) -> Result<Recovered, RecordError> {
    if being_recorded(unfinished) {
        return Ok(Recovered::StillRecording);
    }
    let repair = wav::repair_header(unfinished)?;
    if repair.rewritten {
        tracing::info!(
            "repaired the header of {} ({} samples)",
            unfinished.display(),
            repair.frames
        );
    }
    let heard = pipeline::transcribe_file(speech, unfinished)?;
    let dir = unfinished.parent().unwrap_or(Path::new("."));
    let store = DraftStore::open(dir)?;
    let stem = stem_of_unfinished(unfinished);
    let kept = store.dir().join(format!("{stem}{RECORDING_SUFFIX}"));
    let audio_s = heard.info.duration_s;
    let finished = finish_recording(FinishRecording {
        store: &store,
        stem: &stem,
        unfinished,
        kept: &kept,
        keep: settings.keep_recording,
        segments: heard.transcript.segments,
        audio_s,
        format: settings.format,
        model: speech.model_name(),
        device_name: "microphone",
    })?;
    Ok(match (finished.saved, finished.draft) {
        (Some(saved), Some(draft)) => Recovered::Drafted {
            saved,
            draft: Box::new(draft),
            recording: finished.recording,
            audio_s,
        },
        _ => Recovered::NoSpeech {
            recording: kept,
            audio_s,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(silence: f64) -> StopRule {
        StopRule {
            silence_stop_s: silence,
        }
    }

    #[test]
    fn ticks_keep_recording_until_the_silence_limit() {
        let r = rule(30.0);
        assert_eq!(
            r.next(RecorderState::Recording, Signal::Tick { silence_s: 29.9 }),
            RecorderState::Recording
        );
        assert_eq!(
            r.next(RecorderState::Recording, Signal::Tick { silence_s: 30.0 }),
            RecorderState::Stopped(StopReason::Silence { seconds: 30.0 })
        );
    }

    #[test]
    fn a_silence_limit_of_zero_never_stops() {
        assert_eq!(
            rule(0.0).next(RecorderState::Recording, Signal::Tick { silence_s: 1e6 }),
            RecorderState::Recording
        );
    }

    #[test]
    fn enter_ctrl_c_spoken_end_and_a_lost_device_each_stop_with_their_reason() {
        let r = rule(30.0);
        let cases = [
            (Signal::EnterPressed, StopReason::Enter),
            (Signal::Interrupted, StopReason::Interrupted),
            (Signal::HeardEndOfDictation, StopReason::SpokenEnd),
            (
                Signal::DeviceEnded(CaptureError::Unplugged { device: "x".into() }),
                StopReason::DeviceLost(CaptureError::Unplugged { device: "x".into() }),
            ),
        ];
        for (signal, reason) in cases {
            assert_eq!(
                r.next(RecorderState::Recording, signal),
                RecorderState::Stopped(reason)
            );
        }
    }

    #[test]
    fn the_first_stop_reason_stands() {
        let r = rule(1.0);
        let stopped = RecorderState::Stopped(StopReason::SpokenEnd);
        for signal in [
            Signal::EnterPressed,
            Signal::Interrupted,
            Signal::Tick { silence_s: 99.0 },
            Signal::DeviceEnded(CaptureError::NoMicrophone),
        ] {
            assert_eq!(r.next(stopped.clone(), signal), stopped);
        }
    }

    #[test]
    fn pending_audio_hands_out_ranges_and_lets_go_of_what_came_before() {
        let mut pending = Pending {
            start: 0,
            samples: Vec::new(),
        };
        pending.extend(&(0..100).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(
            pending.take(&(10..20)),
            (10..20).map(|i| i as f32).collect::<Vec<_>>()
        );
        assert_eq!(pending.start, 20);
        // A range reaching before what is held is clipped, not an error.
        assert_eq!(pending.take(&(15..22)), vec![20.0, 21.0]);
        pending.drop_before(90);
        assert_eq!(
            pending.take(&(95..200)),
            (95..100).map(|i| i as f32).collect::<Vec<_>>()
        );
        assert!(pending.samples.is_empty());
    }

    #[test]
    fn stems_are_the_local_date_and_time() {
        let now: jiff::Zoned = "2026-03-04T17:05:09-05:00[America/New_York]"
            .parse()
            .unwrap();
        assert_eq!(new_stem(&now), "dictation-2026-03-04-170509");
    }

    #[test]
    fn unfinished_recordings_are_found_and_named_back_to_their_stem() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "dictation-2026-03-04-170509.unfinished.wav",
            "dictation-2026-03-04-120000.unfinished.wav",
            "dictation-2026-03-04-100000.recording.wav",
            "memo.wav",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found = unfinished_recordings(dir.path());
        assert_eq!(found.len(), 2);
        assert_eq!(stem_of_unfinished(&found[0]), "dictation-2026-03-04-120000");
    }

    #[test]
    fn a_recording_being_made_is_locked_against_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.unfinished.wav");
        std::fs::write(&path, b"RIFF").unwrap();
        let lock = lock_recording(&path).expect("temp dirs lock");
        assert!(being_recorded(&path));
        drop(lock);
        assert!(!being_recorded(&path));
    }

    fn draft_of(text: &str) -> Draft {
        pipeline::draft_from_transcript(
            &Transcript {
                segments: text
                    .split_inclusive('.')
                    .enumerate()
                    .map(|(i, t)| Segment {
                        start_s: i as f64 * 3.0,
                        end_s: i as f64 * 3.0 + 2.5,
                        text: t.trim().to_string(),
                    })
                    .collect(),
                duration_s: 30.0,
            },
            NoteFormat::Soap,
            live_source(),
            jiff::Timestamp::UNIX_EPOCH,
        )
    }

    #[test]
    fn heard_sentences_say_where_each_new_sentence_went() {
        let draft = draft_of(
            "Subjective. Client reports she slept better this week. Objective. She denies suicidal ideation. Plan. Continue CBT weekly.",
        );
        let all = heard_sentences(&draft, 0.0);
        let placed: Vec<(String, Option<Section>)> =
            all.iter().map(|h| (h.text.clone(), h.section)).collect();
        assert_eq!(
            placed,
            vec![
                ("Subjective.".to_string(), None),
                (
                    "Client reports she slept better this week.".to_string(),
                    Some(Section::Subjective)
                ),
                ("Objective.".to_string(), None),
                (
                    "She denies suicidal ideation.".to_string(),
                    Some(Section::Objective)
                ),
                ("Plan.".to_string(), None),
                ("Continue CBT weekly.".to_string(), Some(Section::Plan)),
            ]
        );
        let later = heard_sentences(&draft, 12.0);
        assert_eq!(later.len(), 2, "{later:?}");
    }

    fn live() -> Live {
        Live {
            format: NoteFormat::Soap,
            segments: Vec::new(),
            jobs_sent: 0,
            jobs_done: 0,
            heard_end: false,
            last_section: None,
            failure: None,
            early_look_at: None,
        }
    }

    fn heard(start_s: f64, kind: HeardKind, text: &str) -> Heard {
        Heard {
            start: (start_s * 16_000.0) as u64,
            kind,
            result: decoded(text),
        }
    }

    #[test]
    fn an_utterance_saying_end_of_dictation_is_noticed_even_split_in_two() {
        let mut live = live();
        live.jobs_sent = 2;
        live.absorb(heard(
            0.0,
            HeardKind::Utterance,
            "Plan. Continue CBT weekly. End of",
        ));
        assert!(!live.heard_end);
        assert_eq!(live.last_section, Some(Section::Plan));
        live.absorb(heard(3.0, HeardKind::Utterance, "dictation."));
        assert!(live.heard_end);
        assert_eq!(live.jobs_done, 2);
    }

    fn decoded(text: &str) -> Decoded {
        Ok(vec![Segment {
            start_s: 0.0,
            end_s: 2.0,
            text: text.into(),
        }])
    }

    #[test]
    fn an_early_look_at_the_stop_alone_takes_the_quick_listen() {
        let (kind, result) = early_look(
            || decoded("Okay, end of dictation."),
            || panic!("the stop alone is not decoded again"),
        );
        assert_eq!(kind, HeardKind::Early { ends: true });
        assert_eq!(result.unwrap()[0].text, "Okay, end of dictation.");
    }

    #[test]
    fn words_for_the_note_said_with_the_stop_are_decoded_properly() {
        let (kind, result) = early_look(
            || decoded("Next session Monday, sir tra line. End of dictation."),
            || decoded("Next session Monday, sertraline. End of dictation."),
        );
        assert_eq!(kind, HeardKind::Early { ends: true });
        assert_eq!(
            result.unwrap()[0].text,
            "Next session Monday, sertraline. End of dictation."
        );
        // The proper decode has the last word: without the stop in it, recording goes on.
        let (kind, _) = early_look(
            || decoded("Next session Monday. End of dictation."),
            || decoded("Next session Monday, and of addition."),
        );
        assert_eq!(kind, HeardKind::Early { ends: false });
    }

    #[test]
    fn an_early_look_that_hears_no_stop_decodes_nothing_more() {
        let (kind, _) = early_look(
            || decoded("Objective."),
            || panic!("no stop, no second decode"),
        );
        assert_eq!(kind, HeardKind::Early { ends: false });
        let (kind, _) = early_look(
            || {
                Err(TranscribeError::Engine {
                    detail: "test".into(),
                })
            },
            || panic!("a failed look changes nothing"),
        );
        assert_eq!(kind, HeardKind::Early { ends: false });
    }

    #[test]
    fn an_early_look_that_hears_the_end_stops_and_its_words_are_kept_once() {
        let mut live = live();
        live.absorb(heard(
            0.0,
            HeardKind::Utterance,
            "Plan. Continue CBT weekly.",
        ));
        live.absorb(heard(
            5.0,
            HeardKind::Early { ends: true },
            "End of dictation.",
        ));
        assert!(live.heard_end);
        // The same utterance, closed later, is skipped by the worker and adds nothing.
        live.absorb(heard(5.0, HeardKind::Skipped, "End of dictation."));
        let texts: Vec<&str> = live.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Plan. Continue CBT weekly.", "End of dictation."]);
        assert_eq!(live.segments[1].start_s, 5.0);
        assert_eq!(live.jobs_done, 3);
    }

    #[test]
    fn an_early_look_at_anything_else_is_let_go() {
        let mut live = live();
        let sentences = live.absorb(heard(0.0, HeardKind::Early { ends: false }, "Objective."));
        assert!(sentences.is_empty());
        assert!(live.segments.is_empty());
        assert!(!live.heard_end);
        assert_eq!(live.jobs_done, 1);
        let sentences = live.absorb(heard(
            0.0,
            HeardKind::Utterance,
            "Objective. She arrived on time.",
        ));
        assert!(sentences.iter().any(|s| s.text == "She arrived on time."));
        assert_eq!(live.segments.len(), 1);
    }

    #[test]
    fn pending_audio_can_be_copied_without_letting_go() {
        let mut pending = Pending {
            start: 100,
            samples: (0..50).map(|i| i as f32).collect(),
        };
        assert_eq!(pending.copy(&(110..113)), vec![10.0, 11.0, 12.0]);
        assert_eq!(pending.samples.len(), 50);
        assert_eq!(pending.take(&(110..113)), vec![10.0, 11.0, 12.0]);
        assert_eq!(pending.start, 113);
    }
}

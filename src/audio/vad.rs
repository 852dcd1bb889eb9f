//! Speech and pause detection shared by live chunking, batch silence skipping and the silence guard.
//!
//! Each 16 ms frame (256 samples at 16 kHz) gets a speech probability from the `earshot` neural detector
//! and a level in dBFS; a frame counts as voiced when the probability passes a threshold (a lower one
//! once speech is under way, so soft word endings stay in) and the level is above an energy floor (so
//! a muted microphone or faint room noise is never "speech", whatever the network thinks).
//!
//! On top of the frames:
//! - [`SpeechDetector`] (streaming): an utterance opens after a short run of voiced frames (clicks do not
//!   open one), starts a little before the onset (pre-roll), survives gaps shorter than the pause length
//!   and closes after a pause of at least `min_pause_s`.
//! - [`speech_regions`]: the same utterances over a whole recording, as padded sample ranges.
//! - [`plan_chunks`]: what the transcriber decodes: contiguous ranges of at most `max_chunk_s` that cover
//!   all speech, cut inside pauses, with long silences left out so they cost no decoding time.
//! - [`has_speech`]: the silence guard.
//! - [`LiveChunker`] (streaming): the utterances live dictation transcribes while the clinician talks,
//!   cut at the short pauses between sentences so that little is left to decode when they stop.

use std::collections::VecDeque;
use std::ops::Range;

use super::{Samples16k, WHISPER_RATE};

/// Samples per detector frame (16 ms at 16 kHz), fixed by `earshot`.
pub const FRAME_SAMPLES: usize = 256;

const FRAME_S: f32 = FRAME_SAMPLES as f32 / WHISPER_RATE as f32;

/// How speech is told from silence. [`VadParams::default`] suits dictation into a laptop or phone.
#[derive(Clone, Debug, PartialEq)]
pub struct VadParams {
    /// Speech probability a frame needs to start (or restart) speech.
    pub threshold: f32,
    /// Lower probability that keeps speech going once it has started.
    pub continue_threshold: f32,
    /// Frames quieter than this (RMS, dB relative to full scale) are never speech.
    pub energy_floor_dbfs: f32,
    /// Frames must also be this far above the background level (the quietest frame of the last
    /// `noise_window_s`), so steady hiss, fans and hum never count as speech.
    pub noise_margin_db: f32,
    /// How far back the background level is looked for.
    pub noise_window_s: f32,
    /// Voiced audio needed in a row before an utterance opens (filters clicks and taps).
    pub min_onset_s: f32,
    /// A pause at least this long closes an utterance; shorter gaps stay inside it.
    pub min_pause_s: f32,
    /// Audio kept before the detected onset, so soft first syllables are not clipped.
    pub pre_roll_s: f32,
    /// Audio kept after the last voiced frame.
    pub post_roll_s: f32,
}

impl Default for VadParams {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            continue_threshold: 0.3,
            energy_floor_dbfs: -55.0,
            noise_margin_db: 6.0,
            noise_window_s: 3.0,
            min_onset_s: 0.08,
            min_pause_s: 0.6,
            pre_roll_s: 0.3,
            post_roll_s: 0.2,
        }
    }
}

impl VadParams {
    fn frames(seconds: f32) -> usize {
        (seconds / FRAME_S).round().max(0.0) as usize
    }

    fn samples(seconds: f32) -> u64 {
        (seconds * WHISPER_RATE as f32).round().max(0.0) as u64
    }
}

/// What the detector made of one 16 ms frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameActivity {
    /// `earshot`'s speech probability, 0..=1.
    pub probability: f32,
    /// RMS level in dBFS (-120 for digital silence).
    pub level_dbfs: f32,
    /// The decision after the energy floor and the two thresholds.
    pub voiced: bool,
}

/// Frame-level classifier: earshot probability, energy floors and threshold hysteresis.
struct FrameClassifier {
    detector: Box<earshot::Detector>,
    params: VadParams,
    previous_voiced: bool,
    scratch: [f32; FRAME_SAMPLES],
    /// Recent frame levels for the background estimate: a sliding-window minimum, kept as
    /// (frame index, level) with levels increasing from front to back.
    recent_levels: VecDeque<(u64, f32)>,
    window_frames: u64,
    frame_index: u64,
}

impl FrameClassifier {
    fn new(params: VadParams) -> Self {
        let window_frames = VadParams::frames(params.noise_window_s).max(1) as u64;
        Self {
            detector: earshot::Detector::default_boxed(),
            params,
            previous_voiced: false,
            scratch: [0.0; FRAME_SAMPLES],
            recent_levels: VecDeque::new(),
            window_frames,
            frame_index: 0,
        }
    }

    /// The quietest level among the last `noise_window_s` of frames, this one included.
    fn background_level(&mut self, level_dbfs: f32) -> f32 {
        let index = self.frame_index;
        self.frame_index += 1;
        while self
            .recent_levels
            .back()
            .is_some_and(|&(_, l)| l >= level_dbfs)
        {
            self.recent_levels.pop_back();
        }
        self.recent_levels.push_back((index, level_dbfs));
        while self
            .recent_levels
            .front()
            .is_some_and(|&(i, _)| i + self.window_frames <= index)
        {
            self.recent_levels.pop_front();
        }
        self.recent_levels.front().map_or(level_dbfs, |&(_, l)| l)
    }

    fn classify(&mut self, frame: &[f32]) -> FrameActivity {
        debug_assert_eq!(frame.len(), FRAME_SAMPLES);
        let mut energy = 0.0f64;
        for (dst, &src) in self.scratch.iter_mut().zip(frame) {
            // earshot requires -1..=1; resampled audio can overshoot a little.
            let v = if src.is_finite() {
                src.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            *dst = v;
            energy += f64::from(v) * f64::from(v);
        }
        let rms = (energy / FRAME_SAMPLES as f64).sqrt();
        let level_dbfs = if rms > 1e-6 {
            (20.0 * rms.log10()) as f32
        } else {
            -120.0
        };
        let background = self.background_level(level_dbfs);
        let probability = self.detector.predict_f32(&self.scratch);
        let needed = if self.previous_voiced {
            self.params.continue_threshold
        } else {
            self.params.threshold
        };
        let voiced = probability >= needed
            && level_dbfs >= self.params.energy_floor_dbfs
            && level_dbfs >= background + self.params.noise_margin_db;
        self.previous_voiced = voiced;
        FrameActivity {
            probability,
            level_dbfs,
            voiced,
        }
    }
}

/// A change in whether someone is speaking, in samples since the detector started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VadEvent {
    /// An utterance began; `sample` includes the pre-roll.
    SpeechStart { sample: u64 },
    /// The utterance ended; `sample` includes the post-roll. Reported once the pause has lasted
    /// `min_pause_s`, so `sample` lies in the past.
    SpeechEnd { sample: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UtteranceState {
    Idle,
    /// Voiced frames seen in a row since `first_frame`, not yet enough to open an utterance.
    Onset {
        first_frame: u64,
        run: usize,
    },
    Speaking {
        last_voiced_frame: u64,
    },
}

/// Streaming utterance detector over 16 kHz mono audio pushed in pieces of any size.
pub struct SpeechDetector {
    classifier: FrameClassifier,
    params: VadParams,
    /// Samples not yet making up a whole frame.
    partial: Vec<f32>,
    frames_seen: u64,
    state: UtteranceState,
    /// Where the last utterance ended, so the next pre-roll does not reach back into it.
    last_end: u64,
    last_activity: Option<FrameActivity>,
}

impl SpeechDetector {
    pub fn new(params: VadParams) -> Self {
        Self {
            classifier: FrameClassifier::new(params.clone()),
            params,
            partial: Vec::with_capacity(FRAME_SAMPLES),
            frames_seen: 0,
            state: UtteranceState::Idle,
            last_end: 0,
            last_activity: None,
        }
    }

    /// Feed samples; returns the utterance starts and ends they revealed.
    pub fn push(&mut self, samples: &[f32]) -> Vec<VadEvent> {
        let mut events = Vec::new();
        self.push_with(samples, &mut events, |_| {});
        events
    }

    /// Whether an utterance is open now.
    pub fn is_speaking(&self) -> bool {
        matches!(self.state, UtteranceState::Speaking { .. })
    }

    /// The most recent frame's analysis (for a live level/speech indicator).
    pub fn last_activity(&self) -> Option<FrameActivity> {
        self.last_activity
    }

    /// Samples consumed so far, in whole frames.
    pub fn position(&self) -> u64 {
        self.frames_seen * FRAME_SAMPLES as u64
    }

    /// End of input: a trailing partial frame is analysed (zero-padded) and an open utterance is closed.
    pub fn finish(mut self) -> Vec<VadEvent> {
        let mut events = Vec::new();
        let total = self.position() + self.partial.len() as u64;
        if !self.partial.is_empty() {
            let mut frame = std::mem::take(&mut self.partial);
            frame.resize(FRAME_SAMPLES, 0.0);
            self.step(&frame, &mut events);
        }
        if let UtteranceState::Speaking { last_voiced_frame } = self.state {
            let end = self.utterance_end(last_voiced_frame).min(total);
            events.push(VadEvent::SpeechEnd { sample: end });
        }
        events
    }

    fn push_with(
        &mut self,
        samples: &[f32],
        events: &mut Vec<VadEvent>,
        mut on_frame: impl FnMut(FrameActivity),
    ) {
        self.push_each(samples, |activity, revealed| {
            on_frame(activity);
            events.extend_from_slice(revealed);
        });
    }

    /// Feed samples; `on_frame` gets each whole frame's analysis with the events that frame revealed.
    fn push_each(&mut self, samples: &[f32], mut on_frame: impl FnMut(FrameActivity, &[VadEvent])) {
        let mut revealed = Vec::with_capacity(1);
        let mut rest = samples;
        if !self.partial.is_empty() {
            let take = (FRAME_SAMPLES - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() < FRAME_SAMPLES {
                return;
            }
            let frame = std::mem::take(&mut self.partial);
            let activity = self.step(&frame, &mut revealed);
            on_frame(activity, &revealed);
            revealed.clear();
            self.partial = frame;
            self.partial.clear();
        }
        let mut frames = rest.chunks_exact(FRAME_SAMPLES);
        for frame in &mut frames {
            let activity = self.step(frame, &mut revealed);
            on_frame(activity, &revealed);
            revealed.clear();
        }
        self.partial.extend_from_slice(frames.remainder());
    }

    fn utterance_end(&self, last_voiced_frame: u64) -> u64 {
        (last_voiced_frame + 1) * FRAME_SAMPLES as u64 + VadParams::samples(self.params.post_roll_s)
    }

    fn step(&mut self, frame: &[f32], events: &mut Vec<VadEvent>) -> FrameActivity {
        let activity = self.classifier.classify(frame);
        self.last_activity = Some(activity);
        let index = self.frames_seen;
        self.frames_seen += 1;
        let onset_frames = VadParams::frames(self.params.min_onset_s).max(1);
        let pause_frames = VadParams::frames(self.params.min_pause_s).max(1) as u64;
        self.state = match (self.state, activity.voiced) {
            (UtteranceState::Idle, false) => UtteranceState::Idle,
            (UtteranceState::Idle, true) => UtteranceState::Onset {
                first_frame: index,
                run: 1,
            },
            (UtteranceState::Onset { .. }, false) => UtteranceState::Idle,
            (UtteranceState::Onset { first_frame, run }, true) => {
                if run + 1 >= onset_frames {
                    let onset = first_frame * FRAME_SAMPLES as u64;
                    let start = onset
                        .saturating_sub(VadParams::samples(self.params.pre_roll_s))
                        .max(self.last_end);
                    events.push(VadEvent::SpeechStart { sample: start });
                    UtteranceState::Speaking {
                        last_voiced_frame: index,
                    }
                } else {
                    UtteranceState::Onset {
                        first_frame,
                        run: run + 1,
                    }
                }
            }
            (UtteranceState::Speaking { .. }, true) => UtteranceState::Speaking {
                last_voiced_frame: index,
            },
            (UtteranceState::Speaking { last_voiced_frame }, false) => {
                if index - last_voiced_frame >= pause_frames {
                    let end = self.utterance_end(last_voiced_frame);
                    self.last_end = end;
                    events.push(VadEvent::SpeechEnd { sample: end });
                    UtteranceState::Idle
                } else {
                    UtteranceState::Speaking { last_voiced_frame }
                }
            }
        };
        activity
    }
}

/// Per-frame analysis and utterances of a whole recording, computed in one pass.
struct Analysis {
    frames: Vec<FrameActivity>,
    regions: Vec<Range<usize>>,
}

fn analyse(samples: &[f32], params: &VadParams) -> Analysis {
    let mut detector = SpeechDetector::new(params.clone());
    let mut events = Vec::new();
    let mut frames = Vec::with_capacity(samples.len() / FRAME_SAMPLES + 1);
    detector.push_with(samples, &mut events, |a| frames.push(a));
    events.extend(detector.finish());
    let len = samples.len();
    let mut regions = Vec::new();
    let mut open: Option<usize> = None;
    for event in events {
        match event {
            VadEvent::SpeechStart { sample } => open = Some((sample as usize).min(len)),
            VadEvent::SpeechEnd { sample } => {
                if let Some(start) = open.take() {
                    let end = (sample as usize).min(len);
                    if end > start {
                        regions.push(start..end);
                    }
                }
            }
        }
    }
    Analysis { frames, regions }
}

/// The speech probability and level of every 16 ms frame (the last one zero-padded).
pub fn frame_activity(samples: &Samples16k, params: &VadParams) -> Vec<FrameActivity> {
    analyse(samples.as_slice(), params).frames
}

/// Sample ranges of the utterances in a whole recording, padded by the pre- and post-roll.
pub fn speech_regions(samples: &Samples16k, params: &VadParams) -> Vec<Range<usize>> {
    analyse(samples.as_slice(), params).regions
}

/// Total voiced audio needed for a recording to count as containing speech.
const MIN_SPEECH_TOTAL_S: f32 = 0.25;

/// The silence guard: whether the recording holds any speech at all.
pub fn has_speech(samples: &Samples16k) -> bool {
    let analysis = analyse(samples.as_slice(), &VadParams::default());
    let voiced = analysis.frames.iter().filter(|f| f.voiced).count();
    !analysis.regions.is_empty() && voiced >= VadParams::frames(MIN_SPEECH_TOTAL_S)
}

/// How a recording is cut into pieces for the transcriber.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkParams {
    pub vad: VadParams,
    /// Longest chunk, in seconds (Whisper's window is 30 s).
    pub max_chunk_s: f32,
    /// A pause at least this long (speech to speech) ends a chunk, and the silence inside it is left
    /// out. Shorter pauses stay inside chunks, where they give the model context.
    pub drop_pause_s: f32,
    /// Shortest run of unvoiced frames that may serve as a cut inside continuous speech.
    pub min_cut_pause_s: f32,
}

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            vad: VadParams::default(),
            max_chunk_s: 28.0,
            drop_pause_s: 2.0,
            min_cut_pause_s: 0.048,
        }
    }
}

/// Chunks for the transcriber with default detection: see [`plan_chunks_with`].
pub fn plan_chunks(samples: &Samples16k, max_chunk_s: f32) -> Vec<Range<usize>> {
    plan_chunks_with(
        samples,
        &ChunkParams {
            max_chunk_s,
            ..ChunkParams::default()
        },
    )
}

/// Cut a recording into sample ranges of at most `max_chunk_s` that together cover all detected speech.
///
/// Utterances separated by less than `drop_pause_s` are kept together in one stretch; longer silences
/// fall between chunks and are not decoded. A stretch longer than the maximum is cut at the longest pause
/// in the second half of the allowed length (else the longest anywhere in it), in the middle of that
/// pause; only when there is no pause at all is it cut at the maximum length. Ranges are in order, do not
/// overlap, and are given on the recording's own timeline, so chunk times add to the range start.
pub fn plan_chunks_with(samples: &Samples16k, params: &ChunkParams) -> Vec<Range<usize>> {
    let analysis = analyse(samples.as_slice(), &params.vad);
    plan_from_analysis(&analysis, params)
}

fn plan_from_analysis(analysis: &Analysis, params: &ChunkParams) -> Vec<Range<usize>> {
    let max_len = ((params.max_chunk_s * WHISPER_RATE as f32) as usize).max(FRAME_SAMPLES);
    let padding = VadParams::samples(params.vad.pre_roll_s + params.vad.post_roll_s) as usize;
    let drop_gap = VadParams::samples(params.drop_pause_s) as usize;

    // Stretches of utterances whose padded gaps are short enough to keep.
    let mut stretches: Vec<Range<usize>> = Vec::new();
    for region in &analysis.regions {
        match stretches.last_mut() {
            Some(last) if region.start.saturating_sub(last.end) + padding < drop_gap => {
                last.end = region.end;
            }
            _ => stretches.push(region.clone()),
        }
    }

    let pauses = unvoiced_runs(
        &analysis.frames,
        VadParams::frames(params.min_cut_pause_s).max(1),
    );
    let mut chunks = Vec::new();
    for stretch in stretches {
        let mut start = stretch.start;
        while stretch.end - start > max_len {
            let limit = start + max_len;
            let cut = best_cut(&pauses, start, limit, max_len).unwrap_or(limit);
            chunks.push(start..cut);
            start = cut;
        }
        if stretch.end > start {
            chunks.push(start..stretch.end);
        }
    }
    chunks
}

/// Maximal runs of unvoiced frames at least `min_frames` long, as sample ranges.
fn unvoiced_runs(frames: &[FrameActivity], min_frames: usize) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut run_start: Option<usize> = None;
    for (i, frame) in frames.iter().enumerate() {
        match (frame.voiced, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(s)) => {
                if i - s >= min_frames {
                    runs.push(s * FRAME_SAMPLES..i * FRAME_SAMPLES);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = run_start
        && frames.len() - s >= min_frames
    {
        runs.push(s * FRAME_SAMPLES..frames.len() * FRAME_SAMPLES);
    }
    runs
}

/// Where to cut a chunk that starts at `start` and may not pass `limit`: the middle of the longest pause
/// whose middle lies in the second half of the allowed length, else of the longest anywhere after the
/// first second. Later pauses win ties, keeping chunks long.
fn best_cut(pauses: &[Range<usize>], start: usize, limit: usize, max_len: usize) -> Option<usize> {
    let pick = |from: usize| {
        pauses
            .iter()
            .map(|p| (p.len(), p.start + p.len() / 2))
            .filter(|&(_, middle)| middle > from && middle < limit)
            .max_by_key(|&(len, middle)| (len, middle))
            .map(|(_, middle)| middle)
    };
    pick(start + max_len / 2).or_else(|| pick(start + WHISPER_RATE as usize))
}

/// How live dictation is cut into utterances for transcription while the clinician talks.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveChunkParams {
    pub vad: VadParams,
    /// Once an utterance is this long, a shorter pause (the gap between two sentences) ends it.
    pub soft_cut_after_s: f32,
    /// The pause that ends an utterance past `soft_cut_after_s`.
    pub soft_pause_s: f32,
    /// No utterance grows past this: it is cut at its quietest frame near the end.
    pub max_utterance_s: f32,
}

impl Default for LiveChunkParams {
    fn default() -> Self {
        // What is left to decode at stop is the utterance still open, so utterances stay short,
        // cut at the gap between two sentences (0.2-0.5 s in espeak-ng and read dictation) once
        // they pass 6 s. Shorter utterances decoded worse (WER 0.14-0.18 against 0.110 at 6 s on
        // four espeak-ng dictations with base) and cost more in all, each call paying for the prompt.
        Self {
            vad: VadParams::default(),
            soft_cut_after_s: 6.0,
            soft_pause_s: 0.19,
            max_utterance_s: 15.0,
        }
    }
}

/// Streaming utterance cutter for live dictation: push 16 kHz audio, get back the sample ranges
/// (on the recording's own timeline) of utterances that are complete. Ranges are in order and never
/// overlap; all detected speech lies in one of them.
pub struct LiveChunker {
    detector: SpeechDetector,
    params: LiveChunkParams,
    /// Start of the utterance still open.
    open: Option<u64>,
    /// Frames of the open utterance: (first sample of the frame, voiced, level).
    frames: VecDeque<(u64, bool, f32)>,
    /// Unvoiced frames at the end of the open utterance.
    trailing_unvoiced: usize,
    /// Sample just after the last voiced frame seen, for the silence stop.
    last_voiced_end: Option<u64>,
    /// End of the last completed utterance: the next one starts no earlier.
    closed_at: u64,
}

impl LiveChunker {
    pub fn new(params: LiveChunkParams) -> Self {
        Self {
            detector: SpeechDetector::new(params.vad.clone()),
            params,
            open: None,
            frames: VecDeque::new(),
            trailing_unvoiced: 0,
            last_voiced_end: None,
            closed_at: 0,
        }
    }

    /// Feed audio; returns the utterances it completed.
    pub fn push(&mut self, samples: &[f32]) -> Vec<Range<u64>> {
        let mut done = Vec::new();
        let mut detector = std::mem::replace(
            &mut self.detector,
            SpeechDetector::new(VadParams::default()),
        );
        let mut frame_index = detector.frames_seen;
        detector.push_each(samples, |activity, revealed| {
            self.on_frame(frame_index, activity, revealed, &mut done);
            frame_index += 1;
        });
        self.detector = detector;
        done
    }

    /// End of the recording: whatever utterance is open is complete now.
    pub fn finish(mut self) -> Option<Range<u64>> {
        let end_of_audio = self.detector.position() + self.detector.partial.len() as u64;
        let mut done = Vec::new();
        if !self.detector.partial.is_empty() {
            let mut frame = std::mem::take(&mut self.detector.partial);
            frame.resize(FRAME_SAMPLES, 0.0);
            let index = self.detector.frames_seen;
            let mut revealed = Vec::new();
            let activity = self.detector.step(&frame, &mut revealed);
            self.on_frame(index, activity, &revealed, &mut done);
        }
        if let Some(start) = self.open.take()
            && end_of_audio > start
            && self.open_has_voice()
        {
            done.push(start..end_of_audio);
        }
        // A cut in the last frame and the close of the rest: one range covers both.
        match (done.first(), done.last()) {
            (Some(first), Some(last)) => Some(first.start..last.end),
            _ => None,
        }
    }

    /// Whether someone is speaking now.
    pub fn is_speaking(&self) -> bool {
        self.detector.is_speaking()
    }

    /// Level of the latest frame, dBFS (for a level meter).
    pub fn level_dbfs(&self) -> Option<f32> {
        self.detector.last_activity().map(|a| a.level_dbfs)
    }

    /// Samples analysed so far.
    pub fn position(&self) -> u64 {
        self.detector.position()
    }

    /// Samples since the last voiced frame (since the start when nothing was voiced yet).
    pub fn silence_samples(&self) -> u64 {
        self.position()
            .saturating_sub(self.last_voiced_end.unwrap_or(0))
    }

    /// Where the utterance still open began, if one is.
    pub fn open_since(&self) -> Option<u64> {
        self.open
    }

    /// Whether any speech has been heard.
    pub fn heard_speech(&self) -> bool {
        self.last_voiced_end.is_some()
    }

    fn on_frame(
        &mut self,
        index: u64,
        activity: FrameActivity,
        revealed: &[VadEvent],
        done: &mut Vec<Range<u64>>,
    ) {
        let frame_len = FRAME_SAMPLES as u64;
        let frame_start = index * frame_len;
        let frame_end = frame_start + frame_len;
        if activity.voiced {
            self.last_voiced_end = Some(frame_end);
        }
        for event in revealed {
            match *event {
                VadEvent::SpeechStart { sample } => {
                    if self.open.is_none() {
                        let after_last = done.last().map_or(0, |r| r.end).max(self.closed_at);
                        self.open = Some(sample.max(after_last));
                        self.frames.clear();
                        self.trailing_unvoiced = 0;
                    }
                }
                VadEvent::SpeechEnd { sample } => {
                    if let Some(start) = self.open.take() {
                        // After a soft cut the detector's end can lie inside the pause already cut,
                        // and what follows the cut may be only the rest of that pause.
                        if sample > start && self.open_has_voice() {
                            done.push(start..sample);
                            self.closed_at = sample;
                        }
                    }
                    self.frames.clear();
                }
            }
        }
        let Some(start) = self.open else {
            return;
        };
        // The frame that opened the utterance may be the one whose onset run began earlier; only
        // frames inside the utterance count.
        self.frames
            .push_back((frame_start, activity.voiced, activity.level_dbfs));
        self.trailing_unvoiced = if activity.voiced {
            0
        } else {
            self.trailing_unvoiced + 1
        };
        let soft_after = VadParams::samples(self.params.soft_cut_after_s);
        let soft_pause = VadParams::frames(self.params.soft_pause_s).max(1);
        let max_len = VadParams::samples(self.params.max_utterance_s).max(frame_len * 4);
        let length = frame_end.saturating_sub(start);
        let cut = if length >= soft_after && self.trailing_unvoiced >= soft_pause {
            // The middle of the pause: both utterances keep a little of it.
            let pause_start = frame_end - self.trailing_unvoiced as u64 * frame_len;
            Some(pause_start + (frame_end - pause_start) / 2)
        } else if length >= max_len {
            Some(self.quietest_late_frame(start, frame_end))
        } else {
            None
        };
        if let Some(cut) = cut.filter(|&c| c > start) {
            done.push(start..cut);
            self.closed_at = cut;
            self.open = Some(cut);
            self.frames.retain(|&(at, _, _)| at >= cut);
            self.trailing_unvoiced = self
                .frames
                .iter()
                .rev()
                .take_while(|&&(_, voiced, _)| !voiced)
                .count();
        }
    }

    /// Whether the open utterance holds a voiced frame since it opened or was last cut.
    fn open_has_voice(&self) -> bool {
        self.frames.iter().any(|&(_, voiced, _)| voiced)
    }

    /// Where to cut an utterance that reached the maximum length: the start of its quietest frame in
    /// the last quarter.
    fn quietest_late_frame(&self, start: u64, end: u64) -> u64 {
        let from = end - (end - start) / 4;
        self.frames
            .iter()
            .filter(|&&(at, _, _)| at >= from)
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .map_or(end, |&(at, _, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::resample::resample_to_16k;
    use crate::audio::wav::read_wav;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const RATE: usize = WHISPER_RATE as usize;

    fn run_tool(program: &str, args: &[&str]) {
        let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
            panic!("`{program}` is needed to make test speech ({e}); install it (CI installs espeak-ng and sox)")
        });
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Speak `text` with espeak-ng and return it at 16 kHz.
    fn speak(dir: &Path, text: &str) -> Vec<f32> {
        let path: PathBuf = dir.join(format!("say-{}.wav", text.len()));
        let out = path.to_str().unwrap();
        run_tool("espeak-ng", &["-s", "160", "-w", out, text]);
        let wav = read_wav(&path).unwrap();
        let speech = resample_to_16k(&wav.samples, wav.rate).unwrap();
        trim_silence(&speech)
    }

    /// espeak pads its output with a little silence; trim it so test timings are the speech's own.
    fn trim_silence(x: &[f32]) -> Vec<f32> {
        let first = x.iter().position(|v| v.abs() > 0.01).unwrap_or(0);
        let last = x.iter().rposition(|v| v.abs() > 0.01).unwrap_or(x.len());
        x[first..=last].to_vec()
    }

    /// Deterministic white noise with the given RMS level.
    fn noise(len: usize, rms: f32, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let u = (state >> 40) as f32 / (1u64 << 24) as f32;
                (u * 2.0 - 1.0) * rms * 3f32.sqrt()
            })
            .collect()
    }

    fn silence(seconds: f32) -> Vec<f32> {
        vec![0.0; (seconds * RATE as f32) as usize]
    }

    fn samples(parts: &[&[f32]]) -> Samples16k {
        Samples16k::new(parts.concat())
    }

    const SENTENCES: [&str; 3] = [
        "The client reports that she slept better this week.",
        "Affect was brighter than at the last session.",
        "We will continue the thought records next time.",
    ];

    #[test]
    fn digital_silence_and_quiet_noise_are_not_speech() {
        let quiet = noise(10 * RATE, 0.001, 1);
        let hiss = noise(10 * RATE, 0.01, 2);
        for (name, audio) in [
            ("silence", silence(10.0)),
            ("quiet noise", quiet),
            ("hiss", hiss),
        ] {
            let audio = Samples16k::new(audio);
            assert!(!has_speech(&audio), "{name}");
            assert!(
                speech_regions(&audio, &VadParams::default()).is_empty(),
                "{name}"
            );
            assert!(plan_chunks(&audio, 28.0).is_empty(), "{name}");
        }
    }

    #[test]
    fn a_spoken_sentence_is_speech() {
        let dir = tempfile::tempdir().unwrap();
        let speech = speak(dir.path(), SENTENCES[0]);
        let audio = samples(&[&silence(1.0), &speech, &silence(1.0)]);
        assert!(has_speech(&audio));
        let regions = speech_regions(&audio, &VadParams::default());
        assert_eq!(regions.len(), 1, "{regions:?}");
        let region = &regions[0];
        // The region covers the sentence (espeak's onset is voiced at once; allow the detector's lag).
        assert!(region.start <= RATE + RATE / 10, "{region:?}");
        assert!(region.start >= RATE - 2 * RATE / 5, "{region:?}");
        let speech_end = RATE + speech.len();
        assert!(
            region.end + RATE / 5 >= speech_end,
            "{region:?} vs {speech_end}"
        );
        assert!(
            region.end <= speech_end + RATE / 2,
            "{region:?} vs {speech_end}"
        );
    }

    #[test]
    fn speech_in_noise_is_still_found_and_noise_alone_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let speech = speak(dir.path(), SENTENCES[1]);
        let clean = samples(&[&silence(1.0), &speech, &silence(1.0)]).into_inner();
        let bed = noise(clean.len(), 0.01, 3);
        let noisy: Vec<f32> = clean.iter().zip(&bed).map(|(s, n)| s * 0.5 + n).collect();
        let noisy = Samples16k::new(noisy);
        assert!(has_speech(&noisy));
        assert!(!has_speech(&Samples16k::new(bed)));
        assert_eq!(speech_regions(&noisy, &VadParams::default()).len(), 1);
    }

    #[test]
    fn sentences_separated_by_pauses_are_separate_regions() {
        let dir = tempfile::tempdir().unwrap();
        let a = speak(dir.path(), SENTENCES[0]);
        let b = speak(dir.path(), SENTENCES[1]);
        let c = speak(dir.path(), SENTENCES[2]);
        let gap = silence(1.5);
        let audio = samples(&[&silence(0.5), &a, &gap, &b, &gap, &c, &silence(0.5)]);
        let regions = speech_regions(&audio, &VadParams::default());
        assert_eq!(regions.len(), 3, "{regions:?}");
        // Each boundary lies inside its 1.5 s gap.
        let gap_starts = [RATE / 2 + a.len(), RATE / 2 + a.len() + gap.len() + b.len()];
        for (i, gap_start) in gap_starts.iter().enumerate() {
            let gap_end = gap_start + gap.len();
            assert!(
                regions[i].end > *gap_start && regions[i].end < gap_end,
                "{regions:?}"
            );
            assert!(
                regions[i + 1].start > *gap_start && regions[i + 1].start < gap_end,
                "{regions:?}"
            );
        }
    }

    #[test]
    fn streaming_in_odd_pieces_gives_the_same_events() {
        let dir = tempfile::tempdir().unwrap();
        let a = speak(dir.path(), SENTENCES[0]);
        let b = speak(dir.path(), SENTENCES[2]);
        let audio = [silence(0.7), a, silence(1.2), b, silence(1.0)].concat();
        let mut whole = SpeechDetector::new(VadParams::default());
        let mut expected = whole.push(&audio);
        expected.extend(whole.finish());
        let mut pieces = SpeechDetector::new(VadParams::default());
        let mut got = Vec::new();
        for piece in audio.chunks(441) {
            got.extend(pieces.push(piece));
        }
        got.extend(pieces.finish());
        assert_eq!(got, expected);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(matches!(got[0], VadEvent::SpeechStart { .. }));
        assert!(matches!(got[3], VadEvent::SpeechEnd { .. }));
    }

    #[test]
    fn live_utterance_closes_after_the_pause_and_not_inside_a_short_gap() {
        let dir = tempfile::tempdir().unwrap();
        let speech = speak(dir.path(), SENTENCES[0]);
        let mut detector = SpeechDetector::new(VadParams::default());
        let mut events = detector.push(&silence(0.5));
        events.extend(detector.push(&speech));
        // A 0.3 s hesitation inside the utterance does not close it.
        events.extend(detector.push(&silence(0.3)));
        assert!(detector.is_speaking(), "{events:?}");
        events.extend(detector.push(&speech));
        assert_eq!(events.len(), 1, "{events:?}");
        // 0.4 s of silence is not yet a pause; 0.8 s is.
        events.extend(detector.push(&silence(0.4)));
        assert_eq!(events.len(), 1, "{events:?}");
        events.extend(detector.push(&silence(0.4)));
        assert_eq!(events.len(), 2, "{events:?}");
        let VadEvent::SpeechStart { sample: start } = events[0] else {
            panic!("{events:?}")
        };
        let VadEvent::SpeechEnd { sample: end } = events[1] else {
            panic!("{events:?}")
        };
        // The pre-roll reaches back before the onset at 0.5 s.
        assert!(start < RATE as u64 / 2, "{start}");
        let speech_end = (RATE / 2 + 2 * speech.len() + (0.3 * RATE as f32) as usize) as u64;
        assert!(
            end >= speech_end && end <= speech_end + RATE as u64 / 2,
            "{end} vs {speech_end}"
        );
        assert!(!detector.is_speaking());
    }

    #[test]
    fn a_click_does_not_open_an_utterance() {
        let mut audio = silence(2.0);
        for v in &mut audio[RATE..RATE + 48] {
            *v = 0.9;
        }
        let audio = Samples16k::new(audio);
        assert!(speech_regions(&audio, &VadParams::default()).is_empty());
        assert!(!has_speech(&audio));
    }

    /// About 90 s of dictation: sentences with natural 0.25-0.9 s pauses, a few long breaks.
    fn dictation(dir: &Path) -> (Vec<f32>, Vec<Range<usize>>) {
        let lines = [
            "Session six with the client, a fifty minute telehealth visit.",
            "She reports sleeping about six hours a night, better than last week.",
            "She said she finally told her sister how she felt.",
            "Affect was brighter, and she was casually dressed and on time.",
            "She became tearful when discussing her mother.",
            "Progress toward goal one is evident.",
            "Her depression score went down from eighteen to fourteen.",
            "We practised a thought record about the argument at work.",
            "She identified the thought that she always ruins things.",
            "Plan is to continue thought records and meet again next week.",
        ];
        let speech: Vec<Vec<f32>> = lines.iter().map(|l| speak(dir, l)).collect();
        let pauses = [0.3, 0.9, 0.25, 3.0, 0.6, 0.4, 0.8, 4.0, 0.5, 0.7];
        let mut audio = silence(1.0);
        let mut spans = Vec::new();
        let mut round = 0;
        while audio.len() < 90 * RATE {
            for (s, p) in speech.iter().zip(pauses) {
                spans.push(audio.len()..audio.len() + s.len());
                audio.extend_from_slice(s);
                audio.extend(silence(p + 0.05 * round as f32));
            }
            round += 1;
        }
        (audio, spans)
    }

    #[test]
    fn ninety_seconds_of_dictation_become_chunks_cut_in_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let (audio, spans) = dictation(dir.path());
        assert!(audio.len() >= 90 * RATE);
        let samples = Samples16k::new(audio);
        let chunks = plan_chunks(&samples, 28.0);
        assert!(chunks.len() >= 4, "{chunks:?}");
        for pair in chunks.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{chunks:?}");
        }
        for chunk in &chunks {
            assert!(chunk.len() <= 28 * RATE, "{chunk:?}");
            assert!(chunk.end <= samples.len());
            // Never inside a sentence: every cut lies in a gap between spoken lines.
            for edge in [chunk.start, chunk.end] {
                let inside = spans
                    .iter()
                    .any(|s| edge > s.start + RATE / 20 && edge + RATE / 20 < s.end);
                assert!(
                    !inside,
                    "cut at {edge} is inside a sentence; chunks {chunks:?}"
                );
            }
        }
        // Every sentence is covered by a chunk.
        for span in &spans {
            let covered = chunks
                .iter()
                .any(|c| c.start <= span.start && span.end <= c.end);
            assert!(
                covered,
                "sentence {span:?} not inside one chunk: {chunks:?}"
            );
        }
        // The long breaks (3 s, 4 s) are left out.
        let seconds: Vec<String> = chunks
            .iter()
            .map(|c| {
                format!(
                    "{:.1}-{:.1}",
                    c.start as f32 / RATE as f32,
                    c.end as f32 / RATE as f32
                )
            })
            .collect();
        println!("chunks: {seconds:?}");
        let decoded: usize = chunks.iter().map(|c| c.len()).sum();
        assert!(
            decoded + 10 * RATE < samples.len(),
            "{decoded} of {}",
            samples.len()
        );
    }

    fn synthetic(voiced: impl Fn(usize) -> bool, seconds: usize) -> Analysis {
        let count = seconds * RATE / FRAME_SAMPLES;
        let frames: Vec<FrameActivity> = (0..count)
            .map(|i| FrameActivity {
                probability: if voiced(i) { 0.9 } else { 0.05 },
                level_dbfs: if voiced(i) { -20.0 } else { -70.0 },
                voiced: voiced(i),
            })
            .collect();
        let everything = 0..count * FRAME_SAMPLES;
        Analysis {
            regions: vec![everything],
            frames,
        }
    }

    #[test]
    fn speech_with_no_pause_is_cut_at_the_maximum() {
        let analysis = synthetic(|_| true, 20);
        let params = ChunkParams {
            max_chunk_s: 5.0,
            ..ChunkParams::default()
        };
        let chunks = plan_from_analysis(&analysis, &params);
        let max = 5 * RATE;
        let total = analysis.frames.len() * FRAME_SAMPLES;
        let expected: Vec<Range<usize>> = (0..total)
            .step_by(max)
            .map(|s| s..(s + max).min(total))
            .collect();
        assert_eq!(chunks, expected);
    }

    #[test]
    fn long_speech_is_cut_in_the_middle_of_its_longest_late_pause() {
        // 12 s of speech with a 100 ms gap at 2 s, a 200 ms gap at 6 s and a 100 ms gap at 8.5 s.
        let gap = |i: usize, at_s: f32, len_s: f32| {
            let t = i as f32 * FRAME_S;
            t >= at_s && t < at_s + len_s
        };
        let analysis = synthetic(
            |i| !(gap(i, 2.0, 0.1) || gap(i, 6.0, 0.2) || gap(i, 8.5, 0.1)),
            12,
        );
        let params = ChunkParams {
            max_chunk_s: 10.0,
            ..ChunkParams::default()
        };
        let chunks = plan_from_analysis(&analysis, &params);
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        // The cut is the middle of the 200 ms gap (6.0-6.2 s), not the earlier or the later short one.
        let cut = chunks[0].end as f32 / RATE as f32;
        assert!((cut - 6.1).abs() < 0.02, "cut at {cut} s");
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks[1].start, chunks[0].end);
        assert_eq!(chunks[1].end, analysis.frames.len() * FRAME_SAMPLES);
    }

    #[test]
    fn best_cut_prefers_the_longest_pause_in_the_second_half() {
        let pauses = vec![
            1_000..9_000,   // long but in the first half
            40_000..42_000, // short, second half
            50_000..56_000, // longest in the second half
            70_000..71_000, // beyond the limit
        ];
        assert_eq!(best_cut(&pauses, 0, 64_000, 64_000), Some(53_000));
        // Nothing in the second half: the longest after the first second.
        assert_eq!(best_cut(&pauses[..1], 0, 64_000, 64_000), None);
        let only_early = 20_000..24_000;
        assert_eq!(best_cut(&[only_early], 0, 64_000, 64_000), Some(22_000));
    }

    /// Live cutting of `audio` pushed in odd-sized pieces, as the recorder does.
    fn live_cuts(audio: &[f32], params: LiveChunkParams) -> Vec<Range<u64>> {
        let mut chunker = LiveChunker::new(params);
        let mut cuts = Vec::new();
        for piece in audio.chunks(1_103) {
            cuts.extend(chunker.push(piece));
        }
        cuts.extend(chunker.finish());
        cuts
    }

    fn assert_ordered_and_apart(cuts: &[Range<u64>]) {
        for pair in cuts.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{cuts:?}");
        }
        assert!(cuts.iter().all(|r| r.end > r.start), "{cuts:?}");
    }

    #[test]
    fn live_dictation_is_cut_between_sentences_said_without_long_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let spoken: Vec<Vec<f32>> = SENTENCES.iter().map(|s| speak(dir.path(), s)).collect();
        // The short gaps espeak-ng and readers leave between sentences.
        let gap = silence(0.35);
        let audio = [
            silence(0.5),
            spoken[0].clone(),
            gap.clone(),
            spoken[1].clone(),
            gap.clone(),
            spoken[2].clone(),
            silence(0.3),
        ]
        .concat();
        let params = LiveChunkParams {
            soft_cut_after_s: 2.0,
            ..LiveChunkParams::default()
        };
        let cuts = live_cuts(&audio, params);
        assert_ordered_and_apart(&cuts);
        assert_eq!(cuts.len(), 3, "{cuts:?}");
        // Every sentence lies wholly inside one utterance.
        let mut at = RATE / 2;
        for (sentence, cut) in spoken.iter().zip(&cuts) {
            let (from, to) = (at as u64, (at + sentence.len()) as u64);
            assert!(
                cut.start <= from + 800 && cut.end + 800 >= to,
                "{cut:?} vs {from}..{to}"
            );
            at += sentence.len() + gap.len();
        }
        assert!(cuts[2].end as usize <= audio.len());
    }

    #[test]
    fn speech_without_any_pause_is_cut_at_the_maximum_length() {
        let dir = tempfile::tempdir().unwrap();
        let speech = speak(dir.path(), SENTENCES[0]);
        // Speech under a steady tone never pauses: no soft cut is possible.
        let long: Vec<f32> = speech.iter().cycle().take(RATE * 9).copied().collect();
        let tone: Vec<f32> = (0..long.len())
            .map(|i| 0.1 * (i as f32 * 0.05).sin() + long[i] * 0.8)
            .collect();
        let params = LiveChunkParams {
            max_utterance_s: 3.0,
            soft_cut_after_s: 100.0,
            ..LiveChunkParams::default()
        };
        let cuts = live_cuts(&tone, params);
        assert_ordered_and_apart(&cuts);
        assert!(cuts.len() >= 3, "{cuts:?}");
        assert!(
            cuts.iter().all(|r| r.end - r.start <= 3 * RATE as u64),
            "{cuts:?}"
        );
        // Consecutive: nothing between two cuts of one stretch of speech is lost.
        for pair in cuts.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{cuts:?}");
        }
    }

    #[test]
    fn silence_is_never_an_utterance_and_is_counted_for_the_silence_stop() {
        let mut chunker = LiveChunker::new(LiveChunkParams::default());
        assert!(chunker.push(&silence(4.0)).is_empty());
        assert!(!chunker.heard_speech());
        let four_s = 4 * RATE as u64;
        assert!(chunker.silence_samples() + FRAME_SAMPLES as u64 >= four_s);
        assert_eq!(chunker.finish(), None);
    }

    #[test]
    fn an_utterance_still_open_at_the_end_is_closed_by_finish() {
        let dir = tempfile::tempdir().unwrap();
        let speech = speak(dir.path(), SENTENCES[1]);
        let audio = [silence(0.4), speech.clone()].concat();
        let mut chunker = LiveChunker::new(LiveChunkParams::default());
        let mut cuts = chunker.push(&audio);
        assert!(chunker.is_speaking() || !cuts.is_empty());
        cuts.extend(chunker.finish());
        assert_ordered_and_apart(&cuts);
        let covered: u64 = cuts.iter().map(|r| r.end - r.start).sum();
        assert!(covered as usize >= speech.len() * 9 / 10, "{cuts:?}");
        assert_eq!(cuts.last().unwrap().end as usize, audio.len());
    }
}

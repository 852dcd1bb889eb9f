//! The only user of whisper-rs: one loaded model shared by all jobs, a fresh state per job.
//!
//! whisper.cpp aborts the whole process (a C++ exception escaping into Rust) on some damaged model
//! files, so every file is first walked here, header and tensor table, and refused with a plain
//! message unless it is a structurally whole ggml Whisper model. whisper.cpp's own log lines are
//! routed into `tracing` at debug/trace so a clinician never sees them.

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_void};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use whisper_rs::whisper_rs_sys;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use super::{ChunkTranscriber, Pass, RawSegment, TranscribeError, TranscribeOptions};
use crate::audio::WHISPER_RATE;

/// Whisper's encoder works on 30-second windows of 1500 frames: 50 frames per second of audio.
const ENCODER_FRAMES_PER_S: f64 = 50.0;
const MAX_AUDIO_CTX: i32 = 1500;

/// A Whisper model loaded once and shared by every transcription job.
pub struct WhisperModel {
    context: WhisperContext,
    name: String,
    path: PathBuf,
    load_time: Duration,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("load_time", &self.load_time)
            .finish_non_exhaustive()
    }
}

impl WhisperModel {
    /// Load the ggml model at `path`; `name` is what the clinician knows it by ("base", "tiny.en")
    /// and is used in messages such as the command that replaces a damaged file.
    pub fn load(path: &Path, name: &str) -> Result<Arc<Self>, TranscribeError> {
        route_engine_logs_to_tracing();
        let started = Instant::now();
        let unreadable = || TranscribeError::ModelUnreadable {
            path: path.to_path_buf(),
            name: name.to_string(),
        };
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TranscribeError::ModelNotFound {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                });
            }
            Err(e) => {
                tracing::debug!("cannot read model metadata: {e}");
                return Err(unreadable());
            }
            Ok(meta) if !meta.is_file() => return Err(unreadable()),
            Ok(_) => {}
        }
        if let Err(problem) = check_ggml_file(path) {
            tracing::debug!(path = %path.display(), "model file refused before loading: {problem}");
            return Err(unreadable());
        }
        let mut params = WhisperContextParameters::default();
        // Flash attention off: on these 2-core CPUs it measured 1.45x slower (46-48 s against
        // 32-33 s on four espeak-ng dictations, 4.6 minutes, twice each, base, same WER) for
        // about 70 MiB less peak memory.
        params.use_gpu(false).flash_attn(false);
        let context = WhisperContext::new_with_params(path, params).map_err(|e| {
            tracing::debug!("whisper.cpp could not load the model: {e}");
            unreadable()
        })?;
        let load_time = started.elapsed();
        tracing::debug!(
            model = name,
            path = %path.display(),
            "whisper.cpp context ready in {:.2} s",
            load_time.as_secs_f64()
        );
        Ok(Arc::new(Self {
            context,
            name: name.to_string(),
            path: path.to_path_buf(),
            load_time,
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long reading the model took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// How many tokens `text` takes as a prompt; Whisper keeps at most [`PROMPT_TOKEN_BUDGET`].
    pub fn prompt_token_count(&self, text: &str) -> Result<usize, TranscribeError> {
        self.context
            .tokenize(text, 4096)
            .map(|tokens| tokens.len())
            .map_err(engine_error)
    }
}

/// whisper.cpp keeps at most half its 448-token text context for the prompt, less one marker token;
/// a longer prompt silently loses its beginning.
pub const PROMPT_TOKEN_BUDGET: usize = 223;

/// Decoding choices settled by measurement, kept together so that `examples/tune.rs` can compare
/// alternatives without a rebuild. On seven espeak-ng dictations (7.6 minutes, three voices,
/// 150-175 words a minute, base, greedy, clinical prompt) these defaults gave WER 0.109 and
/// clinical-term recall 0.88. Timestamps off within a chunk measured the same (0.132 against 0.138
/// before the prompt was final) but gives one segment per 20-28 s chunk, too coarse for subtitles
/// and for the speech check on each segment; a 16-frame margin and 18-second chunks were no better
/// (0.142, 0.137); temperature fallback changed nothing on dictation and costs time on the hard parts.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeTuning {
    /// Decode each chunk as a single timestamp-free segment instead of timed segments.
    pub no_timestamps: bool,
    /// Encoder frames added to a chunk's own length (50 per second); `None` always encodes a full
    /// 30-second window.
    pub audio_ctx_margin_frames: Option<i32>,
    /// Re-decode at rising temperatures when the first result looks unreliable.
    pub temperature_fallback: bool,
    /// Suppress non-speech tokens (music notes, bracketed sound labels) while decoding.
    pub suppress_non_speech: bool,
    /// Shorter chunks are padded with silence to this many seconds: with a window trimmed to a few
    /// seconds of speech Whisper often loops or garbles the words.
    pub min_chunk_s: f64,
    /// Text tokens allowed per second of audio (plus a few): far more than anyone dictates, so a
    /// decoder stuck repeating itself stops early instead of filling its whole window.
    pub max_tokens_per_s: Option<f64>,
    /// How much of the text recognised just before a chunk is added after the prompt (characters,
    /// cut at a word); 0 leaves it out.
    pub context_chars: usize,
    /// Silence put before each chunk. 0.3 s measured no better on whole files (WER 0.085 against
    /// 0.086) and worse live (0.117 against 0.102), so none is put by default.
    pub lead_in_s: f64,
}

impl Default for DecodeTuning {
    fn default() -> Self {
        Self {
            no_timestamps: false,
            audio_ctx_margin_frames: Some(64),
            temperature_fallback: false,
            suppress_non_speech: true,
            min_chunk_s: 6.0,
            max_tokens_per_s: Some(8.0),
            context_chars: 0,
            lead_in_s: 0.0,
        }
    }
}

/// Whisper behind the [`ChunkTranscriber`] seam: each call gets its own fresh decoder state.
#[derive(Clone, Debug)]
pub struct WhisperTranscriber {
    pub model: Arc<WhisperModel>,
    pub options: TranscribeOptions,
    pub tuning: DecodeTuning,
}

impl WhisperTranscriber {
    pub fn new(model: Arc<WhisperModel>, options: TranscribeOptions) -> Self {
        Self {
            model,
            options,
            tuning: DecodeTuning::default(),
        }
    }

    fn params<'p>(
        &'p self,
        pass: Pass,
        chunk_samples: usize,
        speech_samples: usize,
        prompt: &'p str,
    ) -> FullParams<'p, 'p> {
        let beam = match pass {
            Pass::First => self.options.beam_size.filter(|&n| n > 1),
            // A different search is the most reliable way out of a repetition loop.
            Pass::Retry => Some(self.options.beam_size.unwrap_or(1).max(5)),
        };
        let strategy = match beam {
            Some(width) => SamplingStrategy::BeamSearch {
                beam_size: clamp_i32(width),
                patience: -1.0,
            },
            None => SamplingStrategy::Greedy { best_of: 5 },
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(clamp_i32(self.options.threads.max(1)));
        params.set_language(Some("en"));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        params.set_suppress_blank(true);
        params.set_suppress_nst(self.tuning.suppress_non_speech);
        params.set_no_timestamps(self.tuning.no_timestamps);
        let fallback = self.tuning.temperature_fallback || pass == Pass::Retry;
        params.set_temperature(0.0);
        params.set_temperature_inc(if fallback { 0.2 } else { 0.0 });
        if let Some(per_s) = self.tuning.max_tokens_per_s {
            let speech_s = speech_samples as f64 / f64::from(WHISPER_RATE);
            params.set_max_tokens(clamp_i32((speech_s * per_s).ceil() as usize + 8));
        }
        if let Some(margin) = self.tuning.audio_ctx_margin_frames {
            params.set_audio_ctx(audio_ctx_for(chunk_samples, margin));
        }
        if !prompt.trim().is_empty() {
            params.set_initial_prompt(prompt);
        }
        params
    }
}

impl WhisperTranscriber {
    /// The model's probability that the audio it last encoded held no speech: the share of
    /// <|nospeech|> among the tokens it expects right after <|startoftranscript|> (where it
    /// otherwise names the language), as OpenAI's Whisper computes it. The prompt is left out
    /// here: it makes the model sure it hears speech.
    ///
    /// whisper.cpp 1.8.3 reports 0 for every segment: it reads the logits of the first prompt
    /// position, while only the last position's are computed. A one-token decode leaves the logits
    /// where they are read.
    fn no_speech_probability(
        &self,
        state: &mut whisper_rs::WhisperState,
    ) -> Result<f32, TranscribeError> {
        let ctx = &self.model.context;
        state
            .decode(&[ctx.token_sot()], 0, self.options.threads.max(1))
            .map_err(engine_error)?;
        let logits = state.get_logits().map_err(engine_error)?;
        let nosp = usize::try_from(ctx.token_nosp()).unwrap_or(usize::MAX);
        let Some(&target) = logits.get(nosp) else {
            return Ok(0.0);
        };
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
        Ok((f64::from(target - max).exp() / sum) as f32)
    }
}

impl DecodeTuning {
    /// For live dictation, decoded an utterance at a time: each utterance is told what was said
    /// before it. On four espeak-ng dictations (4.6 minutes, base) utterances cut at sentence
    /// pauses after 6 s gave WER 0.110 with 250 characters of that context, 0.149 without; whole
    /// recordings gained nothing from it (0.092 against 0.097, and tiny.en lost).
    pub fn live() -> Self {
        Self {
            context_chars: 250,
            ..Self::default()
        }
    }
}

impl WhisperTranscriber {
    /// The clinical prompt, then the end of what was said just before (as much as the tuning allows).
    fn prompt_with(&self, context: &str) -> String {
        let prompt = self.options.initial_prompt.trim();
        let context = context.trim();
        if self.tuning.context_chars == 0 || context.is_empty() {
            return prompt.to_string();
        }
        let tail = last_words(context, self.tuning.context_chars);
        if prompt.is_empty() {
            tail.to_string()
        } else {
            format!("{prompt} {tail}")
        }
    }
}

/// The end of `text`, at most `max_chars` long, starting at a word.
fn last_words(text: &str, max_chars: usize) -> &str {
    let count = text.chars().count();
    if count <= max_chars {
        return text;
    }
    let skip = count - max_chars;
    let cut = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
    let rest = &text[cut..];
    match rest.find(char::is_whitespace) {
        Some(space) if !text[..cut].ends_with(char::is_whitespace) => rest[space..].trim_start(),
        _ => rest.trim_start(),
    }
}

impl ChunkTranscriber for WhisperTranscriber {
    fn transcribe_chunk(
        &self,
        audio: &[f32],
        pass: Pass,
        context: &str,
    ) -> Result<Vec<RawSegment>, TranscribeError> {
        let padded;
        let min_samples = (self.tuning.min_chunk_s.max(0.1) * f64::from(WHISPER_RATE)) as usize;
        let lead_in = (self.tuning.lead_in_s.max(0.0) * f64::from(WHISPER_RATE)) as usize;
        let samples = if audio.len() + lead_in < min_samples || lead_in > 0 {
            let mut v = vec![0.0; lead_in];
            v.extend_from_slice(audio);
            v.resize(v.len().max(min_samples), 0.0);
            padded = v;
            &padded[..]
        } else {
            audio
        };
        // Times are given on the chunk's own timeline: the lead-in is taken off, the padding cut.
        let chunk_s = audio.len() as f64 / f64::from(WHISPER_RATE);
        let lead_in_s = lead_in as f64 / f64::from(WHISPER_RATE);
        let mut state = self.model.context.create_state().map_err(engine_error)?;
        let prompt = self.prompt_with(context);
        let mut params = self.params(pass, samples.len(), audio.len(), &prompt);
        // Whisper sees the whole chunk in one window. Left alone, whisper.cpp encodes a second
        // window from its last timestamp to the end (a tail of silence, or the padding of a short
        // chunk), which doubled the time of some chunks; what that tail may still hold is the
        // caller's to judge, with the voice detector (`chunks::transcribe_covering`).
        let encodes = Cell::new(0u32);
        // SAFETY: the callback only reads and bumps the counter behind `user_data`, which lives on
        // this stack frame until `full` below has returned; whisper.cpp calls it on this thread.
        unsafe {
            params.set_start_encoder_callback(Some(first_window_only));
            params.set_start_encoder_callback_user_data(
                std::ptr::from_ref(&encodes).cast_mut().cast::<c_void>(),
            );
        }
        state.full(params, samples).map_err(engine_error)?;
        let no_speech_prob = self.no_speech_probability(&mut state)?;
        let eot = self.model.context.token_eot();
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment.to_str_lossy().map_err(engine_error)?.into_owned();
            let (start_s, end_s) = if self.tuning.no_timestamps {
                (0.0, chunk_s)
            } else {
                // whisper.cpp times are in hundredths of a second.
                (
                    segment.start_timestamp() as f64 / 100.0 - lead_in_s,
                    segment.end_timestamp() as f64 / 100.0 - lead_in_s,
                )
            };
            let mut logprob_sum = 0.0f64;
            let mut text_tokens = 0usize;
            for i in 0..segment.n_tokens() {
                if let Some(token) = segment.get_token(i)
                    && token.token_id() < eot
                {
                    logprob_sum += f64::from(token.token_probability().max(1e-10)).ln();
                    text_tokens += 1;
                }
            }
            segments.push(RawSegment {
                start_s: start_s.clamp(0.0, chunk_s),
                end_s: end_s.clamp(0.0, chunk_s),
                text,
                no_speech_prob,
                avg_logprob: if text_tokens == 0 {
                    0.0
                } else {
                    (logprob_sum / text_tokens as f64) as f32
                },
            });
        }
        Ok(segments)
    }

    fn model_name(&self) -> &str {
        &self.model.name
    }

    fn initial_prompt(&self) -> &str {
        &self.options.initial_prompt
    }
}

/// Encoder frames for a chunk: its own length at 50 frames per second plus `margin`, never more than
/// the model's 30-second window. A trimmed window is both faster and, measured on dictation, no
/// less accurate than padding every chunk to 30 seconds.
pub fn audio_ctx_for(chunk_samples: usize, margin: i32) -> i32 {
    let seconds = chunk_samples as f64 / f64::from(WHISPER_RATE);
    let frames = (seconds * ENCODER_FRAMES_PER_S).ceil() as i32;
    frames.saturating_add(margin.max(0)).clamp(1, MAX_AUDIO_CTX)
}

fn clamp_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn engine_error(err: whisper_rs::WhisperError) -> TranscribeError {
    TranscribeError::Engine {
        detail: err.to_string(),
    }
}

/// whisper.cpp's encoder-begin callback: the first window of a call is encoded, any later one
/// refused (whisper.cpp then ends the call with what it has decoded).
unsafe extern "C" fn first_window_only(
    _ctx: *mut whisper_rs_sys::whisper_context,
    _state: *mut whisper_rs_sys::whisper_state,
    user_data: *mut c_void,
) -> bool {
    if user_data.is_null() {
        return true;
    }
    // SAFETY: `transcribe_chunk` passes a pointer to a `Cell<u32>` that outlives the call.
    let encodes = unsafe { &*user_data.cast::<Cell<u32>>() };
    let before = encodes.get();
    encodes.set(before.saturating_add(1));
    before == 0
}

// ---- whisper.cpp log routing ------------------------------------------------------------------

static ROUTE_LOGS: Once = Once::new();

/// Send whisper.cpp's and ggml's log lines to `tracing`: problems at debug, chatter at trace. Its
/// debug output can contain decoded text, which must never appear above trace.
pub fn route_engine_logs_to_tracing() {
    ROUTE_LOGS.call_once(|| {
        // SAFETY: both setters only store the callback pointer; the callback is a plain function
        // that lives for the whole program and ignores its user data.
        unsafe {
            whisper_rs_sys::whisper_log_set(Some(engine_log_line), std::ptr::null_mut());
            whisper_rs_sys::ggml_log_set(Some(engine_log_line), std::ptr::null_mut());
        }
    });
}

unsafe extern "C" fn engine_log_line(
    level: whisper_rs_sys::ggml_log_level,
    text: *const c_char,
    _user_data: *mut c_void,
) {
    if text.is_null() {
        return;
    }
    // SAFETY: whisper.cpp and ggml pass a NUL-terminated string valid for the call.
    let line = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    // The refused second window (see `first_window_only`) is reported as an error; it is not one.
    let expected = line.contains("encoder_begin_callback returned false");
    if (level == whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_ERROR
        || level == whisper_rs_sys::ggml_log_level_GGML_LOG_LEVEL_WARN)
        && !expected
    {
        tracing::debug!(target: "notedraft::whisper_cpp", "{line}");
    } else {
        tracing::trace!(target: "notedraft::whisper_cpp", "{line}");
    }
}

// ---- model file check -------------------------------------------------------------------------

const GGML_MAGIC: u32 = 0x6767_6d6c;

/// Why a file is not a whole ggml Whisper model (for the debug log; the clinician sees one line).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelFileProblem {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("not a ggml file (magic {0:#x})")]
    BadMagic(u32),
    #[error("implausible header value {field} = {value}")]
    Header { field: &'static str, value: i64 },
    #[error("ends early, inside {0}")]
    Truncated(&'static str),
    #[error("tensor {index} is malformed ({detail})")]
    Tensor { index: usize, detail: String },
    #[error("{0} bytes of trailing data after the last tensor")]
    Trailing(u64),
    #[error("no weights in the file")]
    NoTensors,
}

/// Walk a ggml Whisper file's header, mel filters, vocabulary and tensor table without loading the
/// weights, and confirm that it ends exactly where its last tensor does. Values that whisper.cpp
/// would use to size allocations are range-checked first, since a wild one aborts the process there.
pub fn check_ggml_file(path: &Path) -> Result<(), ModelFileProblem> {
    let file = File::open(path).map_err(|e| ModelFileProblem::Io(e.to_string()))?;
    let total = file
        .metadata()
        .map_err(|e| ModelFileProblem::Io(e.to_string()))?
        .len();
    let mut r = BufReader::new(file);
    let magic = read_u32(&mut r, "the header")?;
    if magic != GGML_MAGIC {
        return Err(ModelFileProblem::BadMagic(magic));
    }
    let mut hparams = [0i32; 11];
    for h in &mut hparams {
        *h = read_i32(&mut r, "the header")?;
    }
    let [
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_text_layer,
        n_mels,
        ftype,
    ] = hparams;
    let widths = [384, 512, 768, 1024, 1280];
    let layers = [2, 4, 6, 12, 24, 32];
    let checks: [(&'static str, i32, bool); 11] = [
        ("n_vocab", n_vocab, (51_864..=51_866).contains(&n_vocab)),
        ("n_audio_ctx", n_audio_ctx, n_audio_ctx == MAX_AUDIO_CTX),
        (
            "n_audio_state",
            n_audio_state,
            widths.contains(&n_audio_state),
        ),
        (
            "n_audio_head",
            n_audio_head,
            (1..=32).contains(&n_audio_head),
        ),
        (
            "n_audio_layer",
            n_audio_layer,
            layers.contains(&n_audio_layer),
        ),
        ("n_text_ctx", n_text_ctx, n_text_ctx == 448),
        ("n_text_state", n_text_state, n_text_state == n_audio_state),
        ("n_text_head", n_text_head, (1..=32).contains(&n_text_head)),
        ("n_text_layer", n_text_layer, layers.contains(&n_text_layer)),
        ("n_mels", n_mels, n_mels == 80 || n_mels == 128),
        ("ftype", ftype, (0..=3000).contains(&ftype)),
    ];
    for (field, value, ok) in checks {
        if !ok {
            return Err(ModelFileProblem::Header {
                field,
                value: i64::from(value),
            });
        }
    }
    let n_mel = read_i32(&mut r, "the mel filters")?;
    let n_fft = read_i32(&mut r, "the mel filters")?;
    if n_mel != n_mels {
        return Err(ModelFileProblem::Header {
            field: "n_mel",
            value: i64::from(n_mel),
        });
    }
    if !(1..=1024).contains(&n_fft) {
        return Err(ModelFileProblem::Header {
            field: "n_fft",
            value: i64::from(n_fft),
        });
    }
    skip(
        &mut r,
        i64::from(n_mel) * i64::from(n_fft) * 4,
        total,
        "the mel filters",
    )?;
    let n_tokens = read_i32(&mut r, "the vocabulary")?;
    if !(1..=n_vocab).contains(&n_tokens) {
        return Err(ModelFileProblem::Header {
            field: "vocabulary size",
            value: i64::from(n_tokens),
        });
    }
    for _ in 0..n_tokens {
        let len = read_u32(&mut r, "the vocabulary")?;
        if len > 1024 {
            return Err(ModelFileProblem::Header {
                field: "token length",
                value: i64::from(len),
            });
        }
        skip(&mut r, i64::from(len), total, "the vocabulary")?;
    }
    let mut index = 0usize;
    loop {
        let pos = r
            .stream_position()
            .map_err(|e| ModelFileProblem::Io(e.to_string()))?;
        if pos == total {
            break;
        }
        let bad = |detail: String| ModelFileProblem::Tensor { index, detail };
        let n_dims = read_i32(&mut r, "a tensor header")?;
        let name_len = read_i32(&mut r, "a tensor header")?;
        let ttype = read_i32(&mut r, "a tensor header")?;
        if !(1..=4).contains(&n_dims) {
            return Err(bad(format!("{n_dims} dimensions")));
        }
        if !(1..=256).contains(&name_len) {
            return Err(bad(format!("name of {name_len} bytes")));
        }
        let mut elements: i64 = 1;
        for _ in 0..n_dims {
            let ne = read_i32(&mut r, "a tensor header")?;
            if !(1..=1 << 20).contains(&ne) {
                return Err(bad(format!("dimension {ne}")));
            }
            elements = elements.saturating_mul(i64::from(ne));
        }
        skip(&mut r, i64::from(name_len), total, "a tensor name")?;
        let bytes = tensor_bytes(ttype, elements).ok_or_else(|| bad(format!("type {ttype}")))?;
        skip(&mut r, bytes, total, "the weights")?;
        index += 1;
    }
    if index == 0 {
        return Err(ModelFileProblem::NoTensors);
    }
    Ok(())
}

/// Bytes of a tensor's data, from ggml's own type table; `None` for a type ggml does not know.
fn tensor_bytes(ttype: i32, elements: i64) -> Option<i64> {
    let ty = u32::try_from(ttype).ok()?;
    if ty >= whisper_rs_sys::ggml_type_GGML_TYPE_COUNT {
        return None;
    }
    // SAFETY: `ty` is within ggml's type table, which both functions only index.
    let (block, type_size) = unsafe {
        (
            whisper_rs_sys::ggml_blck_size(ty),
            whisper_rs_sys::ggml_type_size(ty),
        )
    };
    if block <= 0 || type_size == 0 || elements % block != 0 {
        return None;
    }
    let type_size = i64::try_from(type_size).ok()?;
    (elements / block).checked_mul(type_size)
}

fn read_u32(r: &mut impl Read, part: &'static str) -> Result<u32, ModelFileProblem> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)
        .map_err(|_| ModelFileProblem::Truncated(part))?;
    Ok(u32::from_le_bytes(b))
}

fn read_i32(r: &mut impl Read, part: &'static str) -> Result<i32, ModelFileProblem> {
    read_u32(r, part).map(|v| i32::from_le_bytes(v.to_le_bytes()))
}

fn skip(
    r: &mut (impl Read + Seek),
    bytes: i64,
    total: u64,
    part: &'static str,
) -> Result<(), ModelFileProblem> {
    let pos = r
        .stream_position()
        .map_err(|e| ModelFileProblem::Io(e.to_string()))?;
    let end = u64::try_from(bytes)
        .ok()
        .and_then(|b| pos.checked_add(b))
        .ok_or(ModelFileProblem::Truncated(part))?;
    if end > total {
        return Err(ModelFileProblem::Truncated(part));
    }
    r.seek(SeekFrom::Start(end))
        .map_err(|e| ModelFileProblem::Io(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A structurally valid, tiny ggml Whisper file: header, filters, vocabulary, given tensors.
    fn ggml_bytes(tensors: &[(&str, &[i32], i32, usize)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut put = |v: i32| out.extend_from_slice(&v.to_le_bytes());
        put(GGML_MAGIC as i32);
        for h in [51_864, 1500, 384, 6, 4, 448, 384, 6, 4, 80, 1] {
            put(h);
        }
        put(80);
        put(201);
        out.extend(std::iter::repeat_n(0u8, 80 * 201 * 4));
        out.extend_from_slice(&2i32.to_le_bytes());
        for tok in ["a", "bc"] {
            out.extend_from_slice(&(tok.len() as i32).to_le_bytes());
            out.extend_from_slice(tok.as_bytes());
        }
        for (name, dims, ttype, data_len) in tensors {
            out.extend_from_slice(&(dims.len() as i32).to_le_bytes());
            out.extend_from_slice(&(name.len() as i32).to_le_bytes());
            out.extend_from_slice(&ttype.to_le_bytes());
            for d in *dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(name.as_bytes());
            out.extend(std::iter::repeat_n(0u8, *data_len));
        }
        out
    }

    fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    const TWO_TENSORS: &[(&str, &[i32], i32, usize)] = &[
        ("decoder.ln.weight", &[384], 0, 384 * 4),
        ("encoder.conv1.weight", &[3, 80, 384], 1, 3 * 80 * 384 * 2),
    ];

    #[test]
    fn a_whole_file_passes_the_check() {
        let f = write_temp(&ggml_bytes(TWO_TENSORS));
        assert_eq!(check_ggml_file(f.path()), Ok(()));
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let bytes = ggml_bytes(TWO_TENSORS);
        let f = write_temp(&bytes[..bytes.len() - 10]);
        assert_eq!(
            check_ggml_file(f.path()),
            Err(ModelFileProblem::Truncated("the weights"))
        );
    }

    #[test]
    fn trailing_or_garbage_bytes_are_refused() {
        let mut bytes = ggml_bytes(TWO_TENSORS);
        bytes.extend_from_slice(&[7, 7, 7]);
        let f = write_temp(&bytes);
        assert_eq!(
            check_ggml_file(f.path()),
            Err(ModelFileProblem::Truncated("a tensor header"))
        );
    }

    #[test]
    fn a_text_file_is_not_a_model() {
        let f = write_temp(b"this is not a model at all, just some words\n");
        assert!(matches!(
            check_ggml_file(f.path()),
            Err(ModelFileProblem::BadMagic(_))
        ));
    }

    #[test]
    fn wild_header_values_are_refused_before_whisper_sees_them() {
        let mut bytes = ggml_bytes(TWO_TENSORS);
        // n_vocab is the first value after the magic.
        bytes[4..8].copy_from_slice(&i32::MAX.to_le_bytes());
        let f = write_temp(&bytes);
        assert_eq!(
            check_ggml_file(f.path()),
            Err(ModelFileProblem::Header {
                field: "n_vocab",
                value: i64::from(i32::MAX)
            })
        );
    }

    #[test]
    fn unknown_tensor_type_is_refused() {
        let f = write_temp(&ggml_bytes(&[("x", &[4], 999, 16)]));
        assert!(matches!(
            check_ggml_file(f.path()),
            Err(ModelFileProblem::Tensor { index: 0, .. })
        ));
    }

    #[test]
    fn header_only_file_has_no_weights() {
        let f = write_temp(&ggml_bytes(&[]));
        assert_eq!(check_ggml_file(f.path()), Err(ModelFileProblem::NoTensors));
    }

    #[test]
    fn quantized_tensor_sizes_follow_ggml_blocks() {
        // q8_0 (type 8): 32 values in 34 bytes.
        assert_eq!(tensor_bytes(8, 64), Some(68));
        assert_eq!(tensor_bytes(8, 33), None);
        assert_eq!(tensor_bytes(1, 10), Some(20));
        assert_eq!(tensor_bytes(-1, 10), None);
    }

    #[test]
    fn missing_and_damaged_models_give_the_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ggml-base.bin");
        assert!(matches!(
            WhisperModel::load(&missing, "base"),
            Err(TranscribeError::ModelNotFound { .. })
        ));
        let f = write_temp(&ggml_bytes(TWO_TENSORS));
        // Structurally whole but missing most weights: whisper.cpp itself refuses it.
        let err = WhisperModel::load(f.path(), "base").unwrap_err();
        assert!(
            matches!(err, TranscribeError::ModelUnreadable { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("scripts/fetch-model.sh base"));
    }

    #[test]
    fn audio_ctx_follows_chunk_length_and_is_capped() {
        assert_eq!(audio_ctx_for(16_000 * 10, 64), 564);
        assert_eq!(audio_ctx_for(16_000 * 40, 64), MAX_AUDIO_CTX);
        assert_eq!(audio_ctx_for(0, 0), 1);
    }
}

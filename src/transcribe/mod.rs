//! Speech to text: the transcript shape, and the seam behind which the Whisper model sits.

pub mod chunks;
pub mod guards;
pub mod output;
pub mod vocabulary;
pub mod whisper;

use std::sync::Arc;

use crate::audio::Samples16k;

pub use chunks::Progress;

/// The built-in initial prompt that biases Whisper toward clinical vocabulary (SI/HI, PHQ-9,
/// medication names, mental-status terms). It is written as sentences because Whisper treats the
/// prompt as text that came just before, and measured better that way than as a word list.
pub const CLINICAL_PROMPT: &str = include_str!("../../prompts/clinical.txt");

/// One stretch of recognised speech with its place in the audio.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// Everything recognised in one piece of audio.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    pub segments: Vec<Segment>,
    /// Length of the audio that was transcribed.
    pub duration_s: f64,
}

impl Transcript {
    /// The recognised text as one string, segments joined by single spaces.
    pub fn text(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How Whisper is asked to decode.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscribeOptions {
    /// CPU threads for one transcription job.
    pub threads: usize,
    /// Beam width; `None` decodes greedily.
    pub beam_size: Option<usize>,
    /// Clinical vocabulary that biases recognition; applied to every chunk.
    pub initial_prompt: String,
}

/// The seam between the audio-handling code and the model: decode one utterance-sized piece of audio
/// (at most about 30 seconds, 16 kHz mono) into segments timed from the start of that piece.
///
/// The real implementation is [`whisper::WhisperTranscriber`]; unit tests substitute a scripted one.
pub trait ChunkTranscriber: Send + Sync {
    /// `context` is what was recognised just before this audio (empty when nothing was): the
    /// engine may use it, as Whisper does its prompt, to carry the thread of the dictation over.
    fn transcribe_chunk(
        &self,
        audio: &[f32],
        pass: Pass,
        context: &str,
    ) -> Result<Vec<RawSegment>, TranscribeError>;
    /// Short name of the model, as shown to the clinician and recorded in the draft.
    fn model_name(&self) -> &str;
    /// The prompt given with every chunk; the guards drop text that merely repeats it.
    fn initial_prompt(&self) -> &str;
}

/// Which attempt at a chunk this is: the normal decode, or the one retry after the guards found the
/// first result stuck in a repetition loop (the engine should decode differently then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    First,
    Retry,
}

/// A segment as the model produced it, before the guards decide whether it is real speech.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// The model's probability that this stretch held no speech at all.
    pub no_speech_prob: f32,
    /// Mean log probability of the segment's text tokens (0 when there were none).
    pub avg_logprob: f32,
}

/// What can go wrong between loading a model and getting text back.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("the speech model was not found at {path}: run scripts/fetch-model.sh {name}")]
    ModelNotFound {
        path: std::path::PathBuf,
        name: String,
    },
    #[error(
        "the speech model at {path} could not be loaded (damaged or not a Whisper model): run scripts/fetch-model.sh {name} to replace it"
    )]
    ModelUnreadable {
        path: std::path::PathBuf,
        name: String,
    },
    #[error(
        "speech recognition failed ({detail}): try again, and if it keeps failing run `notedraft models verify`"
    )]
    Engine { detail: String },
}

/// Transcribe a whole recording: cut at pauses, each chunk decoded on its own with the prompt,
/// invented text removed, times measured from the start of the recording.
pub fn transcribe(
    engine: &dyn ChunkTranscriber,
    audio: &Samples16k,
) -> Result<Transcript, TranscribeError> {
    transcribe_with_progress(engine, audio, &mut |_| {})
}

/// [`transcribe`] for audio that follows on from `context`, the text recognised just before it
/// (live dictation transcribes one utterance at a time).
pub fn transcribe_after(
    engine: &dyn ChunkTranscriber,
    audio: &Samples16k,
    context: &str,
) -> Result<Transcript, TranscribeError> {
    let segments = chunks::transcribe_chunks(engine, audio, &VoiceDetector, context, &mut |_| {})?;
    Ok(Transcript {
        segments,
        duration_s: audio.duration_s(),
    })
}

/// [`transcribe`], reporting after each chunk so that a driver can show progress.
pub fn transcribe_with_progress(
    engine: &dyn ChunkTranscriber,
    audio: &Samples16k,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Transcript, TranscribeError> {
    let segments = chunks::transcribe_chunks(engine, audio, &VoiceDetector, "", on_progress)?;
    Ok(Transcript {
        segments,
        duration_s: audio.duration_s(),
    })
}

/// [`transcribe`] for drivers on the tokio runtime: the CPU-heavy decoding runs on a blocking
/// thread so that the runtime keeps serving other work meanwhile.
pub async fn transcribe_blocking_off_runtime(
    engine: Arc<dyn ChunkTranscriber>,
    audio: Samples16k,
) -> Result<Transcript, TranscribeError> {
    tokio::task::spawn_blocking(move || transcribe(engine.as_ref(), &audio))
        .await
        .map_err(|e| TranscribeError::Engine {
            detail: format!("the transcription job stopped unexpectedly ({e})"),
        })?
}

/// The voice activity detector from [`crate::audio::vad`] as the transcriber's map of speech.
struct VoiceDetector;

impl chunks::SpeechMap for VoiceDetector {
    fn plan(&self, samples: &Samples16k, max_chunk_s: f64) -> Vec<std::ops::Range<usize>> {
        crate::audio::vad::plan_chunks(samples, max_chunk_s as f32)
    }

    fn has_speech(&self, samples: &[f32]) -> bool {
        crate::audio::vad::has_speech(&Samples16k::new(samples.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chunks::tests::Scripted;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn silence_off_the_runtime_gives_an_empty_transcript_without_the_model() {
        let engine = Arc::new(Scripted::new(vec![]));
        let shared: Arc<dyn ChunkTranscriber> = engine.clone();
        let silence = Samples16k::new(vec![0.0; 16_000 * 5]);
        let transcript = transcribe_blocking_off_runtime(shared, silence)
            .await
            .unwrap();
        assert_eq!(transcript.segments, vec![]);
        assert_eq!(transcript.duration_s, 5.0);
        assert!(engine.calls().is_empty());
    }

    #[test]
    fn transcript_text_joins_segments() {
        let t = Transcript {
            segments: vec![
                Segment {
                    start_s: 0.0,
                    end_s: 1.0,
                    text: " Mood is low. ".into(),
                },
                Segment {
                    start_s: 1.0,
                    end_s: 2.0,
                    text: "Plan: CBT.".into(),
                },
            ],
            duration_s: 2.0,
        };
        assert_eq!(t.text(), "Mood is low. Plan: CBT.");
    }
}

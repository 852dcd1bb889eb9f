//! Speech to text: the transcript shape, and the seam behind which the Whisper model sits.

pub mod chunks;
pub mod guards;
pub mod whisper;

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
    fn transcribe_chunk(&self, audio: &[f32]) -> Result<Vec<RawSegment>, TranscribeError>;
    /// Short name of the model, as shown to the clinician and recorded in the draft.
    fn model_name(&self) -> &str;
}

/// A segment as the model produced it, before the guards decide whether it is real speech.
#[derive(Clone, Debug, PartialEq)]
pub struct RawSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// The model's probability that this stretch held no speech at all.
    pub no_speech_prob: f32,
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
    #[error("speech recognition failed: {detail}")]
    Engine { detail: String },
}

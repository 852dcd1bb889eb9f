//! Samples to transcript to draft: the one path that record, draft and batch all drive.
//!
//! Drivers differ only in where audio comes from (a file, a folder, the microphone) and in what they
//! show while they work; loading the model, transcribing, drafting and saving all happen here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audio::{self, AudioError, AudioInfo, Samples16k};
use crate::config::Settings;
use crate::model::catalog::{self, ModelError};
use crate::note::draft::{Draft, Source, SourceKind};
use crate::note::{self, DraftRequest, NoteFormat, TimedText, render};
use crate::store::{DraftFiles, DraftOrigin, DraftStore, SavedDraft, StoreError};
use crate::transcribe::whisper::{DecodeTuning, WhisperModel, WhisperTranscriber};
use crate::transcribe::{
    self, CLINICAL_PROMPT, ChunkTranscriber, TranscribeError, TranscribeOptions, Transcript,
};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Transcribe(#[from] TranscribeError),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "could not read the prompt file {path} ({source}): fix prompt_file in the settings or remove it"
    )]
    Prompt {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read the transcript {path} ({source}): check the file name")]
    TextUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a plain-text transcript: save it as plain text (.txt, UTF-8) and try again"
    )]
    NotText { path: PathBuf },
}

/// The prompt of [`Speech::listen_for_stop`].
const STOP_LISTEN_PROMPT: &str = "End of dictation.";

/// A loaded speech model with the settings to decode with. Cheap to share between jobs.
#[derive(Clone)]
pub struct Speech {
    model: Arc<WhisperModel>,
    options: TranscribeOptions,
}

impl Speech {
    /// Find the model the settings ask for, load it once, and read the prompt.
    pub fn load(settings: &Settings) -> Result<Self, PipelineError> {
        let resolved = catalog::resolve(settings.model.as_deref())?;
        let name = fix_name(&resolved);
        let model = WhisperModel::load(&resolved.path, &name)?;
        let initial_prompt = match &settings.prompt_file {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|source| PipelineError::Prompt {
                    path: path.clone(),
                    source,
                })?
            }
            None => CLINICAL_PROMPT.to_string(),
        };
        let initial_prompt = initial_prompt.trim().to_string();
        if model.prompt_token_count(&initial_prompt)? > transcribe::whisper::PROMPT_TOKEN_BUDGET {
            tracing::warn!(
                "the prompt is longer than Whisper keeps ({} tokens): its beginning is ignored; shorten it",
                transcribe::whisper::PROMPT_TOKEN_BUDGET
            );
        }
        tracing::info!(
            model = %name,
            "speech model loaded in {:.2} s",
            model.load_time().as_secs_f64()
        );
        Ok(Self {
            model,
            options: TranscribeOptions {
                threads: settings.threads,
                beam_size: settings.beam_size,
                initial_prompt,
            },
        })
    }

    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    pub fn model(&self) -> &Arc<WhisperModel> {
        &self.model
    }

    /// The same model decoding with a different number of threads (batch runs several jobs at once).
    pub fn with_threads(&self, threads: usize) -> Self {
        let mut speech = self.clone();
        speech.options.threads = threads.max(1);
        speech
    }

    /// A decoder over this model, for drivers that feed it utterances themselves.
    pub fn engine(&self) -> Arc<dyn ChunkTranscriber> {
        Arc::new(WhisperTranscriber::new(
            Arc::clone(&self.model),
            self.options.clone(),
        ))
    }

    /// Transcribe one utterance of live dictation that follows on from `context`, the text
    /// recognised before it.
    pub fn transcribe_following(
        &self,
        samples: &Samples16k,
        context: &str,
    ) -> Result<Transcript, TranscribeError> {
        self.transcribe_live(self.options.clone(), samples, context)
    }

    /// A quick listen for the spoken stop: like [`Self::transcribe_following`], but the prompt is
    /// the stop phrase and what was said before, not the clinical vocabulary. The clinical prompt
    /// (about 90 tokens) was a third of the decode time of a short utterance and did not help hear
    /// the stop; with no prompt at all the stop was missed after some sentences. Measured on
    /// espeak-ng utterances after a dictation's last sentences (base, 2 threads): 0.48-0.53 s
    /// against 0.73-0.84 s, and "End of dictation." in two voices and "End of note." heard every
    /// time (the clinical prompt missed two of those four). Its text is only good for hearing the
    /// stop: text for the note must come from [`Self::transcribe_following`].
    pub fn listen_for_stop(
        &self,
        samples: &Samples16k,
        context: &str,
    ) -> Result<Transcript, TranscribeError> {
        let options = TranscribeOptions {
            initial_prompt: STOP_LISTEN_PROMPT.to_string(),
            ..self.options.clone()
        };
        self.transcribe_live(options, samples, context)
    }

    fn transcribe_live(
        &self,
        options: TranscribeOptions,
        samples: &Samples16k,
        context: &str,
    ) -> Result<Transcript, TranscribeError> {
        let mut engine = WhisperTranscriber::new(Arc::clone(&self.model), options);
        engine.tuning = DecodeTuning::live();
        transcribe::transcribe_after(&engine, samples, context)
    }

    pub fn transcribe(&self, samples: &Samples16k) -> Result<Transcript, TranscribeError> {
        let engine = WhisperTranscriber::new(Arc::clone(&self.model), self.options.clone());
        transcribe::transcribe(&engine, samples)
    }
}

/// The name of the model the settings choose, as drafts record it, without loading it.
pub fn model_name(settings: &Settings) -> Result<String, PipelineError> {
    let resolved = catalog::resolve(settings.model.as_deref())?;
    Ok(fix_name(&resolved))
}

/// A recording read from disk and transcribed.
pub struct HeardFile {
    pub info: AudioInfo,
    pub transcript: Transcript,
}

/// Read any supported recording and transcribe it.
pub fn transcribe_file(speech: &Speech, path: &Path) -> Result<HeardFile, PipelineError> {
    transcribe_file_with_progress(speech, path, &mut |_| {})
}

/// [`transcribe_file`], telling after each piece how far it has got.
pub fn transcribe_file_with_progress(
    speech: &Speech,
    path: &Path,
    on_progress: &mut dyn FnMut(transcribe::Progress),
) -> Result<HeardFile, PipelineError> {
    let (samples, info) = audio::load_file(path)?;
    let engine = WhisperTranscriber::new(Arc::clone(&speech.model), speech.options.clone());
    let transcript = transcribe::transcribe_with_progress(&engine, &samples, on_progress)?;
    Ok(HeardFile { info, transcript })
}

/// Draft a note from a transcript (pure: no clock, no files).
pub fn draft_from_transcript(
    transcript: &Transcript,
    format: NoteFormat,
    source: Source,
    created_at: jiff::Timestamp,
) -> Draft {
    let pieces = transcript
        .segments
        .iter()
        .map(|s| TimedText {
            text: s.text.clone(),
            start_s: Some(s.start_s),
            end_s: Some(s.end_s),
        })
        .collect();
    note::build_draft(&DraftRequest {
        format,
        pieces,
        source,
        created_at,
    })
}

/// Draft a note from a plain-text transcript (pure). Each line is a piece; a blank line is a pause.
pub fn draft_from_text(
    text: &str,
    format: NoteFormat,
    source: Source,
    created_at: jiff::Timestamp,
) -> Draft {
    let pieces = text
        .lines()
        .map(|line| TimedText {
            text: line.to_string(),
            start_s: None,
            end_s: None,
        })
        .collect();
    note::build_draft(&DraftRequest {
        format,
        pieces,
        source,
        created_at,
    })
}

/// Read a plain-text transcript file.
pub fn read_text_file(path: &Path) -> Result<String, PipelineError> {
    let bytes = std::fs::read(path).map_err(|source| PipelineError::TextUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| PipelineError::NotText {
        path: path.to_path_buf(),
    })
}

/// Where an audio draft came from, for the draft's `source` field.
pub fn audio_source(path: &Path, info: &AudioInfo, model: &str) -> Source {
    Source {
        kind: SourceKind::Audio,
        path: path.display().to_string(),
        duration_s: Some(info.duration_s),
        model: Some(model.to_string()),
    }
}

pub fn text_source(path: &Path) -> Source {
    Source {
        kind: SourceKind::Text,
        path: path.display().to_string(),
        duration_s: None,
        model: None,
    }
}

/// Render a draft to its files (Markdown, JSON, private process note) and write them.
pub fn save_draft(
    store: &DraftStore,
    stem: &str,
    draft: &Draft,
    origin: &DraftOrigin,
) -> Result<SavedDraft, StoreError> {
    let files = DraftFiles {
        markdown: render::markdown(draft),
        json: draft.to_json(),
        process_note: render::process_note(draft),
    };
    store.save(stem, &files, origin)
}

/// The catalog name to put in "run scripts/fetch-model.sh NAME" should the model file be damaged:
/// for a file given by path, the catalog model with that file name, if any.
fn fix_name(resolved: &catalog::ResolvedModel) -> String {
    match &resolved.entry {
        Some(entry) => entry.name.clone(),
        None => catalog::Catalog::builtin()
            .models()
            .iter()
            .find(|e| Some(std::ffi::OsStr::new(&e.file)) == resolved.path.file_name())
            .map_or_else(|| catalog::DEFAULT_MODEL.to_string(), |e| e.name.clone()),
    }
}

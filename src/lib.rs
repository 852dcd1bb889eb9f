//! notedraft: a clinician's dictation in, an unsigned SOAP or DAP progress-note draft out, all on this machine.
//!
//! The pipeline is visible in the module tree:
//! `audio` (capture, files, resampling, voice activity) -> `transcribe` (Whisper) -> `note` (sentences,
//! commands, classifier, checks, draft; pure code) -> `store` (atomic, owner-only files).
//! `pipeline` is the one path that the `record`, `draft` and `batch` drivers share.

pub mod audio;
pub mod batch;
pub mod config;
pub mod error;
pub mod eval;
pub mod model;
pub mod note;
pub mod pipeline;
pub mod record;
pub mod store;
pub mod transcribe;

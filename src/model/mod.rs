//! Whisper models: which ones exist, where they live, and how they are obtained and verified.

pub mod catalog;
pub mod convert;

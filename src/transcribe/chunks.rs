//! Cuts audio at pauses into chunks Whisper handles well, each transcribed on its own with the clinical prompt.

//! The known Whisper models (name, file, size, sha256, sources) and the order in which model files are looked up.

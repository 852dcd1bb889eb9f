//! Converts CTranslate2 (faster-whisper) Whisper weights into the ggml file whisper.cpp loads.

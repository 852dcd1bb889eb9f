//! Live dictation driver: capture, live view, stop conditions, recovery of interrupted recordings.

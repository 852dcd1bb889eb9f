//! The only user of whisper-rs: one loaded model shared by all jobs, a fresh state per job.

//! The only user of hound: read any common WAV into mono f32, and write the growing recording.

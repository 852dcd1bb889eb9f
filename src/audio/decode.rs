//! The only user of symphonia: phone and compressed formats (M4A/AAC, MP3, FLAC, Ogg) into mono f32.

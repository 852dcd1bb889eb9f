//! The only user of rubato: band-limited conversion from any input rate to 16 kHz, streaming (push/finish).

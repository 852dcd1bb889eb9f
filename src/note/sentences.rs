//! Splits transcript segments into sentences that keep their audio times.

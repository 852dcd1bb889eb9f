//! Helpers shared by the integration tests: the virtual microphone and transcript scoring.
#![allow(dead_code, unused_imports)]

pub mod cli;
mod score;
pub mod vmic;

pub use score::*;

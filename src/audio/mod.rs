//! Audio as the rest of the pipeline sees it: mono f32 samples at 16 kHz, and the loaders that produce them.

pub mod capture;
pub mod decode;
pub mod resample;
pub mod vad;
pub mod wav;

/// The sample rate Whisper works at; every input is converted to it.
pub const WHISPER_RATE: u32 = 16_000;

/// Mono f32 samples in -1.0..=1.0 at [`WHISPER_RATE`]: the only audio shape stages after input see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples16k(Vec<f32>);

impl Samples16k {
    pub fn new(samples: Vec<f32>) -> Self {
        Self(samples)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn into_inner(self) -> Vec<f32> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn duration_s(&self) -> f64 {
        self.0.len() as f64 / f64::from(WHISPER_RATE)
    }
}

/// Average interleaved frames of `channels` samples down to one channel.
pub fn mix_to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    match channels {
        0 => Vec::new(),
        1 => interleaved.to_vec(),
        n => {
            let scale = 1.0 / n as f32;
            interleaved
                .chunks_exact(n)
                .map(|frame| frame.iter().sum::<f32>() * scale)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_frames_are_averaged() {
        assert_eq!(mix_to_mono(&[1.0, 0.0, -0.5, -0.5], 2), vec![0.5, -0.5]);
    }

    #[test]
    fn duration_follows_sample_count() {
        assert_eq!(Samples16k::new(vec![0.0; 8000]).duration_s(), 0.5);
    }
}

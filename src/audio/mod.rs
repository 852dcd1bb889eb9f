//! Audio as the rest of the pipeline sees it: mono f32 samples at 16 kHz, and the loaders that produce them.
//!
//! Files come in through [`load_file`]: the content (not the extension) decides whether [`wav`] (hound) or
//! [`decode`] (symphonia) reads it; either way the audio is mixed to mono and resampled to 16 kHz block by
//! block as it is read, so a two-hour memo never exists in memory at its original rate.

pub mod capture;
pub mod decode;
pub mod resample;
pub mod vad;
pub mod wav;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The sample rate Whisper works at; every input is converted to it.
pub const WHISPER_RATE: u32 = 16_000;

/// Lowest source sample rate accepted (telephone quality).
pub const MIN_SOURCE_RATE: u32 = 8_000;
/// Highest source sample rate accepted.
pub const MAX_SOURCE_RATE: u32 = 96_000;

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

/// What is known about a recording besides its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioInfo {
    /// Sample rate of the file as stored, before conversion to 16 kHz.
    pub source_rate: u32,
    /// Channels in the file as stored, before mixing to mono.
    pub channels: u16,
    /// Length in seconds. After [`load_file`] this counts the audio actually decoded; from [`probe_file`] it
    /// is what the container declares (0.0 when it declares nothing).
    pub duration_s: f64,
    /// Short human description of container and encoding, e.g. "WAV, 16-bit PCM" or "M4A (AAC)".
    pub format: String,
    /// When the recording was made, if the file's metadata says so (best effort).
    pub recorded_at: Option<jiff::Timestamp>,
}

/// Everything that can go wrong reading, decoding, resampling or writing audio.
///
/// Each message is one sentence a clinician can act on; the structured fields are for logs and tests.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{} was not found: check the file name and folder and try again", path.display())]
    NotFound { path: PathBuf },

    #[error(
        "{} is a folder, not a recording: give the path of one audio file, or use `notedraft batch` for a whole folder",
        path.display()
    )]
    IsDirectory { path: PathBuf },

    #[error(
        "notedraft is not allowed to read {}: check the file's permissions (or copy it into your own folder) and try again",
        path.display()
    )]
    PermissionDenied { path: PathBuf },

    #[error(
        "{} is empty (0 bytes), so nothing was recorded in it: copy the recording again from the device it was made on",
        path.display()
    )]
    Empty { path: PathBuf },

    #[error(
        "{} is not an audio file notedraft can read: export it as WAV, M4A, MP3, FLAC or Ogg and try again",
        path.display()
    )]
    NotAudio { path: PathBuf },

    #[error(
        "{} has no sound track: choose the file that holds the recording's audio and try again",
        path.display()
    )]
    NoAudioTrack { path: PathBuf },

    #[error(
        "{} is cut short (the file ends before the audio its header announces), so it was not used: copy it again from the recorder, or run `notedraft recover` if it is an interrupted notedraft recording",
        path.display()
    )]
    Truncated { path: PathBuf },

    #[error(
        "{} was not closed properly when it was recorded (its header is out of date): run `notedraft recover` to repair it, then try again",
        path.display()
    )]
    HeaderStale { path: PathBuf },

    #[error(
        "{} uses an unsupported WAV encoding ({encoding}): export it as a 16-bit PCM WAV and try again",
        path.display()
    )]
    UnsupportedWavEncoding { path: PathBuf, encoding: String },

    #[error(
        "{} is {codec} audio, which notedraft cannot decode: export it as WAV, M4A, MP3, FLAC or Ogg Vorbis and try again",
        path.display()
    )]
    UnsupportedCodec { path: PathBuf, codec: String },

    #[error(
        "{} has a sample rate of {rate} Hz, outside the 8,000 to 96,000 Hz notedraft accepts: export it at 16 kHz or 48 kHz and try again",
        path.display()
    )]
    UnsupportedRate { path: PathBuf, rate: u32 },

    #[error(
        "{} is damaged and could not be decoded: open it in a media player to check it, export it again, and try again",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    #[error("{} could not be read ({source}): check the disk or drive and try again", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error(
        "{} already exists, so notedraft will not record over it: choose another file name",
        path.display()
    )]
    AlreadyExists { path: PathBuf },

    #[error(
        "the recording could not be written to {} ({detail}): check that the disk has free space and try again",
        path.display()
    )]
    Write { path: PathBuf, detail: String },

    /// Live audio has no file; `rate` names the stream.
    #[error(
        "audio at {rate} Hz could not be converted to 16 kHz ({detail}): choose another microphone or file and try again"
    )]
    Resample { rate: u32, detail: String },
}

impl AudioError {
    /// Map an I/O error from opening or reading `path` to the variant that tells the clinician what to do.
    pub(crate) fn from_io(path: &Path, err: io::Error) -> Self {
        let path = path.to_path_buf();
        match err.kind() {
            io::ErrorKind::NotFound => AudioError::NotFound { path },
            io::ErrorKind::PermissionDenied => AudioError::PermissionDenied { path },
            io::ErrorKind::IsADirectory => AudioError::IsDirectory { path },
            io::ErrorKind::UnexpectedEof => AudioError::Truncated { path },
            _ => AudioError::Read { path, source: err },
        }
    }
}

/// Reject sample rates outside what notedraft accepts, naming the file.
pub(crate) fn check_rate(path: &Path, rate: u32) -> Result<(), AudioError> {
    if (MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::UnsupportedRate {
            path: path.to_path_buf(),
            rate,
        })
    }
}

/// Read a date and time from a metadata tag: RFC 3339 with an offset, or a civil date-time (taken in this
/// machine's time zone). A date without a time of day says too little and gives `None`.
pub(crate) fn parse_recording_time(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim().trim_end_matches('\0').trim();
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts);
    }
    // "2024-03-05 10:15:00" is as common as the ISO "T" form.
    let iso = if text.len() > 10 && text.as_bytes()[10] == b' ' {
        format!("{}T{}", &text[..10], &text[11..])
    } else {
        text.to_string()
    };
    if !iso.contains('T') {
        return None;
    }
    let civil = iso.parse::<jiff::civil::DateTime>().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::system())
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// A file being read block by block as mono f32 at its own rate.
pub(crate) trait MonoSource {
    fn rate(&self) -> u32;
    /// Append the next block of mono samples to `out`; `Ok(false)` once the audio has ended.
    fn read_block(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError>;
    /// What is known about the file; `duration_s` is what the container declares.
    fn info(&self) -> AudioInfo;
}

/// Which reader a file's first bytes call for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Wav,
    Other,
}

/// Open `path` for reading after checking it is a non-empty regular file, and say which reader it needs.
fn open_checked(path: &Path) -> Result<Container, AudioError> {
    let meta = std::fs::metadata(path).map_err(|e| AudioError::from_io(path, e))?;
    if meta.is_dir() {
        return Err(AudioError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut file = File::open(path).map_err(|e| AudioError::from_io(path, e))?;
    let mut magic = [0u8; 12];
    let mut filled = 0;
    while filled < magic.len() {
        match file.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AudioError::from_io(path, e)),
        }
    }
    if filled == magic.len() && &magic[0..4] == b"RIFF" && &magic[8..12] == b"WAVE" {
        Ok(Container::Wav)
    } else {
        Ok(Container::Other)
    }
}

/// Open a file with the reader its content calls for. A WAV whose encoding hound cannot read (A-law,
/// mu-law, ADPCM) is handed to symphonia, which decodes those; if that fails too, the WAV error stands.
fn open_source(path: &Path) -> Result<Box<dyn MonoSource>, AudioError> {
    match open_checked(path)? {
        Container::Wav => match wav::WavSource::open(path) {
            Ok(source) => Ok(Box::new(source)),
            Err(wav_err @ AudioError::UnsupportedWavEncoding { .. }) => {
                match decode::DecodedSource::open(path) {
                    Ok(source) => Ok(Box::new(source)),
                    Err(decode_err) => {
                        tracing::debug!(%decode_err, "symphonia could not read the WAV either");
                        Err(wav_err)
                    }
                }
            }
            Err(e) => Err(e),
        },
        Container::Other => Ok(Box::new(decode::DecodedSource::open(path)?)),
    }
}

/// Read an audio file of any supported kind into 16 kHz mono, with what is known about it.
///
/// Missing, empty, folder, non-audio, truncated, damaged and unsupported files give the matching
/// [`AudioError`]; a file is never returned partially.
pub fn load_file(path: &Path) -> Result<(Samples16k, AudioInfo), AudioError> {
    let mut source = open_source(path)?;
    let rate = source.rate();
    check_rate(path, rate)?;
    let mut resampler = resample::Resampler16k::new(rate)?;
    let mut block = Vec::new();
    let mut out = Vec::new();
    let mut frames_in: u64 = 0;
    loop {
        block.clear();
        let more = source.read_block(&mut block)?;
        frames_in += block.len() as u64;
        resampler.push_into(&block, &mut out);
        if !more {
            break;
        }
    }
    resampler.finish_into(&mut out);
    out.shrink_to_fit();
    let mut info = source.info();
    info.duration_s = frames_in as f64 / f64::from(rate);
    Ok((Samples16k::new(out), info))
}

/// Read only a file's headers: format, rate, channels, declared length and recording time, without decoding.
pub fn probe_file(path: &Path) -> Result<AudioInfo, AudioError> {
    let source = open_source(path)?;
    check_rate(path, source.rate())?;
    Ok(source.info())
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

    #[test]
    fn missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.wav");
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.wav"));
    }

    #[test]
    fn folder_is_refused_as_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_file(dir.path()).unwrap_err();
        assert!(matches!(err, AudioError::IsDirectory { .. }), "{err:?}");
    }

    #[test]
    fn empty_file_is_empty_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["memo.wav", "memo.m4a", "memo"] {
            let path = dir.path().join(name);
            std::fs::write(&path, b"").unwrap();
            let err = load_file(&path).unwrap_err();
            assert!(matches!(err, AudioError::Empty { .. }), "{name}: {err:?}");
        }
    }

    #[test]
    fn text_file_is_not_audio_whatever_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["notes.wav", "notes.mp3", "notes.m4a", "notes.txt"] {
            let path = dir.path().join(name);
            std::fs::write(&path, "Client reports better sleep this week.\n".repeat(50)).unwrap();
            let err = load_file(&path).unwrap_err();
            assert!(
                matches!(err, AudioError::NotAudio { .. }),
                "{name}: {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains(name) && message.contains("export it as WAV"),
                "{message}"
            );
        }
    }

    #[test]
    fn recording_times_parse_from_common_tag_shapes() {
        let utc: jiff::Timestamp = "2024-03-05T10:15:00Z".parse().unwrap();
        assert_eq!(parse_recording_time("2024-03-05T10:15:00Z"), Some(utc));
        assert_eq!(parse_recording_time("2024-03-05T11:15:00+01:00"), Some(utc));
        assert_eq!(
            parse_recording_time(" 2024-03-05T10:15:00.000000Z\0"),
            Some(utc)
        );
        let local = parse_recording_time("2024-03-05 10:15:00").expect("civil time parses");
        let expected = "2024-03-05T10:15:00"
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::system())
            .unwrap()
            .timestamp();
        assert_eq!(local, expected);
        assert_eq!(parse_recording_time("2024-03-05"), None);
        assert_eq!(parse_recording_time("2024"), None);
        assert_eq!(parse_recording_time("last Tuesday"), None);
    }

    #[test]
    fn out_of_range_rate_is_refused() {
        assert!(check_rate(Path::new("a.wav"), 8_000).is_ok());
        assert!(check_rate(Path::new("a.wav"), 96_000).is_ok());
        let err = check_rate(Path::new("a.wav"), 192_000).unwrap_err();
        assert!(matches!(
            err,
            AudioError::UnsupportedRate { rate: 192_000, .. }
        ));
        assert!(check_rate(Path::new("a.wav"), 4_000).is_err());
    }

    #[test]
    fn messages_are_one_sentence_that_says_what_to_do() {
        let path = PathBuf::from("/tmp/memo.wav");
        let errors = [
            AudioError::NotFound { path: path.clone() },
            AudioError::Empty { path: path.clone() },
            AudioError::NotAudio { path: path.clone() },
            AudioError::Truncated { path: path.clone() },
            AudioError::UnsupportedWavEncoding {
                path: path.clone(),
                encoding: "A-law".into(),
            },
            AudioError::Corrupt {
                path: path.clone(),
                detail: "bad frame".into(),
            },
        ];
        for err in errors {
            let message = err.to_string();
            assert!(message.contains("/tmp/memo.wav"), "{message}");
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.contains(": ") && message.matches(". ").count() == 0,
                "{message}"
            );
        }
    }
}

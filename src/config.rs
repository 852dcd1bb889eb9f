//! Configuration file (TOML) merged with command-line flags into plain settings.
//!
//! Precedence, highest first: command-line flag, config file, built-in default. Unknown keys in the
//! file are rejected so that a misspelt setting is reported instead of silently ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::note::NoteFormat;

/// Everything the drivers need to know, with clap and serde left behind.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// A catalog name ("base", "tiny.en") or a path to a ggml file; `None` means the default model.
    pub model: Option<String>,
    /// CPU threads for one transcription job.
    pub threads: usize,
    /// Beam width; `None` decodes greedily.
    pub beam_size: Option<usize>,
    pub format: NoteFormat,
    /// Where drafts (and kept recordings) are written.
    pub out_dir: PathBuf,
    /// Input device name for live dictation; `None` means the system default.
    pub device: Option<String>,
    /// Live dictation stops after this many seconds without speech.
    pub silence_stop_s: f64,
    /// Keep the recording beside the draft after drafting.
    pub keep_recording: bool,
    /// Memos transcribed at once in batch; `None` lets notedraft choose.
    pub jobs: Option<usize>,
    /// A file with the initial prompt to use instead of the built-in clinical one.
    pub prompt_file: Option<PathBuf>,
}

impl Settings {
    pub fn defaults() -> Self {
        Self {
            model: None,
            threads: default_threads(),
            beam_size: None,
            format: NoteFormat::Soap,
            out_dir: default_out_dir(),
            device: None,
            silence_stop_s: 30.0,
            keep_recording: true,
            jobs: None,
            prompt_file: None,
        }
    }

    /// Layer the config file and then the command-line flags over the defaults.
    pub fn resolve(file: ConfigFile, flags: Overrides) -> Self {
        let base = Self::defaults();
        Self {
            model: flags.model.or(file.model),
            threads: flags
                .threads
                .or(file.threads)
                .unwrap_or(base.threads)
                .max(1),
            beam_size: flags.beam_size.or(file.beam_size).filter(|&n| n > 1),
            format: flags.format.or(file.format).unwrap_or(base.format),
            out_dir: flags.out_dir.or(file.out_dir).unwrap_or(base.out_dir),
            device: flags.device.or(file.device),
            silence_stop_s: flags
                .silence_stop_s
                .or(file.silence_stop_s)
                .unwrap_or(base.silence_stop_s),
            keep_recording: file.keep_recording.unwrap_or(base.keep_recording),
            jobs: flags.jobs.or(file.jobs).filter(|&n| n > 0),
            prompt_file: flags.prompt_file.or(file.prompt_file),
        }
    }
}

/// Values given on the command line; `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub model: Option<String>,
    pub threads: Option<usize>,
    pub beam_size: Option<usize>,
    pub format: Option<NoteFormat>,
    pub out_dir: Option<PathBuf>,
    pub device: Option<String>,
    pub silence_stop_s: Option<f64>,
    pub jobs: Option<usize>,
    pub prompt_file: Option<PathBuf>,
}

/// The config file as written by the user. Every key is optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub model: Option<String>,
    pub threads: Option<usize>,
    #[serde(rename = "beam")]
    pub beam_size: Option<usize>,
    pub format: Option<NoteFormat>,
    pub out_dir: Option<PathBuf>,
    pub device: Option<String>,
    pub silence_stop_s: Option<f64>,
    pub keep_recording: Option<bool>,
    pub jobs: Option<usize>,
    pub prompt_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the settings file {path} has a mistake ({detail}): fix or remove that line")]
    Invalid { path: PathBuf, detail: String },
    #[error("could not save the settings file {path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

impl ConfigFile {
    /// Read the config file at `path`; a missing file at the default location is simply empty.
    pub fn load(path: &Path, must_exist: bool) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|detail| ConfigError::Invalid {
                path: path.to_path_buf(),
                detail,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                Ok(Self::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    /// Remember the chosen input device, keeping every other setting in the file.
    pub fn save_device(path: &Path, device: &str) -> Result<(), ConfigError> {
        let write_err = |detail: String| ConfigError::Write {
            path: path.to_path_buf(),
            detail,
        };
        let mut file = Self::load(path, false)?;
        file.device = Some(device.to_string());
        let text = toml::to_string_pretty(&file).map_err(|e| write_err(e.to_string()))?;
        crate::store::write_private_atomic(path, text.as_bytes())
            .map_err(|e| write_err(e.to_string()))
    }
}

/// `$XDG_CONFIG_HOME/notedraft/config.toml` (usually `~/.config/notedraft/config.toml`).
pub fn default_config_path() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("notedraft")
        .join("config.toml")
}

/// Drafts go to `~/notedraft/drafts` unless configured otherwise: easy for a clinician to find.
fn default_out_dir() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("notedraft")
        .join("drafts")
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let file =
            ConfigFile::parse("model = \"tiny.en\"\nthreads = 3\nformat = \"dap\"\n").unwrap();
        let flags = Overrides {
            threads: Some(1),
            ..Overrides::default()
        };
        let s = Settings::resolve(file, flags);
        assert_eq!(s.model.as_deref(), Some("tiny.en"));
        assert_eq!(s.threads, 1);
        assert_eq!(s.format, NoteFormat::Dap);
        assert_eq!(s.silence_stop_s, 30.0);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = ConfigFile::parse("modle = \"base\"\n").unwrap_err();
        assert!(err.contains("modle"), "{err}");
    }

    #[test]
    fn beam_of_one_means_greedy() {
        let flags = Overrides {
            beam_size: Some(1),
            ..Overrides::default()
        };
        assert_eq!(
            Settings::resolve(ConfigFile::default(), flags).beam_size,
            None
        );
    }

    #[test]
    fn saving_the_device_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "model = \"base\"\n").unwrap();
        ConfigFile::save_device(&path, "USB Mic").unwrap();
        let file = ConfigFile::load(&path, true).unwrap();
        assert_eq!(file.model.as_deref(), Some("base"));
        assert_eq!(file.device.as_deref(), Some("USB Mic"));
    }
}

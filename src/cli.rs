//! Command-line definitions (clap) and their conversion into plain settings; nothing else sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use notedraft::config::Overrides;
use notedraft::note::NoteFormat;

/// Turn your spoken session notes into an unsigned progress-note draft, entirely on this computer.
///
/// Dictate right after the session (`notedraft record`), or draft from a recorded memo
/// (`notedraft draft memo.m4a`) or a whole folder of memos (`notedraft batch ~/Memos`).
/// Every draft is marked UNSIGNED and must be reviewed before it goes into the record.
/// Nothing you say or write leaves this computer.
#[derive(Debug, Parser)]
#[command(
    name = "notedraft",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Settings file to use instead of ~/.config/notedraft/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Show more detail about what notedraft is doing (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dictate into the microphone now; the draft is ready about a second after you stop.
    ///
    /// Stop by pressing Enter, by saying "end of dictation", or by staying silent (30 seconds by
    /// default). Ctrl-C also stops and keeps everything. The recording is on disk while you talk,
    /// so nothing is lost if the computer crashes: run `notedraft recover` afterwards.
    Record(RecordArgs),

    /// Make a draft from one recorded dictation (or a typed transcript with --text).
    Draft(DraftArgs),

    /// Make drafts from every voice memo in a folder; finished memos are skipped on a re-run.
    Batch(BatchArgs),

    /// Write out what was said in one or more recordings, word for word, with times.
    Transcribe(TranscribeArgs),

    /// List the microphones that can record, and which one is used by default.
    Devices,

    /// Turn recordings left behind by an interrupted dictation into drafts.
    Recover(RecoverArgs),

    /// See, check and prepare the speech models notedraft uses.
    #[command(subcommand)]
    Models(ModelsCommand),

    /// Measure how well notes are sorted into sections on the labelled example dictations.
    Eval(EvalArgs),
}

/// Options shared by every command that listens to audio.
#[derive(Debug, Args, Default)]
pub struct SpeechArgs {
    /// Speech model: a name such as "base" or "tiny.en" (see `notedraft models list`), or a file path.
    #[arg(long, value_name = "NAME|PATH")]
    pub model: Option<String>,

    /// How many processor cores to use for speech recognition (default: all of them).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Try N alternatives at each step: slower, sometimes more accurate (default: 1).
    #[arg(long, value_name = "N")]
    pub beam: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Subjective, Objective, Assessment, Plan.
    Soap,
    /// Data, Assessment, Plan.
    Dap,
}

impl From<FormatArg> for NoteFormat {
    fn from(value: FormatArg) -> Self {
        match value {
            FormatArg::Soap => NoteFormat::Soap,
            FormatArg::Dap => NoteFormat::Dap,
        }
    }
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Microphone to use, by name or part of its name (see `notedraft devices`).
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,

    /// Remember the microphone given with --device for next time.
    #[arg(long, requires = "device")]
    pub save_device: bool,

    /// Note layout: soap or dap.
    #[arg(long, value_enum, value_name = "soap|dap")]
    pub format: Option<FormatArg>,

    /// Folder for the draft (default: ~/notedraft/drafts).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Stop after this many seconds without speech (default: 30).
    #[arg(long, value_name = "SECONDS")]
    pub stop_after_silence: Option<f64>,

    #[command(flatten)]
    pub speech: SpeechArgs,
}

#[derive(Debug, Args)]
pub struct DraftArgs {
    /// The recorded dictation (WAV, M4A, MP3, FLAC or Ogg).
    #[arg(
        value_name = "FILE",
        required_unless_present = "text",
        conflicts_with = "text"
    )]
    pub audio: Option<PathBuf>,

    /// Draft from a typed or previously transcribed text file instead of audio.
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,

    /// Note layout: soap or dap.
    #[arg(long, value_enum, value_name = "soap|dap")]
    pub format: Option<FormatArg>,

    /// Also print the draft as JSON (for other programs).
    #[arg(long)]
    pub json: bool,

    /// Folder for the draft (default: ~/notedraft/drafts).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub speech: SpeechArgs,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Folders of memos, or memo files.
    #[arg(value_name = "DIR|FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Folder for the drafts (default: ~/notedraft/drafts).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Note layout: soap or dap.
    #[arg(long, value_enum, value_name = "soap|dap")]
    pub format: Option<FormatArg>,

    /// How many memos to work on at once (default: chosen for this computer).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Print the summary as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub speech: SpeechArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TranscriptFormat {
    /// Plain text, one line per stretch of speech.
    Txt,
    /// JSON with start and end times.
    Json,
    /// Subtitles (SRT) with times.
    Srt,
}

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// One or more recordings (WAV, M4A, MP3, FLAC or Ogg).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Output layout: txt, json or srt.
    #[arg(long, value_enum, default_value = "txt", value_name = "txt|json|srt")]
    pub format: TranscriptFormat,

    /// Write each transcript into this folder instead of printing it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub speech: SpeechArgs,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Folder to look in for interrupted recordings and to write drafts to (default: ~/notedraft/drafts).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Note layout: soap or dap.
    #[arg(long, value_enum, value_name = "soap|dap")]
    pub format: Option<FormatArg>,

    #[command(flatten)]
    pub speech: SpeechArgs,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Show the known speech models, which are installed, and whether they check out.
    List,
    /// Check installed model files against their known fingerprints.
    Verify {
        /// Only check this model (default: all installed).
        name: Option<String>,
    },
    /// Convert a faster-whisper (CTranslate2) model folder into the file notedraft uses.
    Convert {
        /// Folder holding model.bin (or model.bin.part1, part2, ...) and vocabulary.txt or vocabulary.json.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Where to write the converted model.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Store the large weights as 8-bit numbers (q8_0): a file about half the size.
        #[arg(long)]
        q8: bool,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of labelled dictations (default: the project's held-out set).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl SpeechArgs {
    fn apply(&self, overrides: &mut Overrides) {
        overrides.model.clone_from(&self.model);
        overrides.threads = self.threads;
        overrides.beam_size = self.beam;
    }
}

impl Command {
    /// The flags of this command that override settings from the config file.
    pub fn overrides(&self) -> Overrides {
        let mut o = Overrides::default();
        match self {
            Command::Record(a) => {
                a.speech.apply(&mut o);
                o.device.clone_from(&a.device);
                o.format = a.format.map(Into::into);
                o.out_dir.clone_from(&a.out);
                o.silence_stop_s = a.stop_after_silence;
            }
            Command::Draft(a) => {
                a.speech.apply(&mut o);
                o.format = a.format.map(Into::into);
                o.out_dir.clone_from(&a.out);
            }
            Command::Batch(a) => {
                a.speech.apply(&mut o);
                o.format = a.format.map(Into::into);
                o.out_dir.clone_from(&a.out);
                o.jobs = a.jobs;
            }
            Command::Transcribe(a) => a.speech.apply(&mut o),
            Command::Recover(a) => {
                a.speech.apply(&mut o);
                o.format = a.format.map(Into::into);
                o.out_dir.clone_from(&a.out);
            }
            Command::Devices | Command::Models(_) | Command::Eval(_) => {}
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn draft_takes_audio_or_text_but_not_both() {
        assert!(Cli::try_parse_from(["notedraft", "draft", "--text", "t.txt", "--json"]).is_ok());
        assert!(Cli::try_parse_from(["notedraft", "draft", "a.wav"]).is_ok());
        assert!(Cli::try_parse_from(["notedraft", "draft", "a.wav", "--text", "t.txt"]).is_err());
        assert!(Cli::try_parse_from(["notedraft", "draft"]).is_err());
    }

    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "notedraft",
            "batch",
            "memos",
            "--format",
            "dap",
            "--jobs",
            "2",
            "--model",
            "tiny.en",
        ])
        .unwrap();
        let o = cli.command.overrides();
        assert_eq!(o.format, Some(NoteFormat::Dap));
        assert_eq!(o.jobs, Some(2));
        assert_eq!(o.model.as_deref(), Some("tiny.en"));
    }
}

//! `notedraft recover`: drafts for recordings that an interrupted dictation left behind.

use std::process::ExitCode;

use anyhow::Result;

use notedraft::config::Settings;
use notedraft::error;
use notedraft::pipeline::Speech;
use notedraft::record::{self, Recovered};

use super::{draft_summary, show};
use crate::cli::RecoverArgs;

pub fn run(_args: RecoverArgs, settings: &Settings) -> Result<ExitCode> {
    let waiting = record::unfinished_recordings(&settings.out_dir);
    if waiting.is_empty() {
        show(&format!(
            "No interrupted recordings in {}: nothing to recover.\n",
            settings.out_dir.display()
        ));
        return Ok(error::exit(error::EXIT_OK));
    }
    let speech = Speech::load(settings)?;
    let mut failed = 0;
    for path in &waiting {
        match record::recover(settings, &speech, path) {
            Ok(Recovered::Drafted {
                saved,
                draft,
                recording,
                audio_s,
            }) => {
                let mut out = format!("Recovered {} ({:.0} seconds).\n", path.display(), audio_s);
                out += &draft_summary(&draft, &saved);
                if let Some(recording) = recording {
                    out += &format!("Recording kept: {}\n", recording.display());
                }
                show(&out);
            }
            Ok(Recovered::NoSpeech { recording, audio_s }) => show(&format!(
                "{} holds no speech ({:.0} seconds), so no draft was made; it is kept as {}.\n",
                path.display(),
                audio_s,
                recording.display()
            )),
            Ok(Recovered::StillRecording) => show(&format!(
                "{} is still being recorded in another window: left alone.\n",
                path.display()
            )),
            Err(err) => {
                failed += 1;
                eprintln!("notedraft: could not recover {}: {err}", path.display());
            }
        }
    }
    Ok(error::exit(if failed > 0 {
        error::EXIT_FAILED
    } else {
        error::EXIT_OK
    }))
}

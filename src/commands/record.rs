//! `notedraft record`: dictate into the microphone; the live view in the terminal; Enter and Ctrl-C.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Result;

use notedraft::audio::capture::InputDevice;
use notedraft::config::{ConfigFile, Settings};
use notedraft::error;
use notedraft::pipeline::Speech;
use notedraft::record::{self, HeardSentence, LiveStatus, LiveView, StopFlags, StopReason};

use super::{draft_summary, show};
use crate::cli::RecordArgs;

pub fn run(args: RecordArgs, settings: &Settings, config_path: &Path) -> Result<ExitCode> {
    if args.save_device
        && let Some(device) = &settings.device
    {
        ConfigFile::save_device(config_path, device)?;
        eprintln!(
            "Saved \"{device}\" as your microphone in {}.",
            config_path.display()
        );
    }
    let waiting = record::unfinished_recordings(&settings.out_dir);
    if !waiting.is_empty() {
        eprintln!(
            "{} interrupted recording(s) in {} still need a draft: run `notedraft recover` after this dictation.",
            waiting.len(),
            settings.out_dir.display()
        );
    }
    // The model is loaded before the microphone opens, so that "Speak now" means it.
    let speech = Speech::load(settings)?;
    let flags = stop_flags();
    let mut view = TerminalView::new(settings.silence_stop_s);
    let outcome = record::record(settings, &speech, &flags, &mut view)?;

    let mut out = String::new();
    match (&outcome.saved, &outcome.draft) {
        (Some(saved), Some(draft)) => {
            out += &draft_summary(draft, saved);
            if let Some(recording) = &outcome.recording {
                out += &format!("Recording kept: {}\n", recording.display());
            }
        }
        _ => {
            let kept = outcome
                .recording
                .as_ref()
                .map(|p| format!(" The recording is kept at {}.", p.display()))
                .unwrap_or_default();
            eprintln!(
                "notedraft: no speech was heard in {:.0} seconds of recording, so no draft was made.{kept} Check that the right microphone is chosen (`notedraft devices`) and speak closer to it.",
                outcome.audio_s
            );
            return Ok(error::exit(error::EXIT_FAILED));
        }
    }
    if outcome.lost_s > 0.0 || outcome.overruns > 0 {
        out += &format!(
            "Note: about {:.1} seconds of sound were lost because the computer was too busy ({} interruption(s)); read the draft against what you said.\n",
            outcome.lost_s.max(0.1),
            outcome.overruns
        );
    }
    show(&out);
    if let StopReason::DeviceLost(err) = &outcome.reason {
        eprintln!("notedraft: {err}");
    }
    Ok(error::exit(error::EXIT_OK))
}

/// Enter on standard input and Ctrl-C (or a termination request) both stop the recording. A second
/// Ctrl-C ends notedraft at once: the audio is already on disk, and `notedraft recover` drafts it.
fn stop_flags() -> StopFlags {
    let flags = StopFlags::default();
    let interrupted = flags.interrupted.clone();
    let handler = ctrlc::set_handler(move || {
        if interrupted.swap(true, Ordering::SeqCst) {
            eprintln!(
                "\nnotedraft: stopped at once. The recording is on disk: run `notedraft recover` to draft it."
            );
            std::process::exit(130);
        }
    });
    if let Err(err) = handler {
        tracing::debug!("Ctrl-C handler: {err}");
    }
    let enter = flags.enter.clone();
    let reader = std::thread::Builder::new()
        .name("notedraft-enter".into())
        .spawn(move || {
            let mut line = String::new();
            // End of input (no terminal, /dev/null) is not a request to stop.
            if matches!(std::io::stdin().read_line(&mut line), Ok(n) if n > 0) {
                enter.store(true, Ordering::SeqCst);
            }
        });
    if let Err(err) = reader {
        tracing::debug!("Enter reader: {err}");
    }
    flags
}

/// The live view on standard error: a status line redrawn in place on a terminal, with each
/// recognised sentence printed above it and the section it goes to. Without a terminal only the
/// start and the stop are told (the words stay off logs).
struct TerminalView {
    terminal: bool,
    silence_stop_s: f64,
    status_shown: bool,
}

impl TerminalView {
    fn new(silence_stop_s: f64) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            silence_stop_s,
            status_shown: false,
        }
    }

    fn clear_status(&mut self, err: &mut impl Write) {
        if self.status_shown {
            let _ = write!(err, "\r\x1b[2K");
            self.status_shown = false;
        }
    }
}

impl LiveView for TerminalView {
    fn started(&mut self, device: &InputDevice, recording: &Path) {
        let silence = if self.silence_stop_s > 0.0 {
            format!(", or {:.0} seconds of silence", self.silence_stop_s)
        } else {
            String::new()
        };
        eprintln!(
            "Recording from \"{}\" into {}.\nSpeak now. To stop: press Enter, say \"end of dictation\", press Ctrl-C{silence}.",
            device.name,
            recording.display()
        );
    }

    fn tick(&mut self, status: &LiveStatus) {
        if !self.terminal {
            return;
        }
        let mut err = std::io::stderr().lock();
        let seconds = status.elapsed_s as u64;
        let section = status
            .section
            .map(|s| format!("  → {}", s.title()))
            .unwrap_or_default();
        let waiting = if status.waiting > 0 {
            "  (writing down...)"
        } else {
            ""
        };
        let _ = write!(
            err,
            "\r\x1b[2K\x1b[31m●\x1b[0m {:02}:{:02}  {}  {}{section}{waiting}",
            seconds / 60,
            seconds % 60,
            level_meter(status.level_dbfs),
            if status.speaking {
                "speaking"
            } else {
                "        "
            },
        );
        let _ = err.flush();
        self.status_shown = true;
    }

    fn heard(&mut self, sentences: &[HeardSentence]) {
        if !self.terminal {
            return;
        }
        let mut err = std::io::stderr().lock();
        self.clear_status(&mut err);
        for sentence in sentences {
            let place = sentence.section.map_or("", |s| s.title());
            let _ = writeln!(err, "  {place:<12} {}", sentence.text);
        }
        let _ = err.flush();
    }

    fn stopped(&mut self, reason: &StopReason) {
        let mut err = std::io::stderr().lock();
        self.clear_status(&mut err);
        if !matches!(reason, StopReason::DeviceLost(_)) {
            let _ = writeln!(err, "{} Writing the draft...", reason.describe());
        }
    }
}

/// Ten bars from -60 dBFS (nothing) to 0 dBFS (full scale).
fn level_meter(level_dbfs: Option<f32>) -> String {
    let level = level_dbfs.unwrap_or(-120.0);
    let bars = (((level + 60.0) / 6.0).round().clamp(0.0, 10.0)) as usize;
    format!("[{}{}]", "#".repeat(bars), "-".repeat(10 - bars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_meter_spans_sixty_decibels() {
        assert_eq!(level_meter(None), "[----------]");
        assert_eq!(level_meter(Some(-90.0)), "[----------]");
        assert_eq!(level_meter(Some(-30.0)), "[#####-----]");
        assert_eq!(level_meter(Some(3.0)), "[##########]");
    }
}

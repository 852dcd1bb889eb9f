//! Live dictation end to end: the real `notedraft record` binary records espeak-ng speech from the
//! virtual microphone through the real ALSA path, transcribes it with the real base model while it
//! plays, and is stopped hands-free (spoken "end of dictation", silence), by Enter, by Ctrl-C, by the
//! microphone going away, or killed; `notedraft recover` drafts what a killed recording left.
//!
//! Each run plays in real time, so the runs take turns (two at once would share the two cores
//! and measure nothing real).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cli::{base_model, notedraft};
use common::vmic::{self, End, VirtualMic};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const SOAP_DICTATION: &[&str] = &[
    "Session six with client J.D., fifty minutes, telehealth.",
    "Subjective. Client reports she slept better this week, about six hours a night.",
    "She said she finally told her sister how she felt.",
    "Objective. She arrived on time, affect brighter than last week.",
    "PHQ-9 was eleven, down from sixteen.",
    "She denies suicidal ideation, intent or plan, and denies homicidal ideation.",
    "We practiced cognitive restructuring with a thought record.",
    "Assessment. Depressive symptoms are improving, moderate severity, risk is low.",
    "Plan. Continue weekly CBT and one thought record a day.",
    "Next session in one week.",
];

/// A 48 kHz mono fixture: each text spoken, with `gap_s` of silence between them.
fn fixture(dir: &Path, name: &str, texts: &[&str], gap_s: f64) -> (PathBuf, f64) {
    let mut parts = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let path = dir.join(format!("{name}-{i}.wav"));
        vmic::speak(text, 48_000, 1, &path);
        parts.push(path);
    }
    let mut joined: Vec<(Option<&Path>, f64)> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            joined.push((None, gap_s));
        }
        joined.push((Some(part.as_path()), 0.0));
    }
    let out = dir.join(format!("{name}.wav"));
    vmic::concatenate(&joined, 48_000, 1, &out);
    let seconds = wav_seconds(&out);
    (out, seconds)
}

fn wav_seconds(path: &Path) -> f64 {
    let reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} is a readable WAV: {e}", path.display()));
    let spec = reader.spec();
    f64::from(reader.duration()) / f64::from(spec.sample_rate)
}

/// A running `notedraft record` with its output collected as it comes.
struct Recorder {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<(bool, String)>,
    stdout: String,
    stderr: String,
}

impl Recorder {
    fn start(alsa_config: &Path, out: &Path, extra: &[&str]) -> Recorder {
        let mut cmd: Command = notedraft();
        cmd.arg("record")
            .arg("--model")
            .arg(base_model())
            .args(["--threads", "2", "--out"])
            .arg(out)
            .args(extra)
            .env("ALSA_CONFIG_PATH", vmic::alsa_config_path(alsa_config))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("notedraft record starts");
        let (tx, lines) = mpsc::channel();
        for (is_err, stream) in [
            (
                false,
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            ),
            (true, Box::new(child.stderr.take().unwrap())),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send((is_err, line));
                }
            });
        }
        let stdin = child.stdin.take();
        Recorder {
            child,
            stdin,
            lines,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    fn take_lines(&mut self, wait: Duration) -> bool {
        match self.lines.recv_timeout(wait) {
            Ok((is_err, line)) => {
                let text = if is_err {
                    &mut self.stderr
                } else {
                    &mut self.stdout
                };
                text.push_str(&line);
                text.push('\n');
                true
            }
            Err(_) => false,
        }
    }

    /// Wait until standard error holds `pattern`; returns when it appeared.
    fn wait_for_stderr(&mut self, pattern: &str, limit: Duration) -> Instant {
        let deadline = Instant::now() + limit;
        while !self.stderr.contains(pattern) {
            assert!(
                Instant::now() < deadline,
                "no \"{pattern}\" within {limit:?}:\n{}\n{}",
                self.stdout,
                self.stderr
            );
            self.take_lines(Duration::from_millis(50));
        }
        Instant::now()
    }

    fn press_enter(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Wait for the process to end; returns its exit code.
    fn finish(&mut self, limit: Duration) -> i32 {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while self.take_lines(Duration::from_millis(100)) {}
                assert!(
                    !self.stderr.contains("panicked"),
                    "notedraft panicked:\n{}",
                    self.stderr
                );
                return status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "notedraft record still running after {limit:?}:\n{}\n{}",
                    self.stdout, self.stderr
                );
            }
            self.take_lines(Duration::from_millis(50));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn only_draft(out: &Path) -> serde_json::Value {
    let drafts = files_ending(out, ".draft.json");
    assert_eq!(
        drafts.len(),
        1,
        "one draft in {}: {drafts:?}",
        out.display()
    );
    serde_json::from_str(&std::fs::read_to_string(&drafts[0]).unwrap()).unwrap()
}

fn section_text(draft: &serde_json::Value, name: &str) -> String {
    draft["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} section"))["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_soap_dictation_with_headings_ends_on_its_spoken_end_with_every_sentence_placed() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let mut texts = SOAP_DICTATION.to_vec();
    texts.push("End of dictation.");
    let (wav, seconds) = fixture(dir.path(), "soap", &texts, 0.4);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &["--stop-after-silence", "0"]);
    let code = recorder.finish(Duration::from_secs_f64(seconds + 60.0));
    assert_eq!(code, 0, "{}\n{}", recorder.stdout, recorder.stderr);
    assert!(
        recorder
            .stderr
            .contains("Stopped: you said \"end of dictation\"."),
        "{}",
        recorder.stderr
    );
    assert!(recorder.stdout.contains("Unsigned draft written:"));

    let draft = only_draft(&out);
    assert_eq!(draft["status"], "unsigned");
    assert_eq!(draft["session"]["duration_minutes"], 50);
    assert_eq!(draft["session"]["modality"], "telehealth");
    let subjective = section_text(&draft, "subjective");
    let objective = section_text(&draft, "objective");
    let assessment = section_text(&draft, "assessment");
    let plan = section_text(&draft, "plan");
    // Each dictated sentence, by a word Whisper reliably gets right, in its section and no other.
    let sections = [
        ("subjective", &subjective),
        ("objective", &objective),
        ("assessment", &assessment),
        ("plan", &plan),
    ];
    for (expected, word) in [
        ("subjective", "slept"),
        ("subjective", "sister"),
        ("objective", "arrived"),
        ("objective", "16"),
        ("objective", "denies"),
        ("objective", "restructuring"),
        ("assessment", "improving"),
        ("assessment", "risk"),
        ("plan", "continue"),
        ("plan", "one week"),
    ] {
        for (name, text) in sections {
            assert_eq!(
                text.contains(word),
                name == expected,
                "\"{word}\" belongs in {expected}; {name}: {text}"
            );
        }
    }
    assert!(!plan.contains("end of dictation"), "{plan}");
    // Every placed sentence carries its audio times, inside the recording.
    for section in draft["sections"].as_array().unwrap() {
        for sentence in section["sentences"].as_array().unwrap() {
            let (start, end) = (
                sentence["start_s"].as_f64().unwrap(),
                sentence["end_s"].as_f64().unwrap(),
            );
            assert!(
                0.0 <= start && start <= end && end <= seconds + 5.0,
                "{sentence}"
            );
        }
    }

    // The recording is kept beside the draft, owner-only, and holds the whole dictation.
    assert!(files_ending(&out, ".unfinished.wav").is_empty());
    let kept = files_ending(&out, ".recording.wav");
    assert_eq!(kept.len(), 1);
    assert_eq!(notedraft::store::mode_of(&kept[0]).unwrap(), 0o600);
    let recorded = wav_seconds(&kept[0]);
    assert!(
        recorded >= seconds - 0.5 && recorded <= seconds + 8.0,
        "recorded {recorded:.1} s of a {seconds:.1} s dictation"
    );
    let (_, _, reference) = vmic::read_wav(&wav);
    let (_, _, captured) = vmic::read_wav(&kept[0]);
    let reference_16k =
        notedraft::audio::resample::resample_to_16k(&reference, 48_000).expect("resample");
    let (correlation, _) = vmic::best_correlation(&captured, &reference_16k, 16_000);
    assert!(correlation > 0.9, "correlation {correlation:.3}");
}

#[test]
fn enter_stops_the_recording_and_the_draft_follows() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (wav, seconds) = fixture(dir.path(), "enter", &SOAP_DICTATION[1..3], 0.4);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &[]);
    let began = recorder.wait_for_stderr("Speak now", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs_f64(seconds + 1.0).saturating_sub(began.elapsed()));
    recorder.press_enter();
    let code = recorder.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", recorder.stderr);
    assert!(recorder.stderr.contains("Stopped: you pressed Enter."));
    let subjective = section_text(&only_draft(&out), "subjective");
    assert!(subjective.contains("slept"), "{subjective}");
    assert!(subjective.contains("sister"), "{subjective}");
}

#[test]
fn silence_stops_the_recording_after_the_chosen_stretch() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (wav, seconds) = fixture(dir.path(), "quiet", &SOAP_DICTATION[7..9], 0.4);
    let config = VirtualMic::new(&wav).end(End::Silence).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &["--stop-after-silence", "3"]);
    let code = recorder.finish(Duration::from_secs_f64(seconds + 40.0));
    assert_eq!(code, 0, "{}", recorder.stderr);
    assert!(
        recorder
            .stderr
            .contains("Stopped after 3 seconds without speech."),
        "{}",
        recorder.stderr
    );
    let recorded = wav_seconds(&files_ending(&out, ".recording.wav")[0]);
    assert!(
        recorded > seconds + 2.0 && recorded < seconds + 6.0,
        "{recorded:.1} s recorded for {seconds:.1} s of speech"
    );
    let draft = only_draft(&out);
    assert!(section_text(&draft, "plan").contains("continue weekly"));
}

#[test]
fn ctrl_c_stops_and_keeps_everything_said_until_then() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (wav, _) = fixture(dir.path(), "interrupt", SOAP_DICTATION, 0.4);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &[]);
    let began = recorder.wait_for_stderr("Speak now", Duration::from_secs(30));
    // The first four sentences take about 17 seconds.
    std::thread::sleep(Duration::from_secs(19).saturating_sub(began.elapsed()));
    recorder.signal("INT");
    let code = recorder.finish(Duration::from_secs(30));
    assert_eq!(code, 0, "{}", recorder.stderr);
    assert!(
        recorder.stderr.contains("Stopped: Ctrl-C."),
        "{}",
        recorder.stderr
    );
    let draft = only_draft(&out);
    let said = draft["transcript"].as_str().unwrap().to_lowercase();
    assert!(said.contains("slept"), "{said}");
    assert!(said.contains("arrived on time"), "{said}");
    assert!(
        !said.contains("next session"),
        "recorded past the stop: {said}"
    );
}

#[test]
fn a_killed_recording_keeps_its_audio_and_recover_drafts_it() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (wav, _) = fixture(dir.path(), "killed", SOAP_DICTATION, 0.4);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &[]);
    let began = recorder.wait_for_stderr("Speak now", Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(14).saturating_sub(began.elapsed()));
    let recorded_for = began.elapsed().as_secs_f64();
    recorder.signal("KILL");
    recorder.finish(Duration::from_secs(10));

    let unfinished = files_ending(&out, ".unfinished.wav");
    assert_eq!(unfinished.len(), 1, "{:?}", files_ending(&out, ""));
    assert!(files_ending(&out, ".draft.md").is_empty());
    // Playable as it is, and short of the time recorded by at most a second.
    let kept_s = wav_seconds(&unfinished[0]);
    assert!(
        kept_s >= recorded_for - 1.0,
        "{kept_s:.2} s kept of {recorded_for:.2} s recorded"
    );

    let mut cmd = notedraft();
    cmd.arg("recover")
        .arg("--model")
        .arg(base_model())
        .args(["--threads", "2", "--out"])
        .arg(&out);
    let run = common::cli::run(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Recovered"), "{}", run.stdout);
    let draft = only_draft(&out);
    let subjective = section_text(&draft, "subjective");
    assert!(subjective.contains("sister"), "{subjective}");
    assert!(files_ending(&out, ".unfinished.wav").is_empty());
    assert_eq!(files_ending(&out, ".recording.wav").len(), 1);

    // Nothing is left to recover a second time.
    let again = common::cli::run(&mut cmd);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("nothing to recover"),
        "{}",
        again.stdout
    );
}

#[test]
fn an_unplugged_microphone_keeps_what_was_said_and_says_so() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (wav, seconds) = fixture(dir.path(), "unplug", &SOAP_DICTATION[1..3], 0.4);
    let config = VirtualMic::new(&wav).end(End::Unplug).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &[]);
    let code = recorder.finish(Duration::from_secs_f64(seconds + 40.0));
    assert_eq!(code, 0, "{}", recorder.stderr);
    assert!(
        recorder.stderr.contains("stopped during the recording")
            && recorder
                .stderr
                .contains("everything recorded until then was kept"),
        "{}",
        recorder.stderr
    );
    let subjective = section_text(&only_draft(&out), "subjective");
    assert!(subjective.contains("sister"), "{subjective}");
}

#[test]
fn no_microphone_at_all_is_one_plain_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = vmic::write_no_device_config(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &[]);
    let code = recorder.finish(Duration::from_secs(30));
    assert_eq!(code, 1);
    assert_eq!(
        recorder.stderr,
        "notedraft: No microphone was found. Plug one in, or check that the computer's sound \
         input is enabled, then try again.\n"
    );
    assert!(files_ending(&out, ".wav").is_empty());
}

#[test]
fn a_chosen_microphone_that_is_missing_lists_the_ones_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let (wav, _) = fixture(dir.path(), "missing", &SOAP_DICTATION[..1], 0.4);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &["--device", "Blue Yeti"]);
    let code = recorder.finish(Duration::from_secs(30));
    assert_eq!(code, 1);
    assert!(
        recorder.stderr.starts_with(
            "notedraft: No microphone called \"Blue Yeti\" was found. The microphones here are: \"Virtual microphone\""
        ),
        "{}",
        recorder.stderr
    );
}

#[test]
fn silence_only_makes_no_draft_and_says_what_to_check() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    vmic::concatenate(&[(None, 1.0)], 48_000, 1, &silence);
    let config = VirtualMic::new(&silence)
        .end(End::Silence)
        .write(dir.path());
    let out = dir.path().join("drafts");
    let mut recorder = Recorder::start(&config, &out, &["--stop-after-silence", "2"]);
    let code = recorder.finish(Duration::from_secs(30));
    assert_eq!(code, 1, "{}", recorder.stderr);
    assert!(
        recorder.stderr.contains("no speech was heard")
            && recorder.stderr.contains("notedraft devices"),
        "{}",
        recorder.stderr
    );
    assert!(files_ending(&out, ".draft.md").is_empty());
    assert!(files_ending(&out, ".unfinished.wav").is_empty());
}

#[test]
fn the_stop_latency_benchmark_runs() {
    let _turn = turn();
    let output =
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-record.sh"))
            .arg(base_model())
            .arg("0.2")
            .env("REPEATS", "1")
            .env("NOTEDRAFT_BIN", assert_cmd::cargo::cargo_bin("notedraft"))
            .output()
            .expect("run scripts/bench-record.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let median = stdout
        .lines()
        .find(|l| l.starts_with("0.2") && l.contains("median"))
        .unwrap_or_else(|| panic!("no median line:\n{stdout}"));
    let seconds: f64 = median.split_whitespace().last().unwrap().parse().unwrap();
    assert!((0.0..30.0).contains(&seconds), "{median}");
}

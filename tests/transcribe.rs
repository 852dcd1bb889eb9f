//! End to end: the real `notedraft transcribe` binary with the real converted Whisper model, on
//! speech generated at test time with espeak-ng, in several WAV layouts, plus silence and bad input.
//!
//! The model is looked up as ggml-base.bin in $NOTEDRAFT_MODELS_DIR, else ./models (put it there
//! with `scripts/fetch-model.sh base`). espeak-ng and sox must be installed.

mod common;

use common::cli::{Run, base_model, notedraft, run, tool};

use std::path::{Path, PathBuf};

const SCRIPT: &str = "Client denies SI and HI. PHQ-9 score was fourteen and GAD-7 was nine. \
Affect was euthymic and thought process was linear. Continue CBT weekly and sertraline fifty milligrams.";

/// Word error rate allowed per file. base on espeak-ng speech scores about 0.05 on this script;
/// the bound leaves room for the lossy 8 kHz copy without letting a broken pipeline pass.
const MAX_WER: f64 = 0.2;

fn transcribe(model: &Path, files: &[&Path], extra: &[&str]) -> Run {
    let mut cmd = notedraft();
    cmd.arg("transcribe")
        .arg("--model")
        .arg(model)
        .args(["--threads", "2"])
        .args(extra)
        .args(files);
    run(&mut cmd)
}

fn speak(dir: &Path, name: &str, voice: &str, speed: u32) -> PathBuf {
    let path = dir.join(name);
    tool(
        "espeak-ng",
        &[
            "-v",
            voice,
            "-s",
            &speed.to_string(),
            "-w",
            path.to_str().unwrap(),
            SCRIPT,
        ],
    );
    path
}

fn sox(input: &Path, output: &Path, options: &[&str]) {
    let mut args = vec![input.to_str().unwrap()];
    args.extend_from_slice(options);
    args.push(output.to_str().unwrap());
    tool("sox", &args);
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn segments_text(doc: &serde_json::Value) -> String {
    doc["segments"]
        .as_array()
        .expect("segments array")
        .iter()
        .map(|s| s["text"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn speech_in_every_common_wav_layout_is_transcribed_accurately() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let original = speak(dir.path(), "dictation.wav", "en-us", 160);
    let variants = [
        ("8k.wav", vec!["-r", "8000"]),
        ("44k-stereo.wav", vec!["-r", "44100", "-c", "2"]),
        ("48k-24bit.wav", vec!["-r", "48000", "-b", "24"]),
        ("float32.wav", vec!["-e", "floating-point", "-b", "32"]),
    ];
    let mut files = vec![original.clone()];
    for (name, options) in &variants {
        let path = dir.path().join(name);
        sox(&original, &path, options);
        files.push(path);
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let result = transcribe(&model, &refs, &["--format", "json"]);
    assert_eq!(result.code, 0, "stderr: {}", result.stderr);
    let docs = json_lines(&result.stdout);
    assert_eq!(docs.len(), files.len());
    for (doc, file) in docs.iter().zip(&files) {
        assert_eq!(doc["file"], file.display().to_string());
        assert_eq!(doc["model"], "base");
        let duration = doc["duration_s"].as_f64().unwrap();
        assert!((8.0..20.0).contains(&duration), "duration {duration}");
        let text = segments_text(doc);
        let wer = common::wer(SCRIPT, &text);
        assert!(
            wer <= MAX_WER,
            "{}: WER {wer:.3} for {text:?}",
            file.display()
        );
        let (found, total, missed) = common::term_recall(SCRIPT, &text, common::CLINICAL_TERMS);
        assert!(
            found * 10 >= total * 8,
            "{}: clinical terms {found}/{total}, missed {missed:?} in {text:?}",
            file.display()
        );
        let mut last_end = 0.0;
        for segment in doc["segments"].as_array().unwrap() {
            let (start, end) = (
                segment["start_s"].as_f64().unwrap(),
                segment["end_s"].as_f64().unwrap(),
            );
            assert!(
                start >= last_end - 0.01 && end >= start && end <= duration + 0.5,
                "times {start}..{end}"
            );
            last_end = end;
        }
    }
}

#[test]
fn a_british_voice_at_another_speed_is_transcribed_with_clinical_terms() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let wav = speak(dir.path(), "rp.wav", "en-gb-x-rp", 150);
    let result = transcribe(&model, &[&wav], &[]);
    assert_eq!(result.code, 0, "stderr: {}", result.stderr);
    let wer = common::wer(SCRIPT, &result.stdout);
    assert!(wer <= MAX_WER, "WER {wer:.3} for {:?}", result.stdout);
    for term in ["PHQ-9", "GAD-7", "CBT", "denies", "linear", "sertraline"] {
        let (found, _, _) = common::term_recall(SCRIPT, &result.stdout, &[term]);
        assert_eq!(found, 1, "{term} missing from {:?}", result.stdout);
    }
}

#[test]
fn silence_and_near_silence_give_no_text() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let silence = dir.path().join("silence.wav");
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            silence.to_str().unwrap(),
            "trim",
            "0",
            "8",
        ],
    );
    let hiss = dir.path().join("hiss.wav");
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "44100",
            "-c",
            "1",
            "-b",
            "16",
            hiss.to_str().unwrap(),
            "synth",
            "8",
            "pinknoise",
            "vol",
            "0.003",
        ],
    );
    let hum = dir.path().join("hum.wav");
    tool(
        "sox",
        &[
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            hum.to_str().unwrap(),
            "synth",
            "8",
            "sine",
            "60",
            "vol",
            "0.02",
        ],
    );
    for file in [&silence, &hiss, &hum] {
        let result = transcribe(&model, &[file.as_path()], &[]);
        assert_eq!(result.code, 0, "{}: {}", file.display(), result.stderr);
        assert_eq!(result.stdout.trim(), "", "{} gave text", file.display());
        let json = transcribe(&model, &[file.as_path()], &["--format", "json"]);
        assert_eq!(
            json_lines(&json.stdout)[0]["segments"],
            serde_json::json!([])
        );
    }
}

/// One line on stderr, naming the file, and exit code 1.
fn assert_one_clear_line(result: &Run, file: &Path) {
    assert_eq!(result.code, 1, "stderr: {}", result.stderr);
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {}", result.stderr);
    assert!(lines[0].starts_with("notedraft: "), "{}", lines[0]);
    let name = file.file_name().unwrap().to_string_lossy();
    assert!(
        lines[0].contains(name.as_ref()),
        "{} does not name {name}",
        lines[0]
    );
    assert!(
        result.stdout.is_empty(),
        "partial output: {}",
        result.stdout
    );
}

#[test]
fn bad_inputs_get_one_clear_line_and_a_failing_exit() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wav");
    std::fs::write(
        &text,
        "These are typed notes, not a recording.\n".repeat(20),
    )
    .unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let speech = speak(dir.path(), "speech.wav", "en-us", 160);
    let bytes = std::fs::read(&speech).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let header_only = dir.path().join("header-only.wav");
    std::fs::write(&header_only, &bytes[..30]).unwrap();
    let missing = dir.path().join("missing.wav");
    for file in [&text, &empty, &truncated, &header_only, &missing] {
        let result = transcribe(&model, &[file.as_path()], &[]);
        assert_one_clear_line(&result, file);
    }
}

#[test]
fn one_bad_file_among_good_ones_does_not_stop_the_others() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let good = speak(dir.path(), "good.wav", "en-us", 170);
    let bad = dir.path().join("broken.wav");
    std::fs::write(&bad, b"RIFF\x00\x00\x00\x00WAVEjunk").unwrap();
    let out = dir.path().join("transcripts");
    let result = transcribe(
        &model,
        &[bad.as_path(), good.as_path()],
        &["--out", out.to_str().unwrap(), "--format", "srt"],
    );
    assert_eq!(result.code, 1, "stderr: {}", result.stderr);
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", result.stderr);
    assert!(lines[0].contains("broken.wav"), "{}", lines[0]);
    assert!(lines[1].contains("1 of 2"), "{}", lines[1]);
    let srt_path = out.join("good.srt");
    let srt = std::fs::read_to_string(&srt_path).unwrap();
    assert!(srt.starts_with("1\n00:00:0"), "{srt}");
    assert!(srt.contains(" --> "), "{srt}");
    assert!(common::wer(SCRIPT, &srt_text(&srt)) <= MAX_WER, "{srt}");
    assert!(!out.join("broken.srt").exists());
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&srt_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// The words of an SRT file, without cue numbers and times.
fn srt_text(srt: &str) -> String {
    srt.lines()
        .filter(|l| !l.contains(" --> ") && l.parse::<u32>().is_err())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_missing_model_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("any.wav");
    std::fs::write(&wav, b"").unwrap();
    // A model name that is not installed anywhere: the message gives the command that installs it.
    let mut cmd = notedraft();
    cmd.env("NOTEDRAFT_MODELS_DIR", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .current_dir(dir.path())
        .args(["transcribe", "--model", "tiny.en"])
        .arg(&wav);
    let result = run(&mut cmd);
    assert_eq!(result.code, 1);
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", result.stderr);
    assert!(
        lines[0].contains("scripts/fetch-model.sh tiny.en"),
        "{}",
        lines[0]
    );
    // A model path that does not exist is named.
    let model = dir.path().join("ggml-base.bin");
    let result = transcribe(&model, &[wav.as_path()], &[]);
    assert_eq!(result.code, 1);
    let lines: Vec<&str> = result.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", result.stderr);
    assert!(
        lines[0].contains("ggml-base.bin") && lines[0].contains("does not exist"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_damaged_model_is_refused_with_the_fix_not_a_crash() {
    let real = base_model();
    let dir = tempfile::tempdir().unwrap();
    let wav = speak(dir.path(), "speech.wav", "en-us", 160);
    let bytes = std::fs::read(&real).unwrap();
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("ggml-garbage.bin", b"not a model at all".repeat(1000)),
        ("ggml-truncated.bin", bytes[..bytes.len() / 3].to_vec()),
        ("ggml-lastbytes.bin", bytes[..bytes.len() - 100].to_vec()),
        ("ggml-header.bin", {
            let mut b = bytes[..4096].to_vec();
            b[4..8].copy_from_slice(&(-7i32).to_le_bytes());
            b
        }),
    ];
    for (name, content) in damaged {
        let model = dir.path().join(name);
        std::fs::write(&model, content).unwrap();
        let result = transcribe(&model, &[wav.as_path()], &[]);
        assert_eq!(result.code, 1, "{name}: {}", result.stderr);
        let lines: Vec<&str> = result.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {}", result.stderr);
        assert!(lines[0].contains(name), "{}", lines[0]);
        // A file with the ggml signature but damaged inside gets the command that replaces it.
        if name != "ggml-garbage.bin" {
            assert!(lines[0].contains("could not be loaded"), "{}", lines[0]);
            assert!(
                lines[0].contains("scripts/fetch-model.sh base"),
                "{}",
                lines[0]
            );
        } else {
            assert!(lines[0].contains("not a Whisper model"), "{}", lines[0]);
        }
    }
}

#[test]
fn the_clinical_prompt_fits_in_what_whisper_keeps() {
    use notedraft::transcribe::CLINICAL_PROMPT;
    use notedraft::transcribe::whisper::{PROMPT_TOKEN_BUDGET, WhisperModel};
    let model = WhisperModel::load(&base_model(), "base").expect("the base model loads");
    let tokens = model.prompt_token_count(CLINICAL_PROMPT.trim()).unwrap();
    assert!(
        (50..=PROMPT_TOKEN_BUDGET).contains(&tokens),
        "the clinical prompt is {tokens} tokens; Whisper keeps {PROMPT_TOKEN_BUDGET}"
    );
}

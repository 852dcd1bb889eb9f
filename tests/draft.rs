//! End to end: the real `notedraft draft` binary, from a typed transcript and from speech generated
//! with espeak-ng and transcribed by the real model, checked against the JSON contract and the rules
//! for what lands on disk (unsigned, owner-only, process note apart, edited drafts kept).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::cli::{Run, base_model, notedraft, run, tool};
use serde_json::Value;

const DICTATION: &str = "\
Session six with client J.D., fifty minutes, telehealth, on March 4th, 2026.
Subjective.
Client reports she slept better this week, about six hours a night.
She said, \"I finally told my sister how I felt.\"
Okay, objective.
Um, she arrived on time, affect brighter than last week.
She was tearful throughout. Scratch that.
PHQ-9 was 11, down from 16.
She denies suicidal ideation, intent or plan, and denies homicidal ideation.
We practiced cognitive restructuring with a thought record.
For my notes, I noticed I felt protective of her again.
Assessment.
Depressive symptoms are improving, moderate severity, risk is low.
Plan.
Continue weekly CBT and one thought record a day.
End of dictation.
";

fn draft_text(dir: &Path, text: &str, extra: &[&str]) -> Run {
    let input = dir.join("dictation.txt");
    std::fs::write(&input, text).unwrap();
    let out = dir.join("drafts");
    let mut cmd = notedraft();
    cmd.arg("draft")
        .arg("--text")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(extra);
    run(&mut cmd)
}

fn json_of(run: &Run) -> Value {
    assert_eq!(run.code, 0, "draft failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

fn section_text(draft: &Value, name: &str) -> String {
    draft["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} section"))["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_typed_transcript_gives_the_json_contract() {
    let dir = tempfile::tempdir().unwrap();
    let draft = json_of(&draft_text(
        dir.path(),
        DICTATION,
        &["--format", "soap", "--json"],
    ));
    assert_eq!(draft["schema"], "notedraft.draft/1");
    assert_eq!(draft["status"], "unsigned");
    assert_eq!(draft["format"], "soap");
    assert!(
        jiff::Timestamp::strptime(
            "%Y-%m-%dT%H:%M:%S%.fZ",
            draft["created_at"].as_str().unwrap()
        )
        .is_ok()
            || draft["created_at"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok()
    );
    assert_eq!(draft["source"]["kind"], "text");
    assert!(draft["source"]["duration_s"].is_null());
    assert!(draft["source"]["model"].is_null());
    let names: Vec<&str> = draft["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["subjective", "objective", "assessment", "plan"]);
    for section in draft["sections"].as_array().unwrap() {
        for sentence in section["sentences"].as_array().unwrap() {
            let confidence = sentence["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&confidence));
            assert!(["heading", "classifier"].contains(&sentence["decided_by"].as_str().unwrap()));
            assert!(
                sentence["start_s"].is_null(),
                "a text transcript has no times"
            );
        }
    }

    let session = &draft["session"];
    assert_eq!(session["client"], "J.D.");
    assert_eq!(session["date"], "2026-03-04");
    assert_eq!(session["duration_minutes"], 50);
    assert_eq!(session["modality"], "telehealth");
    assert_eq!(session["session_number"], 6);

    assert!(section_text(&draft, "subjective").contains("slept better"));
    let objective = section_text(&draft, "objective");
    assert!(objective.contains("PHQ-9 was 11"));
    assert!(objective.contains("denies suicidal ideation"));
    assert!(
        !objective.contains("tearful"),
        "a retracted sentence stayed"
    );
    assert!(
        !objective.contains("Um,"),
        "a filler stayed in the note text"
    );
    assert!(section_text(&draft, "assessment").contains("risk is low"));
    assert!(section_text(&draft, "plan").contains("thought record a day"));

    let scores = draft["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 1);
    assert_eq!(scores[0]["instrument"], "PHQ-9");
    assert_eq!(scores[0]["score"], 11);
    assert_eq!(scores[0]["prior"], 16);
    assert_eq!(scores[0]["severity"], "moderate");

    let excluded = draft["excluded"].as_array().unwrap();
    let reasons = |reason: &str| -> Vec<&str> {
        excluded
            .iter()
            .filter(|e| e["reason"] == reason)
            .map(|e| e["text"].as_str().unwrap())
            .collect()
    };
    assert!(reasons("retracted").iter().any(|t| t.contains("tearful")));
    assert!(
        reasons("process-note")
            .iter()
            .any(|t| t.contains("protective"))
    );
    let flags: Vec<&str> = draft["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(flags, ["process-content"], "{flags:?}");
    assert!(
        draft["transcript"]
            .as_str()
            .unwrap()
            .contains("Scratch that")
    );
}

#[test]
fn dap_has_data_assessment_plan_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let draft = json_of(&draft_text(
        dir.path(),
        DICTATION,
        &["--format", "dap", "--json"],
    ));
    let names: Vec<&str> = draft["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data", "assessment", "plan"]);
    let data = section_text(&draft, "data");
    assert!(data.contains("slept better") && data.contains("PHQ-9 was 11"));
}

#[test]
fn files_on_disk_are_unsigned_owner_only_and_keep_the_process_note_apart() {
    let dir = tempfile::tempdir().unwrap();
    let result = draft_text(dir.path(), DICTATION, &[]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let drafts = dir.path().join("drafts");
    let markdown = drafts.join("dictation.draft.md");
    let json = drafts.join("dictation.draft.json");
    let process = drafts.join("dictation.process-note.md");
    assert!(result.stdout.contains(&markdown.display().to_string()));
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(text.starts_with("# UNSIGNED DRAFT — requires clinician review"));
    let flags_at = text.find("process").expect("the flag is listed");
    let subjective_at = text.find("## Subjective").unwrap();
    assert!(flags_at < subjective_at, "flags come first");
    assert!(
        !text.contains("protective"),
        "process-note content in the progress note"
    );
    assert!(
        std::fs::read_to_string(&process)
            .unwrap()
            .contains("protective")
    );
    for path in [&markdown, &json, &process] {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&drafts), 0o700);
    let leftovers: Vec<_> = std::fs::read_dir(&drafts)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_draft_the_clinician_edited_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(draft_text(dir.path(), DICTATION, &[]).code, 0);
    let markdown = dir.path().join("drafts/dictation.draft.md");
    std::fs::write(&markdown, "My corrected note.").unwrap();
    let again = draft_text(dir.path(), DICTATION, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(&markdown).unwrap(),
        "My corrected note."
    );
    assert!(again.stdout.contains("left as it is"), "{}", again.stdout);
    assert!(dir.path().join("drafts/dictation-2.draft.md").is_file());
}

#[test]
fn a_file_that_is_not_text_gets_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("memo.txt");
    std::fs::write(&input, [0xff, 0xfe, 0x00, 0x81, 0x00]).unwrap();
    let mut cmd = notedraft();
    cmd.arg("draft")
        .arg("--text")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("drafts"));
    let result = run(&mut cmd);
    assert_eq!(result.code, 1);
    assert_eq!(result.stderr.trim().lines().count(), 1, "{}", result.stderr);
    assert!(result.stderr.contains("plain-text"), "{}", result.stderr);
    assert!(!dir.path().join("drafts/memo.draft.md").exists());
}

#[test]
fn a_spoken_dictation_becomes_a_draft_with_its_own_words_and_times() {
    let model = base_model();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.txt");
    std::fs::write(&script, DICTATION.replace("Um, ", "")).unwrap();
    let wav = dir.path().join("memo.wav");
    tool(
        "espeak-ng",
        &[
            "-v",
            "en-us",
            "-s",
            "165",
            "-w",
            wav.to_str().unwrap(),
            "-f",
            script.to_str().unwrap(),
        ],
    );
    let mut cmd = notedraft();
    cmd.arg("draft")
        .arg(&wav)
        .arg("--model")
        .arg(&model)
        .args(["--threads", "2", "--json", "--out"])
        .arg(dir.path().join("drafts"));
    let draft = json_of(&run(&mut cmd));
    assert_eq!(draft["source"]["kind"], "audio");
    assert_eq!(draft["source"]["model"], "base");
    assert!(draft["source"]["duration_s"].as_f64().unwrap() > 20.0);

    let subjective = section_text(&draft, "subjective").to_lowercase();
    let objective = section_text(&draft, "objective").to_lowercase();
    let plan = section_text(&draft, "plan").to_lowercase();
    assert!(subjective.contains("slept better"), "{subjective}");
    assert!(
        objective.contains("phq-9") && objective.contains("denies"),
        "{objective}"
    );
    assert!(plan.contains("thought record"), "{plan}");

    // Honest drafts: every word in a section was recognised in the audio, and every sentence has times.
    let transcript = draft["transcript"].as_str().unwrap().to_lowercase();
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let heard = words(&transcript);
    for section in draft["sections"].as_array().unwrap() {
        for sentence in section["sentences"].as_array().unwrap() {
            assert!(sentence["start_s"].as_f64().is_some() && sentence["end_s"].as_f64().is_some());
            for word in words(&sentence["text"].as_str().unwrap().to_lowercase()) {
                assert!(heard.contains(&word), "\"{word}\" was never said");
            }
        }
    }
}

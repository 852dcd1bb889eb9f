//! Day's-end batch end to end: the real `notedraft batch` binary with the real base model on a
//! folder of memos spoken by espeak-ng in every supported format, with bad files among them; a
//! re-run that does nothing; an edited draft left alone; a run killed partway and resumed; late
//! notes flagged and listed first.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use common::cli::{Run, base_model, notedraft, run, tool};

/// The runs share the two cores; one at a time keeps each quick.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const SOAP_MEMO: &str = "Subjective. Client reports she slept better this week. \
Objective. She denies suicidal ideation. We practiced cognitive restructuring. \
Plan. Continue CBT weekly.";
const DAP_MEMO: &str = "Client reports work stress is lower. PHQ-9 was eight. \
Assessment. Symptoms are mild. Plan. Next session in two weeks.";

fn speak(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    tool(
        "espeak-ng",
        &[
            "-v",
            "en-us",
            "-s",
            "160",
            "-w",
            path.to_str().unwrap(),
            text,
        ],
    );
    path
}

fn ffmpeg(input: &Path, output: &Path, codec: &[&str]) {
    let mut args = vec!["-loglevel", "error", "-y", "-i", input.to_str().unwrap()];
    args.extend_from_slice(codec);
    args.push(output.to_str().unwrap());
    tool("ffmpeg", &args);
}

/// A memo folder with every format and the usual mistakes; returns the folder.
fn mixed_folder(root: &Path) -> PathBuf {
    let spoken = root.join("spoken");
    std::fs::create_dir_all(&spoken).unwrap();
    let soap = speak(&spoken, "soap.wav", SOAP_MEMO);
    let dap = speak(&spoken, "dap.wav", DAP_MEMO);
    let memos = root.join("memos");
    std::fs::create_dir_all(&memos).unwrap();
    // WAV as the phone's recorder app writes it: 44.1 kHz stereo, 24-bit.
    tool(
        "sox",
        &[
            soap.to_str().unwrap(),
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "24",
            memos.join("monday-wav.wav").to_str().unwrap(),
        ],
    );
    ffmpeg(
        &dap,
        &memos.join("tuesday-aac.m4a"),
        &["-c:a", "aac", "-b:a", "64k"],
    );
    ffmpeg(
        &soap,
        &memos.join("wednesday-mp3.mp3"),
        &["-c:a", "libmp3lame", "-b:a", "64k"],
    );
    tool(
        "sox",
        &[
            dap.to_str().unwrap(),
            memos.join("thursday-flac.flac").to_str().unwrap(),
        ],
    );
    ffmpeg(
        &soap,
        &memos.join("friday-opus.ogg"),
        &["-c:a", "libopus", "-b:a", "32k"],
    );
    ffmpeg(
        &dap,
        &memos.join("saturday-vorbis.ogg"),
        &["-c:a", "libvorbis"],
    );
    // Long silences before, between and after speech.
    tool(
        "sox",
        &[
            soap.to_str().unwrap(),
            memos.join("sunday-silences.wav").to_str().unwrap(),
            "pad",
            "40",
            "60",
        ],
    );
    std::fs::write(memos.join("empty.m4a"), b"").unwrap();
    let whole = std::fs::read(memos.join("monday-wav.wav")).unwrap();
    std::fs::write(memos.join("cut-short.wav"), &whole[..whole.len() / 3]).unwrap();
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(memos.join("corrupt.mp3"), noise).unwrap();
    std::fs::write(memos.join("shopping list.txt"), "milk, eggs\n").unwrap();
    memos
}

fn batch(memos: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut cmd = notedraft();
    cmd.arg("batch")
        .arg(memos)
        .arg("--model")
        .arg(base_model())
        .args(["--threads", "2", "--out"])
        .arg(out)
        .args(extra);
    run(&mut cmd)
}

fn summary(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("summary is JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn memo<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["memos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["memo"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} in the summary: {summary:#}"))
}

fn draft_of(entry: &serde_json::Value) -> serde_json::Value {
    let md = PathBuf::from(entry["draft"].as_str().expect("a draft path"));
    let json = md.with_file_name(
        md.file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".draft.md", ".draft.json"),
    );
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn section(draft: &serde_json::Value, name: &str) -> String {
    draft["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn modified_times(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut all: Vec<(PathBuf, SystemTime)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
        .collect();
    all.sort();
    all
}

#[test]
fn a_mixed_folder_drafts_every_good_memo_explains_every_bad_one_and_a_rerun_does_nothing() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let memos = mixed_folder(dir.path());
    let out = dir.path().join("drafts");
    let first = batch(&memos, &out, &["--json"]);
    assert_eq!(
        first.code, 1,
        "a failed memo makes the exit code 1:\n{}",
        first.stderr
    );
    let s = summary(&first);
    assert_eq!(s["schema"], "notedraft.batch/1");
    assert_eq!(s["drafted"], 7, "{s:#}");
    assert_eq!(s["failed"], 4, "{s:#}");

    for name in [
        "monday-wav.wav",
        "wednesday-mp3.mp3",
        "friday-opus.ogg",
        "sunday-silences.wav",
    ] {
        let entry = memo(&s, name);
        assert_eq!(entry["status"], "drafted", "{entry:#}");
        let draft = draft_of(entry);
        assert_eq!(draft["status"], "unsigned");
        assert!(
            section(&draft, "subjective").contains("slept better"),
            "{name}: {draft:#}"
        );
        assert!(section(&draft, "objective").contains("denies"), "{name}");
        assert!(section(&draft, "plan").contains("continue"), "{name}");
    }
    for name in [
        "tuesday-aac.m4a",
        "thursday-flac.flac",
        "saturday-vorbis.ogg",
    ] {
        let entry = memo(&s, name);
        assert_eq!(entry["status"], "drafted", "{entry:#}");
        let draft = draft_of(entry);
        assert!(
            section(&draft, "plan").contains("two weeks")
                || section(&draft, "plan").contains("2 weeks"),
            "{name}: {draft:#}"
        );
        assert!(
            draft["transcript"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("stress"),
            "{name}"
        );
    }
    // The memo with long silences: its length is the whole file, its text only the speech.
    let quiet = memo(&s, "sunday-silences.wav");
    assert!(quiet["duration_s"].as_f64().unwrap() > 100.0, "{quiet:#}");

    for (name, reason) in [
        ("empty.m4a", "is empty (0 bytes)"),
        ("cut-short.wav", "is cut short"),
        ("corrupt.mp3", "is not an audio file notedraft can read"),
        (
            "shopping list.txt",
            "is not an audio file notedraft can read",
        ),
    ] {
        let entry = memo(&s, name);
        assert_eq!(entry["status"], "failed", "{entry:#}");
        assert!(
            entry["detail"].as_str().unwrap().contains(reason),
            "{entry:#}"
        );
        assert!(entry["draft"].is_null());
    }
    // The review queue: drafts first, soonest due first; failures at the end.
    let statuses: Vec<&str> = s["memos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses[..7], ["drafted"; 7]);
    assert_eq!(statuses[7..], ["failed"; 4]);
    for path in std::fs::read_dir(&out).unwrap().flatten() {
        assert_eq!(notedraft::store::mode_of(&path.path()).unwrap(), 0o600);
    }

    // A second run does nothing: every draft is up to date and no file is touched.
    let before = modified_times(&out);
    let started = Instant::now();
    let second = batch(&memos, &out, &[]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second
            .stdout
            .contains("0 drafted, 7 already drafted, 4 failed."),
        "{}",
        second.stdout
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(modified_times(&out), before);
    // The table gives the reasons too.
    assert!(second.stdout.contains("empty.m4a: "), "{}", second.stdout);
}

#[test]
fn an_edited_draft_is_never_overwritten() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let memos = dir.path().join("memos");
    std::fs::create_dir_all(&memos).unwrap();
    speak(&memos, "intake.wav", SOAP_MEMO);
    let out = dir.path().join("drafts");
    assert_eq!(batch(&memos, &out, &[]).code, 0);
    let draft = out.join("intake.draft.md");
    let edited = std::fs::read_to_string(&draft).unwrap() + "\nClinician's own addition.\n";
    std::fs::write(&draft, &edited).unwrap();

    // A new draft of the same memo (another layout) goes beside the edited one.
    let again = batch(&memos, &out, &["--format", "dap", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let s = summary(&again);
    let entry = memo(&s, "intake.wav");
    assert_eq!(entry["status"], "drafted");
    assert!(
        entry["draft"]
            .as_str()
            .unwrap()
            .ends_with("intake-2.draft.md"),
        "{entry:#}"
    );
    assert!(
        entry["edited_draft_kept"]
            .as_str()
            .unwrap()
            .ends_with("intake.draft.md")
    );
    assert_eq!(std::fs::read_to_string(&draft).unwrap(), edited);
    let table = batch(&memos, &out, &["--format", "dap"]);
    assert!(table.stdout.contains("already drafted"), "{}", table.stdout);
}

#[test]
fn a_run_killed_partway_leaves_only_whole_drafts_and_the_next_run_finishes_the_rest() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let memos = dir.path().join("memos");
    std::fs::create_dir_all(&memos).unwrap();
    let names = ["a-first", "b-second", "c-third", "d-fourth"];
    for (i, name) in names.iter().enumerate() {
        let text = format!("{SOAP_MEMO} Next session in {} weeks.", i + 2);
        speak(&memos, &format!("{name}.wav"), &text);
    }
    let out = dir.path().join("drafts");
    let mut child = notedraft()
        .arg("batch")
        .arg(&memos)
        .arg("--model")
        .arg(base_model())
        .args(["--threads", "2", "--jobs", "1", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let drafts = |out: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(out)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(".draft.md"))
                    .collect()
            })
            .unwrap_or_default()
    };
    while drafts(&out).is_empty() {
        assert!(Instant::now() < deadline, "no draft appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "batch ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let done = drafts(&out);
    assert!(!done.is_empty() && done.len() < names.len(), "{done:?}");
    for md in &done {
        let text = std::fs::read_to_string(md).unwrap();
        assert!(text.starts_with("# UNSIGNED DRAFT"), "{}", md.display());
        let json = md.to_string_lossy().replace(".draft.md", ".draft.json");
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(json).unwrap())
            .expect("the JSON beside a finished draft is whole");
    }

    let resumed = batch(&memos, &out, &["--json"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let s = summary(&resumed);
    assert_eq!(s["up_to_date"], done.len());
    assert_eq!(s["drafted"], names.len() - done.len());
    let mut all: Vec<String> = drafts(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    all.sort();
    let expected: Vec<String> = names.iter().map(|n| format!("{n}.draft.md")).collect();
    assert_eq!(all, expected, "each memo once, none twice");
}

#[test]
fn a_memo_recorded_over_a_day_ago_is_flagged_late_and_listed_first() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let memos = dir.path().join("memos");
    std::fs::create_dir_all(&memos).unwrap();
    speak(&memos, "today.wav", SOAP_MEMO);
    let old = speak(&memos, "monday.wav", DAP_MEMO);
    tool("touch", &["-d", "3 days ago", old.to_str().unwrap()]);
    let out = dir.path().join("drafts");
    let result = batch(&memos, &out, &["--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let s = summary(&result);
    let order: Vec<&str> = s["memos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["memo"].as_str().unwrap())
        .collect();
    assert!(order[0].ends_with("monday.wav"), "{order:?}");
    let late = memo(&s, "monday.wav");
    assert_eq!(late["recorded_from"], "file-time");
    assert!(
        late["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "late-note"),
        "{late:#}"
    );
    let draft = draft_of(late);
    let flag = draft["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "late-note")
        .expect("late-note in the draft");
    assert!(
        flag["message"].as_str().unwrap().contains("3 days ago"),
        "{flag}"
    );
    let fresh = memo(&s, "today.wav");
    assert!(
        !fresh["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "late-note")
    );
}

#[test]
fn a_folder_with_no_memos_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("memos");
    std::fs::create_dir_all(&empty).unwrap();
    let result = batch(&empty, &dir.path().join("drafts"), &[]);
    assert_eq!(result.code, 1);
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    assert!(
        result.stderr.contains("there are no memos in"),
        "{}",
        result.stderr
    );
}

#[test]
fn the_throughput_benchmark_runs() {
    let _turn = turn();
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench-batch.sh"))
        .arg(base_model())
        .args(["1", "20"])
        .env("JOBS", "1")
        .env("NOTEDRAFT_BIN", assert_cmd::cargo::cargo_bin("notedraft"))
        .output()
        .expect("run scripts/bench-batch.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("notedraft --jobs 1"))
        .unwrap_or_else(|| panic!("no result row:\n{stdout}"));
    let speed: f64 = row.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(speed > 0.5, "audio minutes per minute: {row}");
}

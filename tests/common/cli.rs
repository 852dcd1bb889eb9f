//! Running the real `notedraft` binary in tests: where the models are, a command with the user's own
//! settings kept out, and a run that fails the test on any panic.

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

pub fn models_dir() -> PathBuf {
    std::env::var_os("NOTEDRAFT_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"))
}

pub fn base_model() -> PathBuf {
    let path = models_dir().join("ggml-base.bin");
    assert!(
        path.is_file(),
        "the base model is needed at {}: run scripts/fetch-model.sh base (or set NOTEDRAFT_MODELS_DIR)",
        path.display()
    );
    path
}

pub fn notedraft() -> Command {
    let mut cmd = Command::cargo_bin("notedraft").expect("the notedraft binary is built");
    // Keep the user's own settings file out of the tests.
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("notedraft-tests-no-config"),
    );
    cmd.env_remove("NOTEDRAFT_LOG");
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("notedraft runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "notedraft panicked:\n{}",
        run.stderr
    );
    run
}

/// Run a helper program the tests need (espeak-ng, sox, ffmpeg), failing with how to install it.
pub fn tool(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!("{program} is needed for these tests ({e}): apt-get install espeak-ng sox")
        });
    assert!(status.success(), "{program} {args:?} failed");
}

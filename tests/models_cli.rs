//! `notedraft models ...` as a clinician runs it: messages, exit codes, and where model files are looked for.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

/// notedraft run in an empty folder, with no user data folder and no settings file of the user's.
fn notedraft(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("notedraft").expect("binary built");
    cmd.current_dir(home)
        .env_remove("NOTEDRAFT_MODELS_DIR")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    cmd
}

#[test]
fn list_says_how_to_install_the_missing_default_model() {
    let home = tempfile::tempdir().expect("temp dir");
    notedraft(home.path())
        .args(["models", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tiny.en"))
        .stdout(predicate::str::contains("base.en"))
        .stdout(predicate::str::contains(
            "the speech model \"base\" is not installed: run scripts/fetch-model.sh base",
        ));
}

#[test]
fn verify_with_nothing_installed_fails_with_the_fixing_command() {
    let home = tempfile::tempdir().expect("temp dir");
    notedraft(home.path())
        .args(["models", "verify"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no speech models are installed: run scripts/fetch-model.sh base",
        ));
}

#[test]
fn verify_an_unknown_name_points_to_the_list() {
    let home = tempfile::tempdir().expect("temp dir");
    notedraft(home.path())
        .args(["models", "verify", "bsae"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "there is no speech model called \"bsae\": run notedraft models list to see the names",
        ));
}

#[test]
fn a_damaged_model_in_the_models_folder_fails_verification() {
    let home = tempfile::tempdir().expect("temp dir");
    let models = home.path().join("models");
    fs::create_dir_all(&models).expect("models folder");
    // The right magic number, the wrong everything else.
    fs::write(models.join("ggml-tiny.en.bin"), b"lmgg not really a model").expect("write");
    notedraft(home.path())
        .args(["models", "verify", "tiny.en"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("DAMAGED"))
        .stdout(predicate::str::contains(
            "run scripts/fetch-model.sh tiny.en to replace it",
        ));
    notedraft(home.path())
        .args(["models", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("DAMAGED"));
}

#[test]
fn the_models_dir_variable_is_searched_first() {
    let home = tempfile::tempdir().expect("temp dir");
    let elsewhere = home.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).expect("folder");
    fs::write(elsewhere.join("ggml-base.bin"), b"lmgg short").expect("write");
    notedraft(home.path())
        .env("NOTEDRAFT_MODELS_DIR", &elsewhere)
        .args(["models", "verify", "base"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            elsewhere
                .join("ggml-base.bin")
                .to_string_lossy()
                .into_owned(),
        ));
}

#[test]
fn convert_from_a_folder_without_a_model_says_what_is_missing() {
    let home = tempfile::tempdir().expect("temp dir");
    let out = home.path().join("ggml-x.bin");
    notedraft(home.path())
        .args(["models", "convert", "--from"])
        .arg(home.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no model.bin"));
    assert!(!out.exists());
}

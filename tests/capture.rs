//! Microphone capture through the real ALSA path, with the virtual microphone as the device:
//! `notedraft devices`, and `notedraft::audio::capture` recording, failing and being unplugged.
//!
//! alsa-lib reads its configuration once per process, so each check that records runs as an
//! inner (ignored) test in a subprocess with its own `ALSA_CONFIG_PATH`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::vmic::{self, End, VirtualMic};
use notedraft::audio::capture::{Capture, CaptureError, CaptureEvent};

const SPEECH: &str = "The client reported sleeping better this week. She had two panic attacks, \
                      both at work. We practised paced breathing. Plan: continue weekly sessions.";

fn speech_fixture(dir: &Path, rate: u32, channels: u16) -> PathBuf {
    let wav = dir.join(format!("speech-{rate}-{channels}.wav"));
    vmic::speak(SPEECH, rate, channels, &wav);
    wav
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the outer test")))
}

/// Record for `seconds` (or until the device ends), reading the way the recorder will.
fn record(capture: &mut Capture, seconds: f64) -> (Vec<f32>, Vec<CaptureEvent>) {
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut events = Vec::new();
    while started.elapsed().as_secs_f64() < seconds {
        samples.extend(capture.read_mono_timeout(Duration::from_millis(50)));
        while let Some(event) = capture.try_event() {
            events.push(event);
        }
        if capture.ended().is_some() {
            break;
        }
    }
    capture.stop();
    samples.extend(capture.read_mono());
    while let Some(event) = capture.try_event() {
        events.push(event);
    }
    (samples, events)
}

fn mono_reference(wav: &Path) -> (u32, Vec<f32>) {
    let (rate, channels, samples) = vmic::read_wav(wav);
    (
        rate,
        notedraft::audio::mix_to_mono(&samples, usize::from(channels)),
    )
}

fn notedraft_devices(alsa_config: &Path) -> assert_cmd::assert::Assert {
    notedraft_devices_with(alsa_config, "")
}

/// `notedraft devices` with `settings` as its settings file.
fn notedraft_devices_with(alsa_config: &Path, settings: &str) -> assert_cmd::assert::Assert {
    let settings_file = alsa_config.with_file_name("config.toml");
    std::fs::write(&settings_file, settings).unwrap();
    Command::cargo_bin("notedraft")
        .expect("the notedraft binary is built")
        .arg("devices")
        .arg("--config")
        .arg(&settings_file)
        .env("ALSA_CONFIG_PATH", vmic::alsa_config_path(alsa_config))
        .assert()
}

#[test]
fn devices_lists_the_virtual_microphone_as_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 48_000, 1);
    let config = VirtualMic::new(&wav).write(dir.path());
    let output = notedraft_devices(&config).success().get_output().clone();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let row = stdout
        .lines()
        .find(|l| l.contains("Virtual microphone"))
        .unwrap_or_else(|| panic!("no Virtual microphone row in:\n{stdout}"));
    // plug in front of the plugin offers f32 stereo at 48 kHz, the common desktop default.
    assert_eq!(row, "  * Virtual microphone   48000 Hz  2", "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("  * ") && l.contains(" Hz "))
            .count(),
        1,
        "exactly one default: {stdout}"
    );
    assert!(
        !stdout.contains("null"),
        "the null device is not a microphone: {stdout}"
    );
    assert!(stdout.contains("notedraft record --device NAME --save-device"));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn devices_says_which_microphone_the_settings_choose() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 48_000, 1);
    let config = VirtualMic::new(&wav).write(dir.path());
    let stdout = |settings: &str| {
        let output = notedraft_devices_with(&config, settings).success();
        String::from_utf8(output.get_output().stdout.clone()).unwrap()
    };
    assert!(
        stdout("device = \"virtual\"\n")
            .contains("Your settings choose \"virtual\": that is \"Virtual microphone\".")
    );
    assert!(
        stdout("device = \"Blue Yeti\"\n")
            .contains("Your settings choose \"Blue Yeti\", which is not connected now")
    );
}

#[test]
fn devices_without_any_microphone_says_so_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let config = vmic::write_no_device_config(dir.path());
    let output = notedraft_devices(&config).code(1).get_output().clone();
    assert!(output.stdout.is_empty());
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "notedraft: No microphone was found. Plug one in, or check that the computer's sound \
         input is enabled, then try again.\n"
    );
}

#[test]
fn capture_through_plug_matches_the_served_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 48_000, 1);
    let config = VirtualMic::new(&wav).write(dir.path());
    let out = vmic::run_inner_test(
        "inner_capture_matches_file",
        &config,
        &[
            ("VMIC_WAV", wav.to_str().unwrap()),
            ("VMIC_SECONDS", "3"),
            ("VMIC_EXPECT", "48000 2 f32"),
        ],
    );
    println!("{out}");
}

#[test]
fn capture_of_a_bare_i16_device_matches_the_served_file() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 44_100, 2);
    let config = VirtualMic::new(&wav).bare().not_default().write(dir.path());
    let out = vmic::run_inner_test(
        "inner_capture_matches_file",
        &config,
        &[
            ("VMIC_WAV", wav.to_str().unwrap()),
            ("VMIC_SECONDS", "3"),
            ("VMIC_EXPECT", "44100 2 i16"),
            // Chosen by part of its name, in another case.
            ("VMIC_DEVICE", "virtual MIC"),
        ],
    );
    println!("{out}");
}

/// Measurement: a minute of looped speech, no sample dropped. `cargo test --release --test
/// capture -- --ignored --nocapture long_capture`
#[test]
#[ignore = "takes a minute; run it to measure"]
fn long_capture_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 48_000, 1);
    let config = VirtualMic::new(&wav).end(End::Loop).write(dir.path());
    let out = vmic::run_inner_test(
        "inner_capture_matches_file",
        &config,
        &[
            ("VMIC_WAV", wav.to_str().unwrap()),
            ("VMIC_SECONDS", "60"),
            ("VMIC_EXPECT", "48000 2 f32"),
            ("VMIC_LOOPED", "1"),
        ],
    );
    println!("{out}");
}

#[test]
#[ignore = "inner test: run by the tests above with a virtual microphone"]
fn inner_capture_matches_file() {
    if !vmic::is_inner() {
        return;
    }
    let wav = env_path("VMIC_WAV");
    let seconds: f64 = std::env::var("VMIC_SECONDS").unwrap().parse().unwrap();
    let expect = std::env::var("VMIC_EXPECT").unwrap();
    let choice = std::env::var("VMIC_DEVICE").ok();
    let looped = std::env::var_os("VMIC_LOOPED").is_some();

    let mut capture = Capture::open(choice.as_deref()).expect("open the virtual microphone");
    let device = capture.device().clone();
    assert_eq!(device.name, "Virtual microphone");
    assert_eq!(device.is_default, choice.is_none());
    assert_eq!(
        format!(
            "{} {} {}",
            device.sample_rate, device.channels, device.sample_format
        ),
        expect
    );

    let (captured, events) = record(&mut capture, seconds);
    let stats = capture.stats();
    let (rate, reference) = mono_reference(&wav);
    assert_eq!(capture.sample_rate(), rate);
    let reference: Vec<f32> = if looped {
        reference
            .iter()
            .copied()
            .cycle()
            .take(captured.len() + 64)
            .collect()
    } else {
        reference
    };

    let compared = captured.len().min(reference.len());
    let (corr, lag) = vmic::best_correlation(&captured[..compared], &reference, 64);
    let expected_frames = seconds * f64::from(rate);
    println!(
        "captured {} frames in {seconds} s at {rate} Hz ({:.4} of real time); correlation {corr:.4} \
         at lag {lag}; dropped {} samples; overruns {}; callbacks {}; max callback {:?}; events {events:?}",
        captured.len(),
        captured.len() as f64 / expected_frames,
        stats.dropped_samples,
        stats.overruns,
        stats.callbacks,
        stats.max_callback,
    );
    assert!(corr > 0.95, "correlation {corr}");
    assert_eq!(stats.dropped_samples, 0);
    assert_eq!(stats.overruns, 0);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(stats.frames as usize, captured.len());
    // Paced at real time: not the tens of millions of frames per second of a pseudo-device.
    let ratio = captured.len() as f64 / expected_frames;
    assert!(
        (0.9..1.05).contains(&ratio),
        "captured {ratio} of real time"
    );
}

#[test]
fn unplugging_mid_recording_keeps_what_was_recorded_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("short.wav");
    vmic::speak("Subjective. The client is calm today.", 48_000, 1, &wav);
    let config = VirtualMic::new(&wav).end(End::Unplug).write(dir.path());
    let out = vmic::run_inner_test(
        "inner_unplug_is_reported",
        &config,
        &[("VMIC_WAV", wav.to_str().unwrap())],
    );
    println!("{out}");
}

#[test]
#[ignore = "inner test: run by the tests above with a virtual microphone"]
fn inner_unplug_is_reported() {
    if !vmic::is_inner() {
        return;
    }
    let (rate, reference) = mono_reference(&env_path("VMIC_WAV"));
    let file_seconds = reference.len() as f64 / f64::from(rate);
    let mut capture = Capture::open(None).expect("open the virtual microphone");
    let (captured, events) = record(&mut capture, file_seconds + 5.0);
    println!(
        "file {file_seconds:.2} s; captured {} frames; events {events:?}",
        captured.len()
    );
    let unplugged = CaptureError::Unplugged {
        device: "Virtual microphone".to_string(),
    };
    assert_eq!(capture.ended(), Some(&unplugged));
    assert_eq!(events, vec![CaptureEvent::Ended(unplugged.clone())]);
    assert!(
        unplugged
            .to_string()
            .contains("everything recorded until then was kept")
    );
    // Everything up to the unplugging is there, and it is the file.
    assert!(captured.len() as f64 >= 0.95 * reference.len() as f64);
    let (corr, _) = vmic::best_correlation(&captured, &reference, 64);
    assert!(corr > 0.95, "correlation {corr}");
}

#[test]
fn open_errors_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("short.wav");
    vmic::speak("Plan.", 48_000, 1, &wav);
    for (errno, expected) in [
        ("EACCES", "permission"),
        ("EBUSY", "busy"),
        ("ENODEV", "none"),
    ] {
        let config = VirtualMic::new(&wav).failing_with(errno).write(dir.path());
        vmic::run_inner_test("inner_open_error", &config, &[("VMIC_EXPECT", expected)]);
    }
    let config = vmic::write_no_device_config(dir.path());
    vmic::run_inner_test("inner_open_error", &config, &[("VMIC_EXPECT", "none")]);
}

#[test]
#[ignore = "inner test: run by the tests above with a virtual microphone"]
fn inner_open_error() {
    if !vmic::is_inner() {
        return;
    }
    let expected = match std::env::var("VMIC_EXPECT").unwrap().as_str() {
        "permission" => CaptureError::PermissionDenied {
            device: "System default".into(),
        },
        "busy" => CaptureError::DeviceBusy {
            device: "System default".into(),
        },
        "none" => CaptureError::NoMicrophone,
        other => panic!("unknown expectation {other}"),
    };
    let err = Capture::open(None).err().expect("opening fails");
    assert_eq!(err, expected);
    // A named device that is not there: the error lists what exists (nothing, here).
    let err = Capture::open(Some("Blue Yeti"))
        .err()
        .expect("opening fails");
    assert_eq!(err, CaptureError::NoMicrophone);
}

#[test]
fn a_device_that_is_not_there_lists_the_ones_that_are() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("short.wav");
    vmic::speak("Plan.", 48_000, 1, &wav);
    let config = VirtualMic::new(&wav).write(dir.path());
    vmic::run_inner_test("inner_missing_device", &config, &[]);
}

#[test]
#[ignore = "inner test: run by the tests above with a virtual microphone"]
fn inner_missing_device() {
    if !vmic::is_inner() {
        return;
    }
    let err = Capture::open(Some("Blue Yeti"))
        .err()
        .expect("opening fails");
    assert_eq!(
        err,
        CaptureError::DeviceNotFound {
            wanted: "Blue Yeti".into(),
            available: vec!["Virtual microphone".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "No microphone called \"Blue Yeti\" was found. The microphones here are: \
         \"Virtual microphone\". Choose one with --device."
    );
}

#[test]
fn a_consumer_that_stalls_loses_counted_samples_only() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_fixture(dir.path(), 48_000, 1);
    let config = VirtualMic::new(&wav).end(End::Loop).write(dir.path());
    let out = vmic::run_inner_test("inner_full_ring_counts_drops", &config, &[]);
    println!("{out}");
}

#[test]
#[ignore = "inner test: run by the tests above with a virtual microphone"]
fn inner_full_ring_counts_drops() {
    if !vmic::is_inner() {
        return;
    }
    let mut capture = Capture::open(None).expect("open the virtual microphone");
    let channels = u64::from(capture.device().channels);
    // Longer than the ring buffer holds.
    std::thread::sleep(Duration::from_secs(7));
    capture.stop();
    let mut interleaved = Vec::new();
    let frames_read = capture.read_interleaved(&mut interleaved) as u64;
    let stats = capture.stats();
    println!(
        "read {frames_read} frames, dropped {} samples of {} frames",
        stats.dropped_samples, stats.frames
    );
    assert!(stats.dropped_samples > 0);
    assert_eq!(stats.dropped_samples % channels, 0, "whole frames only");
    assert_eq!(
        frames_read * channels + stats.dropped_samples,
        stats.frames * channels,
        "every sample is either read or counted as dropped"
    );
    let ring_seconds = frames_read as f64 / f64::from(capture.sample_rate());
    assert!((4.9..=5.1).contains(&ring_seconds), "{ring_seconds}");
}

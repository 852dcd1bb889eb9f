//! The virtual microphone for tests: builds the ALSA plugin in `tests/vmic/vmic.c`, writes ALSA
//! configurations that put it (or no usable device at all) behind `default`, makes spoken
//! fixtures with espeak-ng and sox, and runs code under such a configuration in a subprocess
//! (alsa-lib reads its configuration once per process).
//!
//! Usage: `speak(text, 48_000, 1, &wav)`, then `VirtualMic::new(&wav).write(dir)`, then run the
//! `notedraft` binary (or an inner test, with [`run_inner_test`]) with
//! `ALSA_CONFIG_PATH` set to [`alsa_config_path`] of that file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Set in the environment of an inner test run by [`run_inner_test`].
pub const INNER_ENV: &str = "NOTEDRAFT_VMIC_INNER";

const SYSTEM_ALSA_CONF: &str = "/usr/share/alsa/alsa.conf";

/// What the virtual microphone does once the file has been served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Silence,
    Loop,
    /// The device disappears, as a USB microphone pulled out mid-recording.
    Unplug,
}

impl End {
    fn as_config(self) -> &'static str {
        match self {
            End::Silence => "silence",
            End::Loop => "loop",
            End::Unplug => "unplug",
        }
    }
}

/// One virtual microphone configuration.
#[derive(Clone, Debug)]
pub struct VirtualMic {
    /// 16-bit PCM WAV served as the microphone's sound, at its own rate and channel count.
    pub wav: PathBuf,
    pub end: End,
    /// Behind ALSA's `plug` (as a desktop's default device is: apps see f32 stereo 48 kHz) or
    /// bare (apps see exactly the file's i16 format, rate and channels).
    pub through_plug: bool,
    /// The name `notedraft devices` shows.
    pub description: String,
    /// Make opening fail with this errno name ("EACCES", "EBUSY", "ENODEV").
    pub open_error: Option<&'static str>,
    /// Also ALSA's `default` device.
    pub is_default: bool,
}

impl VirtualMic {
    pub fn new(wav: &Path) -> Self {
        Self {
            wav: wav.to_path_buf(),
            end: End::Silence,
            through_plug: true,
            description: "Virtual microphone".to_string(),
            open_error: None,
            is_default: true,
        }
    }

    pub fn end(mut self, end: End) -> Self {
        self.end = end;
        self
    }

    pub fn bare(mut self) -> Self {
        self.through_plug = false;
        self
    }

    /// Leave ALSA's `default` as the system has it (on these machines: nothing that records).
    pub fn not_default(mut self) -> Self {
        self.is_default = false;
        self
    }

    pub fn failing_with(mut self, errno: &'static str) -> Self {
        self.open_error = Some(errno);
        self
    }

    /// The ALSA configuration text, with absolute paths; the device is also `default`.
    pub fn config_text(&self) -> String {
        let wav = absolute(&self.wav);
        let fail = self
            .open_error
            .map(|e| format!("  fail \"{e}\""))
            .unwrap_or_default();
        let hint = format!("hint {{ show on description \"{}\" }}", self.description);
        let mut text = format!(
            "pcm_type.vmic {{ lib \"{}\" }}\n",
            plugin_library().display()
        );
        if self.through_plug {
            text += &format!(
                "pcm.vmic_raw {{ type vmic  file \"{}\"  end \"{}\"{fail}  hint.show off }}\n",
                wav.display(),
                self.end.as_config()
            );
            text += &format!("pcm.vmic {{ type plug  slave.pcm \"vmic_raw\"  {hint} }}\n");
            if self.is_default {
                text += "pcm.!default \"vmic\"\n";
            }
        } else {
            text += &format!(
                "pcm.vmic_raw {{ type vmic  file \"{}\"  end \"{}\"{fail}  {hint} }}\n",
                wav.display(),
                self.end.as_config()
            );
            if self.is_default {
                text += "pcm.!default \"vmic_raw\"\n";
            }
        }
        text
    }

    /// Write the configuration as `dir/vmic.conf` and return its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("vmic.conf");
        std::fs::write(&path, self.config_text()).expect("write the ALSA configuration");
        path
    }
}

/// An ALSA configuration under which no device can record: `default` names a card that does
/// not exist (and this machine has no sound card for anything else).
pub fn write_no_device_config(dir: &Path) -> PathBuf {
    let path = dir.join("no-device.conf");
    std::fs::write(&path, "pcm.!default { type hw card 29 device 0 }\n")
        .expect("write the ALSA configuration");
    path
}

/// The value for `ALSA_CONFIG_PATH`: the system's configuration, then ours over it.
pub fn alsa_config_path(config: &Path) -> String {
    format!("{SYSTEM_ALSA_CONF}:{}", absolute(config).display())
}

/// The plugin, compiled once per test process from `tests/vmic/vmic.c` into the target dir.
pub fn plugin_library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vmic/vmic.c");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vmic");
        std::fs::create_dir_all(&dir).expect("create the plugin build directory");
        let library = dir.join("libasound_module_pcm_vmic.so");
        // Several test binaries may build at once: each writes its own file, then renames.
        let partial = dir.join(format!(
            "libasound_module_pcm_vmic.{}.so",
            std::process::id()
        ));
        let status = Command::new("cc")
            .args(["-O2", "-Wall", "-DPIC", "-shared", "-fPIC", "-o"])
            .arg(&partial)
            .arg(&source)
            .arg("-lasound")
            .status()
            .expect(
                "run cc (a C compiler and libasound2-dev are needed for the virtual microphone)",
            );
        assert!(status.success(), "building {} failed", source.display());
        std::fs::rename(&partial, &library).expect("move the plugin into place");
        library
    })
}

/// Speak `text` with espeak-ng into a 16-bit WAV at `rate` Hz with `channels` channels.
pub fn speak(text: &str, rate: u32, channels: u16, out: &Path) {
    let spoken = out.with_extension("espeak.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "160", "-w"])
        .arg(&spoken)
        .arg(text)
        .status()
        .expect("run espeak-ng (it makes the speech the tests play)");
    assert!(status.success(), "espeak-ng failed");
    convert(&spoken, rate, channels, out);
    std::fs::remove_file(&spoken).ok();
}

/// Resample and remix a WAV with sox into 16-bit PCM.
pub fn convert(input: &Path, rate: u32, channels: u16, out: &Path) {
    let status = Command::new("sox")
        .arg(input)
        .args(["-b", "16", "-e", "signed-integer", "-r"])
        .arg(rate.to_string())
        .arg("-c")
        .arg(channels.to_string())
        .arg(out)
        .status()
        .expect("run sox");
    assert!(status.success(), "sox failed");
}

/// Join WAV files (same format) and optional silences: `(Some(path), _)` or `(None, seconds)`.
pub fn concatenate(parts: &[(Option<&Path>, f64)], rate: u32, channels: u16, out: &Path) {
    let dir = out.parent().expect("output has a folder");
    let mut inputs = Vec::new();
    for (i, (path, seconds)) in parts.iter().enumerate() {
        match path {
            Some(path) => inputs.push(path.to_path_buf()),
            None => {
                let silence = dir.join(format!("silence-{i}.wav"));
                let status = Command::new("sox")
                    .args(["-n", "-b", "16", "-r"])
                    .arg(rate.to_string())
                    .arg("-c")
                    .arg(channels.to_string())
                    .arg(&silence)
                    .args(["trim", "0"])
                    .arg(seconds.to_string())
                    .status()
                    .expect("run sox");
                assert!(status.success(), "sox failed to make silence");
                inputs.push(silence);
            }
        }
    }
    let status = Command::new("sox")
        .args(&inputs)
        .arg(out)
        .status()
        .expect("run sox");
    assert!(status.success(), "sox failed to join files");
}

/// A 16-bit WAV as (rate, channels, interleaved samples in -1..1).
pub fn read_wav(path: &Path) -> (u32, u16, Vec<f32>) {
    let mut reader = hound::WavReader::open(path).expect("open the fixture");
    let spec = reader.spec();
    assert_eq!(spec.bits_per_sample, 16, "fixtures are 16-bit");
    let samples = reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("read the fixture")) / 32768.0)
        .collect();
    (spec.sample_rate, spec.channels, samples)
}

/// The highest normalised correlation between `captured` and `reference` over lags of
/// 0..=`max_lag` samples (the capture may start a little late), and that lag.
pub fn best_correlation(captured: &[f32], reference: &[f32], max_lag: usize) -> (f64, usize) {
    (0..=max_lag)
        .map(|lag| {
            (
                correlation(captured, &reference[lag.min(reference.len())..]),
                lag,
            )
        })
        .fold((f64::MIN, 0), |best, c| if c.0 > best.0 { c } else { best })
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let aa: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum();
    let bb: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    dot / (aa.sqrt() * bb.sqrt())
}

/// Run the ignored test `name` of this test binary in a subprocess whose alsa-lib reads
/// `alsa_config`; `env` is passed on. Fails the calling test if the inner one fails; returns the
/// inner test's output.
pub fn run_inner_test(name: &str, alsa_config: &Path, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("find the test binary");
    let output = Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ALSA_CONFIG_PATH", alsa_config_path(alsa_config))
        .env(INNER_ENV, "1")
        .envs(env.iter().copied())
        .output()
        .expect("run the inner test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "inner test {name} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "inner test {name} did not run:\n{text}"
    );
    text
}

/// In an inner test: whether it was started by [`run_inner_test`] (and should run).
pub fn is_inner() -> bool {
    std::env::var_os(INNER_ENV).is_some()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).expect("make the path absolute")
}

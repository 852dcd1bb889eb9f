//! `notedraft devices`: the microphones that can record, the default marked.

use std::process::ExitCode;

use anyhow::Result;

use notedraft::audio::capture::{self, InputDevice};
use notedraft::config::Settings;
use notedraft::error;

use super::show;

pub fn run(settings: &Settings) -> Result<ExitCode> {
    let devices = capture::list_input_devices()?;
    let mut out = device_table(&devices);
    if let Some(wanted) = settings.device.as_deref() {
        match capture::find_device(&devices, wanted) {
            Ok(i) => {
                out += &format!(
                    "Your settings choose \"{wanted}\": that is \"{}\".\n",
                    devices[i].name
                )
            }
            Err(_) => {
                out += &format!(
                    "Your settings choose \"{wanted}\", which is not connected now: plug it in, or choose another as shown above.\n"
                )
            }
        }
    }
    show(&out);
    Ok(error::exit(error::EXIT_OK))
}

/// The microphones as a small table, the default starred, with how to choose one.
fn device_table(devices: &[InputDevice]) -> String {
    let name_width = devices
        .iter()
        .map(|d| d.name.chars().count())
        .chain(["MICROPHONE".len()])
        .max()
        .unwrap_or(0);
    let mut out = String::from("Microphones that can record:\n\n");
    out += &format!(
        "    {:<name_width$}  {:>9}  CHANNELS\n",
        "MICROPHONE", "RATE"
    );
    for d in devices {
        let marker = if d.is_default { "*" } else { " " };
        out += &format!(
            "  {marker} {:<name_width$}  {:>6} Hz  {}\n",
            d.name, d.sample_rate, d.channels
        );
    }
    out += "\n  * used when no microphone is chosen\n";
    out += "\nTo choose one: notedraft record --device NAME --save-device\n";
    out += "(NAME can be part of the name, such as \"usb\".)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(name: &str, rate: u32, channels: u16, is_default: bool) -> InputDevice {
        InputDevice {
            name: name.to_string(),
            id: name.to_lowercase(),
            sample_rate: rate,
            channels,
            sample_format: "i16".to_string(),
            is_default,
        }
    }

    #[test]
    fn device_table_marks_the_default_and_says_how_to_choose() {
        let table = device_table(&[
            mic("Virtual microphone", 48_000, 2, true),
            mic("USB", 44_100, 1, false),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[2], "    MICROPHONE               RATE  CHANNELS");
        assert_eq!(lines[3], "  * Virtual microphone   48000 Hz  2");
        assert_eq!(lines[4], "    USB                  44100 Hz  1");
        assert!(table.contains("notedraft record --device NAME --save-device"));
    }
}

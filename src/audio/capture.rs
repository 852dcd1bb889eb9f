//! The only user of cpal: input device choice, and the audio callback handing samples to a worker.
//!
//! The device is opened at its own (native) rate, channel count and sample format. The cpal
//! callback converts each sample to f32 and pushes whole frames into a lock-free ring buffer; it
//! never blocks and never allocates. A full ring drops samples, and every dropped sample is
//! counted. The stream lives on a thread of its own (cpal streams need not be `Send`); the
//! consumer reads mono f32 at the native rate and resamples it itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{ErrorKind, FromSample, SampleFormat, SizedSample};

use crate::audio::mix_to_mono;

/// Seconds of audio the ring buffer holds: room for the consumer to stall without losing sound.
const RING_SECONDS: usize = 5;
/// How often a blocking read looks for new audio.
const READ_POLL_INTERVAL: Duration = Duration::from_millis(5);
/// On ALSA, how long the stream may sit without a sign of life before it checks the device's
/// state (a device that vanished across a suspend may never signal). Elsewhere the value means a
/// limit on starting, which slow Bluetooth devices could exceed, so none is set there.
const BACKEND_TIMEOUT: Option<Duration> = if cfg!(target_os = "linux") {
    Some(Duration::from_secs(2))
} else {
    None
};
/// Stream errors in a row with no audio between them after which the stream is given up.
const ERRORS_BEFORE_GIVING_UP: u32 = 50;
/// Overrun events waiting for the consumer; more are counted, not queued.
const EVENT_QUEUE: usize = 32;

/// ALSA devices that open and "record" but are not microphones: `null` returns silence as fast
/// as it is read; the others only convert whatever the default device records.
const NOT_MICROPHONES: &[&str] = &[
    "null",
    "samplerate",
    "speexrate",
    "lavrate",
    "lavcrate",
    "upmix",
    "vdownmix",
    "speex",
    "usbstream",
];

/// What the name of the system's default device is shown as when no listed device is it.
const SYSTEM_DEFAULT_NAME: &str = "System default";

/// A microphone that can record, as `notedraft devices` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDevice {
    /// The name shown to the user and matched by `--device`.
    pub name: String,
    /// The audio system's own identifier (for ALSA, the PCM name such as `hw:CARD=PCH,DEV=0`).
    pub id: String,
    /// The rate the device records at; the recorder resamples from it.
    pub sample_rate: u32,
    pub channels: u16,
    /// The device's own sample format ("i16", "f32", ...); converted to f32 in the callback.
    pub sample_format: String,
    /// Recording uses this device when none is chosen.
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "No microphone was found. Plug one in, or check that the computer's sound input is enabled, then try again."
    )]
    NoMicrophone,
    #[error("{}", not_found_message(.wanted, .available))]
    DeviceNotFound {
        wanted: String,
        available: Vec<String>,
    },
    #[error(
        "\"{wanted}\" matches more than one microphone ({}): give more of the name, as `notedraft devices` shows it.",
        quoted_list(.matches)
    )]
    AmbiguousDevice {
        wanted: String,
        matches: Vec<String>,
    },
    #[error(
        "The computer's default microphone cannot be used; choose one of these with --device: {}.",
        quoted_list(.available)
    )]
    DefaultUnavailable { available: Vec<String> },
    #[error(
        "notedraft is not allowed to use the microphone \"{device}\". Allow this user to record sound (on Linux, add it to the \"audio\" group and log in again), then try again."
    )]
    PermissionDenied { device: String },
    #[error(
        "The microphone \"{device}\" is being used by another program. Close that program, or choose another microphone with --device, then try again."
    )]
    DeviceBusy { device: String },
    #[error(
        "The microphone \"{device}\" cannot record in any way notedraft understands; choose another one with --device (see `notedraft devices`)."
    )]
    Unsupported { device: String },
    #[error(
        "The microphone \"{device}\" stopped during the recording (it may have been unplugged); everything recorded until then was kept."
    )]
    Unplugged { device: String },
    #[error(
        "The microphone \"{device}\" stopped working ({detail}); everything recorded until then was kept. Check the microphone and try again."
    )]
    StreamFailed { device: String, detail: String },
    #[error(
        "The microphone \"{device}\" could not be started ({detail}). Check that it is plugged in, or choose another one with --device."
    )]
    OpenFailed { device: String, detail: String },
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn not_found_message(wanted: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!(
            "No microphone called \"{wanted}\" was found, and no other microphone is connected. Plug one in and try again."
        )
    } else {
        format!(
            "No microphone called \"{wanted}\" was found. The microphones here are: {}. Choose one with --device.",
            quoted_list(available)
        )
    }
}

/// Something the device reported while recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureEvent {
    /// The device lost sound before notedraft could read it (the system was too busy); recording
    /// goes on.
    Overrun,
    /// The device stopped for good (unplugged, or failing): what was read so far is all there is.
    Ended(CaptureError),
}

/// Counters kept by the callback, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames (one sample per channel) the device delivered.
    pub frames: u64,
    /// Samples lost because the ring buffer was full.
    pub dropped_samples: u64,
    /// Times the device reported lost sound on its side.
    pub overruns: u64,
    pub callbacks: u64,
    /// The longest time spent inside one callback.
    pub max_callback: Duration,
}

/// State shared by the audio callback (writer) and the consumer (reader); atomics only.
#[derive(Default)]
struct Shared {
    frames: AtomicU64,
    dropped_samples: AtomicU64,
    overruns: AtomicU64,
    callbacks: AtomicU64,
    max_callback_ns: AtomicU64,
    ended: OnceLock<CaptureError>,
}

impl Shared {
    fn stats(&self) -> CaptureStats {
        CaptureStats {
            frames: self.frames.load(Ordering::Relaxed),
            dropped_samples: self.dropped_samples.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            callbacks: self.callbacks.load(Ordering::Relaxed),
            max_callback: Duration::from_nanos(self.max_callback_ns.load(Ordering::Relaxed)),
        }
    }
}

/// A running recording from one input device. Dropping it stops the device.
pub struct Capture {
    device: InputDevice,
    consumer: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    events: mpsc::Receiver<CaptureEvent>,
    end_reported: bool,
    stop: Option<mpsc::Sender<()>>,
    worker: Option<thread::JoinHandle<()>>,
}

impl Capture {
    /// Start recording from the device called `choice` (see [`find_device`] for how names
    /// match), or from the system's default device.
    pub fn open(choice: Option<&str>) -> Result<Capture, CaptureError> {
        let _quiet = AlsaMessages::hold();
        let host = cpal::default_host();
        let probed = match choice {
            Some(wanted) => {
                let mut devices = probe_devices(&host);
                let index = find_device(
                    &devices.iter().map(|p| p.info.clone()).collect::<Vec<_>>(),
                    wanted,
                )?;
                devices.swap_remove(index)
            }
            None => open_default(&host)?,
        };
        start(probed)
    }

    pub fn device(&self) -> &InputDevice {
        &self.device
    }

    /// The rate of the samples this capture returns.
    pub fn sample_rate(&self) -> u32 {
        self.device.sample_rate
    }

    /// Append every whole frame recorded so far, interleaved, to `out`; never waits.
    /// Returns the number of frames appended.
    pub fn read_interleaved(&mut self, out: &mut Vec<f32>) -> usize {
        let channels = usize::from(self.device.channels.max(1));
        let ready = self.consumer.slots() - self.consumer.slots() % channels;
        if ready == 0 {
            return 0;
        }
        let Ok(chunk) = self.consumer.read_chunk(ready) else {
            return 0;
        };
        let (first, second) = chunk.as_slices();
        out.extend_from_slice(first);
        out.extend_from_slice(second);
        chunk.commit_all();
        ready / channels
    }

    /// Everything recorded so far, mixed to mono, at [`Capture::sample_rate`]; never waits.
    pub fn read_mono(&mut self) -> Vec<f32> {
        let mut interleaved = Vec::with_capacity(self.consumer.slots());
        self.read_interleaved(&mut interleaved);
        mix_to_mono(&interleaved, usize::from(self.device.channels))
    }

    /// Like [`Capture::read_mono`], but waits up to `timeout` for sound (or for an event) when
    /// there is none yet.
    pub fn read_mono_timeout(&mut self, timeout: Duration) -> Vec<f32> {
        let deadline = Instant::now() + timeout;
        let overruns = self.shared.overruns.load(Ordering::Relaxed);
        loop {
            let samples = self.read_mono();
            let now = Instant::now();
            let news = self.shared.ended.get().is_some()
                || self.shared.overruns.load(Ordering::Relaxed) != overruns;
            if !samples.is_empty() || news || now >= deadline {
                return samples;
            }
            thread::sleep(READ_POLL_INTERVAL.min(deadline - now));
        }
    }

    /// The next thing the device reported, if any. Once the device has ended, `Ended` is
    /// returned once, after any earlier events.
    pub fn try_event(&mut self) -> Option<CaptureEvent> {
        if let Ok(event) = self.events.try_recv() {
            return Some(event);
        }
        match self.shared.ended.get() {
            Some(err) if !self.end_reported => {
                self.end_reported = true;
                Some(CaptureEvent::Ended(err.clone()))
            }
            _ => None,
        }
    }

    /// Why the device stopped on its own, if it did.
    pub fn ended(&self) -> Option<&CaptureError> {
        self.shared.ended.get()
    }

    pub fn stats(&self) -> CaptureStats {
        self.shared.stats()
    }

    /// Stop the device. Sound recorded before this call can still be read.
    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::warn!("the microphone thread ended abnormally");
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The input devices that can record now, default marked; pseudo-devices and devices that fail
/// to open are left out.
pub fn list_input_devices() -> Result<Vec<InputDevice>, CaptureError> {
    let _quiet = AlsaMessages::hold();
    let host = cpal::default_host();
    let devices: Vec<InputDevice> = probe_devices(&host).into_iter().map(|p| p.info).collect();
    if devices.is_empty() {
        return Err(CaptureError::NoMicrophone);
    }
    Ok(devices)
}

/// Pick the device `wanted` names: an exact name (or system id) first, then a case-insensitive
/// part of one. Returns its index in `devices`.
pub fn find_device(devices: &[InputDevice], wanted: &str) -> Result<usize, CaptureError> {
    if devices.is_empty() {
        return Err(CaptureError::NoMicrophone);
    }
    if let Some(i) = devices
        .iter()
        .position(|d| d.name == wanted || d.id == wanted)
    {
        return Ok(i);
    }
    let needle = wanted.to_lowercase();
    let matches: Vec<usize> = devices
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.name.to_lowercase().contains(&needle) || d.id.to_lowercase().contains(&needle)
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [only] => Ok(*only),
        [] => Err(CaptureError::DeviceNotFound {
            wanted: wanted.to_string(),
            available: devices.iter().map(|d| d.name.clone()).collect(),
        }),
        several => Err(CaptureError::AmbiguousDevice {
            wanted: wanted.to_string(),
            matches: several.iter().map(|&i| devices[i].name.clone()).collect(),
        }),
    }
}

/// A device that opened, with the configuration it will be recorded at.
struct Probed {
    info: InputDevice,
    device: cpal::Device,
    config: cpal::SupportedStreamConfig,
}

/// The system default device, or why it cannot record.
fn open_default(host: &cpal::Host) -> Result<Probed, CaptureError> {
    let mut devices = probe_devices(host);
    if let Some(i) = devices.iter().position(|p| p.info.is_default) {
        return Ok(devices.swap_remove(i));
    }
    let why = host
        .default_input_device()
        .and_then(|device| device.default_input_config().err());
    if let Some(err) = &why {
        tracing::debug!("default input device: {err}");
    }
    let device = SYSTEM_DEFAULT_NAME.to_string();
    match why.map(|err| err.kind()) {
        Some(ErrorKind::PermissionDenied) => Err(CaptureError::PermissionDenied { device }),
        Some(ErrorKind::DeviceBusy) => Err(CaptureError::DeviceBusy { device }),
        _ if devices.is_empty() => Err(CaptureError::NoMicrophone),
        _ => Err(CaptureError::DefaultUnavailable {
            available: devices.into_iter().map(|p| p.info.name).collect(),
        }),
    }
}

/// Every device that can record, once per physical input, with the default marked.
fn probe_devices(host: &cpal::Host) -> Vec<Probed> {
    let mut candidates: Vec<cpal::Device> = match host.input_devices() {
        Ok(devices) => devices.collect(),
        Err(err) => {
            tracing::debug!("listing input devices: {err}");
            Vec::new()
        }
    };
    let default = host.default_input_device();
    if let Some(default) = &default
        && !candidates
            .iter()
            .any(|d| device_id(d) == device_id(default))
    {
        candidates.push(default.clone());
    }
    let default_id = default.as_ref().map(device_id);
    let default_identity = default_id.as_deref().and_then(backend::identity);

    let mut found: Vec<(Probed, Option<String>)> = Vec::new();
    for device in candidates {
        let id = device_id(&device);
        if is_pseudo_device(&id) {
            continue;
        }
        let config = match device.default_input_config() {
            Ok(config) => config,
            Err(err) => {
                tracing::debug!("input device {id} cannot record: {err}");
                continue;
            }
        };
        let identity = backend::identity(&id);
        let is_default = default_id.as_deref() == Some(id.as_str());
        // The default's own description, where there is one, tends to speak of output.
        let name = if is_default {
            SYSTEM_DEFAULT_NAME.to_string()
        } else {
            hinted_name(&device).unwrap_or_else(|| id.clone())
        };
        let info = InputDevice {
            name,
            id,
            sample_rate: config.sample_rate(),
            channels: config.channels(),
            sample_format: config.sample_format().to_string(),
            is_default,
        };
        found.push((
            Probed {
                info,
                device,
                config,
            },
            identity,
        ));
    }

    let aliases: Vec<Alias> = found
        .iter()
        .map(|(p, identity)| Alias {
            id: &p.info.id,
            identity: identity.as_deref(),
            is_default: p.info.is_default,
        })
        .collect();
    let kept = keep_one_per_input(&aliases, default_identity.as_deref());
    let mut slots: Vec<Option<Probed>> = found.into_iter().map(|(p, _)| Some(p)).collect();
    let mut devices: Vec<Probed> = kept
        .into_iter()
        .filter_map(|(i, is_default)| {
            let mut probed = slots[i].take()?;
            probed.info.is_default = is_default;
            Some(probed)
        })
        .collect();
    disambiguate_names(&mut devices);
    devices
}

/// One name for an input, as far as choosing among aliases goes.
struct Alias<'a> {
    id: &'a str,
    /// Names with the same identity record from the same input; `None`: cannot be told.
    identity: Option<&'a str>,
    is_default: bool,
}

/// Aliases of one input (hw, plughw, sysdefault, the default itself...) collapse into one entry,
/// the most convenient alias, marked default when the default device is that input.
/// Returns the index of each alias kept, and whether it is the default, in listing order.
fn keep_one_per_input(aliases: &[Alias], default_identity: Option<&str>) -> Vec<(usize, bool)> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, alias) in aliases.iter().enumerate() {
        let twin = alias.identity.and_then(|key| {
            groups
                .iter_mut()
                .find(|members| aliases[members[0]].identity == Some(key))
        });
        match twin {
            Some(members) => members.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
        .into_iter()
        .filter_map(|members| {
            let identity = aliases[members[0]].identity;
            let is_default = members.iter().any(|&i| aliases[i].is_default)
                || (identity.is_some() && identity == default_identity);
            let kept = members
                .into_iter()
                .min_by_key(|&i| alias_rank(aliases[i].id))?;
            Some((kept, is_default))
        })
        .collect()
}

/// Lower is preferred when several aliases name one input; "default" comes last, so that the
/// entry shown is the input itself.
fn alias_rank(id: &str) -> usize {
    const ORDER: &[&str] = &["sysdefault", "plughw", "dsnoop", "front", "hw"];
    let base = id.split(':').next().unwrap_or(id);
    if base == "default" {
        return ORDER.len() + 1;
    }
    ORDER.iter().position(|&p| p == base).unwrap_or(ORDER.len())
}

/// Two inputs with the same description get their system id added, so that each name is unique.
fn disambiguate_names(devices: &mut [Probed]) {
    let names: Vec<String> = devices.iter().map(|p| p.info.name.clone()).collect();
    for probed in devices.iter_mut() {
        if names.iter().filter(|n| **n == probed.info.name).count() > 1 {
            probed.info.name = format!("{} ({})", probed.info.name, probed.info.id);
        }
    }
}

fn is_pseudo_device(id: &str) -> bool {
    let base = id.split(':').next().unwrap_or(id);
    NOT_MICROPHONES.contains(&base)
}

fn device_id(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// The description the audio system gives the device, when it gives a real one.
fn hinted_name(device: &cpal::Device) -> Option<String> {
    let description = device.description().ok()?;
    let name = description.name().trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Build and start the stream on its own thread, and hand back the consumer's side.
fn start(probed: Probed) -> Result<Capture, CaptureError> {
    let Probed {
        info,
        device,
        config,
    } = probed;
    let channels = usize::from(config.channels().max(1));
    let capacity = config.sample_rate() as usize * channels * RING_SECONDS;
    let (producer, consumer) = rtrb::RingBuffer::<f32>::new(capacity);
    let shared = Arc::new(Shared::default());
    let (event_tx, events) = mpsc::sync_channel(EVENT_QUEUE);
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), CaptureError>>(1);
    let (stop_tx, stop_rx) = mpsc::channel::<()>();

    let worker_shared = Arc::clone(&shared);
    let name = info.name.clone();
    let worker = thread::Builder::new()
        .name("notedraft-capture".into())
        .spawn(move || {
            let _quiet = AlsaMessages::hold();
            let wiring = Wiring {
                producer,
                shared: worker_shared,
                events: event_tx,
                device_name: name.clone(),
            };
            let stream = build_stream(&device, &config, wiring)
                .and_then(|stream| stream.play().map(|()| stream))
                .map_err(|err| open_error(&err, &name));
            match stream {
                Ok(stream) => {
                    let _ = ready_tx.send(Ok(()));
                    // Runs until `Capture::stop` or drop closes the channel.
                    let _ = stop_rx.recv();
                    drop(stream);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        })
        .map_err(|err| CaptureError::OpenFailed {
            device: info.name.clone(),
            detail: err.to_string(),
        })?;

    let started = ready_rx.recv().unwrap_or_else(|_| {
        Err(CaptureError::OpenFailed {
            device: info.name.clone(),
            detail: "the microphone thread stopped".to_string(),
        })
    });
    if let Err(err) = started {
        let _ = worker.join();
        return Err(err);
    }
    tracing::info!(
        device = %info.id,
        rate = info.sample_rate,
        channels = info.channels,
        format = %info.sample_format,
        "recording"
    );
    Ok(Capture {
        device: info,
        consumer,
        shared,
        events,
        end_reported: false,
        stop: Some(stop_tx),
        worker: Some(worker),
    })
}

/// What the callbacks are connected to.
struct Wiring {
    producer: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    events: mpsc::SyncSender<CaptureEvent>,
    device_name: String,
}

fn build_stream(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    wiring: Wiring,
) -> Result<cpal::Stream, cpal::Error> {
    match config.sample_format() {
        SampleFormat::I8 => build_typed::<i8>(device, config, wiring),
        SampleFormat::I16 => build_typed::<i16>(device, config, wiring),
        SampleFormat::I24 => build_typed::<cpal::I24>(device, config, wiring),
        SampleFormat::I32 => build_typed::<i32>(device, config, wiring),
        SampleFormat::I64 => build_typed::<i64>(device, config, wiring),
        SampleFormat::U8 => build_typed::<u8>(device, config, wiring),
        SampleFormat::U16 => build_typed::<u16>(device, config, wiring),
        SampleFormat::U24 => build_typed::<cpal::U24>(device, config, wiring),
        SampleFormat::U32 => build_typed::<u32>(device, config, wiring),
        SampleFormat::U64 => build_typed::<u64>(device, config, wiring),
        SampleFormat::F32 => build_typed::<f32>(device, config, wiring),
        SampleFormat::F64 => build_typed::<f64>(device, config, wiring),
        other => Err(cpal::Error::with_message(
            ErrorKind::UnsupportedConfig,
            format!("sample format {other} is not audio notedraft can use"),
        )),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    config: &cpal::SupportedStreamConfig,
    wiring: Wiring,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let Wiring {
        mut producer,
        shared,
        events,
        device_name,
    } = wiring;
    let channels = usize::from(config.channels().max(1));
    let callback_shared = Arc::clone(&shared);
    let on_data = move |data: &[T], _: &cpal::InputCallbackInfo| {
        let started = Instant::now();
        let fits = producer.slots().min(data.len()) / channels * channels;
        if let Ok(chunk) = producer.write_chunk_uninit(fits) {
            chunk.fill_from_iter(data[..fits].iter().map(|&s| s.to_sample::<f32>()));
        }
        let lost = (data.len() - fits) as u64;
        let counters = &callback_shared;
        if lost > 0 {
            counters.dropped_samples.fetch_add(lost, Ordering::Relaxed);
        }
        counters
            .frames
            .fetch_add((data.len() / channels) as u64, Ordering::Relaxed);
        counters.callbacks.fetch_add(1, Ordering::Relaxed);
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counters.max_callback_ns.fetch_max(spent, Ordering::Relaxed);
    };

    let mut errors_in_a_row = 0u32;
    let mut frames_at_last_error = u64::MAX;
    let on_error = move |err: cpal::Error| {
        let frames = shared.frames.load(Ordering::Relaxed);
        errors_in_a_row = if frames == frames_at_last_error {
            errors_in_a_row + 1
        } else {
            1
        };
        frames_at_last_error = frames;
        let end = |err: CaptureError| {
            let _ = shared.ended.set(err);
        };
        match err.kind() {
            ErrorKind::Xrun => {
                shared.overruns.fetch_add(1, Ordering::Relaxed);
                let _ = events.try_send(CaptureEvent::Overrun);
            }
            ErrorKind::DeviceNotAvailable => end(CaptureError::Unplugged {
                device: device_name.clone(),
            }),
            ErrorKind::StreamInvalidated => end(CaptureError::StreamFailed {
                device: device_name.clone(),
                detail: err.to_string(),
            }),
            // Informational: recording goes on.
            ErrorKind::RealtimeDenied | ErrorKind::DeviceChanged => {}
            _ if errors_in_a_row >= ERRORS_BEFORE_GIVING_UP => end(CaptureError::StreamFailed {
                device: device_name.clone(),
                detail: err.to_string(),
            }),
            _ => {}
        }
    };

    let stream_config = cpal::StreamConfig {
        channels: config.channels(),
        sample_rate: config.sample_rate(),
        buffer_size: cpal::BufferSize::Default,
    };
    device.build_input_stream::<T, _, _>(stream_config, on_data, on_error, BACKEND_TIMEOUT)
}

/// The plain error for a device that would not start.
fn open_error(err: &cpal::Error, device: &str) -> CaptureError {
    let device = device.to_string();
    match err.kind() {
        ErrorKind::PermissionDenied => CaptureError::PermissionDenied { device },
        ErrorKind::DeviceBusy => CaptureError::DeviceBusy { device },
        ErrorKind::UnsupportedConfig | ErrorKind::UnsupportedOperation => {
            CaptureError::Unsupported { device }
        }
        _ => CaptureError::OpenFailed {
            device,
            detail: err.to_string(),
        },
    }
}

/// While held, alsa-lib's own complaints (about cards that are absent, for instance) go to the
/// debug log instead of the user's terminal. alsa-lib keeps this per thread.
struct AlsaMessages {
    #[cfg(target_os = "linux")]
    buffer: Option<std::rc::Rc<std::cell::RefCell<alsa::Output>>>,
}

impl AlsaMessages {
    fn hold() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            buffer: alsa::Output::local_error_handler().ok(),
        }
    }
}

impl Drop for AlsaMessages {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(buffer) = &self.buffer {
            let text = buffer.borrow().to_string();
            if !text.trim().is_empty() {
                tracing::debug!("alsa-lib: {}", text.trim_end());
            }
        }
    }
}

/// How to tell that two device names reach the same input.
mod backend {
    /// Two ALSA names with the same identity record from the same input: the same card and
    /// device for hardware, the same innermost plugin otherwise. `None` when it cannot be told.
    #[cfg(target_os = "linux")]
    pub(super) fn identity(id: &str) -> Option<String> {
        let pcm = alsa::PCM::new(id, alsa::Direction::Capture, true).ok()?;
        let info = pcm.info().ok()?;
        if info.get_card() >= 0 {
            Some(format!(
                "card {} device {} subdevice {}",
                info.get_card(),
                info.get_device(),
                info.get_subdevice()
            ))
        } else {
            info.get_id().ok().map(|name| format!("plugin {name}"))
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn identity(_id: &str) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(name: &str, id: &str) -> InputDevice {
        InputDevice {
            name: name.to_string(),
            id: id.to_string(),
            sample_rate: 48_000,
            channels: 2,
            sample_format: "f32".to_string(),
            is_default: false,
        }
    }

    fn sample() -> Vec<InputDevice> {
        vec![
            device("USB Headset", "plughw:CARD=Headset,DEV=0"),
            device("HDA Intel PCH, ALC295 Analog", "sysdefault:CARD=PCH"),
            device("Webcam C920", "plughw:CARD=C920,DEV=0"),
        ]
    }

    #[test]
    fn exact_name_wins() {
        assert_eq!(find_device(&sample(), "Webcam C920").unwrap(), 2);
    }

    #[test]
    fn system_id_matches_exactly() {
        assert_eq!(find_device(&sample(), "sysdefault:CARD=PCH").unwrap(), 1);
    }

    #[test]
    fn part_of_a_name_matches_whatever_the_case() {
        assert_eq!(find_device(&sample(), "headset").unwrap(), 0);
        assert_eq!(find_device(&sample(), "alc295").unwrap(), 1);
    }

    #[test]
    fn exact_match_beats_a_longer_name_containing_it() {
        let devices = vec![device("Mic 2", "a"), device("Mic", "b")];
        assert_eq!(find_device(&devices, "Mic").unwrap(), 1);
    }

    #[test]
    fn ambiguous_name_lists_the_matches() {
        let err = find_device(&sample(), "plughw").unwrap_err();
        assert_eq!(
            err,
            CaptureError::AmbiguousDevice {
                wanted: "plughw".into(),
                matches: vec!["USB Headset".into(), "Webcam C920".into()],
            }
        );
        assert!(err.to_string().contains("\"USB Headset\", \"Webcam C920\""));
    }

    #[test]
    fn missing_name_lists_what_exists() {
        let err = find_device(&sample(), "Blue Yeti").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("No microphone called \"Blue Yeti\" was found."));
        assert!(
            text.contains("\"USB Headset\", \"HDA Intel PCH, ALC295 Analog\", \"Webcam C920\"")
        );
    }

    #[test]
    fn no_devices_at_all_is_the_no_microphone_error() {
        assert_eq!(
            find_device(&[], "anything").unwrap_err(),
            CaptureError::NoMicrophone
        );
    }

    #[test]
    fn messages_are_one_line() {
        let errors = [
            CaptureError::NoMicrophone,
            CaptureError::PermissionDenied { device: "x".into() },
            CaptureError::DeviceBusy { device: "x".into() },
            CaptureError::Unplugged { device: "x".into() },
            CaptureError::DefaultUnavailable {
                available: vec!["a".into()],
            },
        ];
        for err in errors {
            let text = err.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(text.ends_with('.'), "{text}");
        }
    }

    fn alias<'a>(id: &'a str, identity: Option<&'a str>, is_default: bool) -> Alias<'a> {
        Alias {
            id,
            identity,
            is_default,
        }
    }

    #[test]
    fn aliases_of_one_input_are_listed_once_under_the_most_convenient_name() {
        let card0 = Some("card 0 device 0 subdevice 0");
        let card1 = Some("card 1 device 0 subdevice 0");
        let aliases = [
            alias("hw:CARD=PCH,DEV=0", card0, false),
            alias("sysdefault:CARD=PCH", card0, false),
            alias("plughw:CARD=PCH,DEV=0", card0, false),
            alias("hw:CARD=USB,DEV=0", card1, false),
            alias("plughw:CARD=USB,DEV=0", card1, false),
            alias("default", Some("card 1 device 0 subdevice 0"), true),
        ];
        assert_eq!(
            keep_one_per_input(&aliases, card1),
            vec![(1, false), (4, true)]
        );
    }

    #[test]
    fn a_default_that_cannot_be_matched_is_listed_on_its_own() {
        let aliases = [
            alias("vmic_raw", Some("plugin vmic_raw"), false),
            alias("pulse", None, false),
            alias("default", Some("plugin default"), true),
        ];
        assert_eq!(
            keep_one_per_input(&aliases, Some("plugin default")),
            vec![(0, false), (1, false), (2, true)]
        );
    }

    #[test]
    fn a_capture_can_move_to_the_recorder_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Capture>();
    }

    #[test]
    fn null_and_converters_are_not_microphones() {
        assert!(is_pseudo_device("null"));
        assert!(is_pseudo_device("samplerate:CARD=0"));
        assert!(!is_pseudo_device("hw:CARD=PCH,DEV=0"));
        assert!(!is_pseudo_device("default"));
    }

    #[test]
    fn converting_aliases_are_preferred_and_default_comes_last() {
        assert!(alias_rank("sysdefault:CARD=PCH") < alias_rank("plughw:CARD=PCH,DEV=0"));
        assert!(alias_rank("plughw:CARD=PCH,DEV=0") < alias_rank("hw:CARD=PCH,DEV=0"));
        assert!(alias_rank("hw:CARD=PCH,DEV=0") < alias_rank("vmic"));
        assert!(alias_rank("vmic") < alias_rank("default"));
    }
}

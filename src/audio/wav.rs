//! The only user of hound: read any common WAV into mono f32, write the growing recording, repair its header.
//!
//! Reading accepts 8/16/24/32-bit integer PCM and 32-bit float, 8 kHz to 96 kHz, any channel count, and
//! refuses a WAV whose header announces more audio than the file holds (a truncated copy is never passed
//! on as if it were the whole session). [`RecordingWriter`] keeps the header of a live recording valid
//! every half second or so, so that a crash or `kill -9` loses at most that much; [`repair_header`]
//! fixes the header of a recording that was cut off between two such updates.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{AudioError, AudioInfo, MonoSource, check_rate, mix_to_mono, parse_recording_time};

/// Frames read per block while streaming a WAV.
const BLOCK_FRAMES: usize = 16_384;

/// A WAV file read whole: mono samples at the file's own rate.
#[derive(Clone, Debug, PartialEq)]
pub struct WavAudio {
    /// Mono samples (channels averaged) in -1.0..=1.0.
    pub samples: Vec<f32>,
    pub rate: u32,
    /// Channels in the file before mixing.
    pub channels: u16,
}

/// Read a whole WAV file as mono f32 at its own rate. [`super::load_file`] streams instead; this is for
/// callers that need the original rate (e.g. re-reading a finished recording).
pub fn read_wav(path: &Path) -> Result<WavAudio, AudioError> {
    let mut source = WavSource::open(path)?;
    let mut samples = Vec::new();
    while source.read_block(&mut samples)? {}
    Ok(WavAudio {
        samples,
        rate: source.spec.sample_rate,
        channels: source.spec.channels,
    })
}

/// A WAV file being read block by block.
pub(crate) struct WavSource {
    path: PathBuf,
    reader: hound::WavReader<BufReader<File>>,
    spec: hound::WavSpec,
    /// Interleaved samples still to read.
    remaining: u64,
    recorded_at: Option<jiff::Timestamp>,
    interleaved: Vec<f32>,
}

impl WavSource {
    pub(crate) fn open(path: &Path) -> Result<Self, AudioError> {
        let mut file = File::open(path).map_err(|e| AudioError::from_io(path, e))?;
        let layout = RiffLayout::scan(&mut file).map_err(|e| AudioError::from_io(path, e))?;
        if let Some(encoding) = layout.unsupported_encoding() {
            return Err(AudioError::UnsupportedWavEncoding {
                path: path.to_path_buf(),
                encoding,
            });
        }
        if let Some(data) = layout.chunk(b"data") {
            let declared_end = data.offset + u64::from(data.size);
            if data.size == 0 && layout.file_len > data.offset || data.size == u32::MAX {
                return Err(AudioError::HeaderStale {
                    path: path.to_path_buf(),
                });
            }
            if declared_end > layout.file_len {
                return Err(AudioError::Truncated {
                    path: path.to_path_buf(),
                });
            }
        }
        let recorded_at = layout.recorded_at(&mut file);
        file.seek(SeekFrom::Start(0))
            .map_err(|e| AudioError::from_io(path, e))?;
        let reader =
            hound::WavReader::new(BufReader::new(file)).map_err(|e| map_read_error(path, e))?;
        let spec = reader.spec();
        check_rate(path, spec.sample_rate)?;
        if spec.channels == 0 {
            return Err(AudioError::Corrupt {
                path: path.to_path_buf(),
                detail: "WAV header declares zero channels".into(),
            });
        }
        let remaining = u64::from(reader.len());
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            spec,
            remaining,
            recorded_at,
            interleaved: Vec::new(),
        })
    }

    fn describe(&self) -> String {
        match self.spec.sample_format {
            hound::SampleFormat::Float => format!("WAV, {}-bit float", self.spec.bits_per_sample),
            hound::SampleFormat::Int => format!("WAV, {}-bit PCM", self.spec.bits_per_sample),
        }
    }
}

impl MonoSource for WavSource {
    fn rate(&self) -> u32 {
        self.spec.sample_rate
    }

    fn read_block(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        let channels = usize::from(self.spec.channels);
        let want =
            (BLOCK_FRAMES * channels).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.interleaved.clear();
        match self.spec.sample_format {
            hound::SampleFormat::Float => {
                for sample in self.reader.samples::<f32>().take(want) {
                    self.interleaved
                        .push(sample.map_err(|e| map_read_error(&self.path, e))?);
                }
            }
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (self.spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                for sample in self.reader.samples::<i32>().take(want) {
                    let value = sample.map_err(|e| map_read_error(&self.path, e))?;
                    self.interleaved.push(value as f32 * scale);
                }
            }
        }
        self.remaining -= self.interleaved.len() as u64;
        if self.interleaved.len() < want {
            return Err(AudioError::Truncated {
                path: self.path.clone(),
            });
        }
        // A trailing partial frame (data size not a multiple of the frame size) is dropped.
        let whole = self.interleaved.len() - self.interleaved.len() % channels;
        if channels == 1 {
            out.extend_from_slice(&self.interleaved[..whole]);
        } else {
            out.extend(mix_to_mono(&self.interleaved[..whole], channels));
        }
        Ok(self.remaining >= channels as u64)
    }

    fn info(&self) -> AudioInfo {
        AudioInfo {
            source_rate: self.spec.sample_rate,
            channels: self.spec.channels,
            duration_s: f64::from(self.reader.duration()) / f64::from(self.spec.sample_rate),
            format: self.describe(),
            recorded_at: self.recorded_at,
        }
    }
}

fn map_read_error(path: &Path, err: hound::Error) -> AudioError {
    let path_buf = path.to_path_buf();
    match err {
        // hound reports running out of bytes as a plain "Other" error.
        hound::Error::IoError(io_err)
            if io_err.kind() == io::ErrorKind::Other
                && io_err.to_string().contains("enough bytes") =>
        {
            AudioError::Truncated { path: path_buf }
        }
        hound::Error::IoError(io_err) => AudioError::from_io(path, io_err),
        hound::Error::Unsupported => AudioError::UnsupportedWavEncoding {
            path: path_buf,
            encoding: "an encoding other than PCM or float".into(),
        },
        hound::Error::FormatError(reason) => AudioError::Corrupt {
            path: path_buf,
            detail: reason.to_string(),
        },
        other => AudioError::Corrupt {
            path: path_buf,
            detail: other.to_string(),
        },
    }
}

/// One chunk of a RIFF file: its id, where its payload starts and the size its header declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunk {
    id: [u8; 4],
    offset: u64,
    size: u32,
}

/// The chunk list of a RIFF/WAVE file, read from chunk headers only.
#[derive(Debug)]
struct RiffLayout {
    file_len: u64,
    chunks: Vec<Chunk>,
    /// Where the walk stopped: the file length when the chunks account for the whole file.
    walked_to: u64,
    /// The WAVE format tag (and for WAVE_FORMAT_EXTENSIBLE, the sub-format's tag).
    format_tag: Option<u16>,
}

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

impl RiffLayout {
    /// Walk the chunk headers from the start of `file`. Stops at the first header that does not fit.
    fn scan(file: &mut File) -> io::Result<Self> {
        let file_len = file.metadata()?.len();
        file.seek(SeekFrom::Start(12))?;
        let mut chunks = Vec::new();
        let mut offset = 12u64;
        let mut format_tag = None;
        // A real WAV has a handful of chunks; the cap keeps a hostile file from looping for long.
        while offset + 8 <= file_len && chunks.len() < 4096 {
            let mut header = [0u8; 8];
            file.seek(SeekFrom::Start(offset))?;
            file.read_exact(&mut header)?;
            let id = [header[0], header[1], header[2], header[3]];
            let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            // Past the declared data of an interrupted recording there is audio, not a chunk header.
            if !id.iter().all(|b| (0x20..0x7F).contains(b)) {
                break;
            }
            // Only the data chunk may run past the end (a cut-off copy); anything else is not a chunk.
            if &id != b"data" && offset + 8 + u64::from(size) > file_len {
                break;
            }
            let chunk = Chunk {
                id,
                offset: offset + 8,
                size,
            };
            chunks.push(chunk);
            if &id == b"fmt " && size >= 2 {
                let mut fmt = [0u8; 26];
                let len = (size as usize).min(fmt.len());
                file.read_exact(&mut fmt[..len])?;
                let mut tag = u16::from_le_bytes([fmt[0], fmt[1]]);
                if tag == WAVE_FORMAT_EXTENSIBLE && len >= 26 {
                    tag = u16::from_le_bytes([fmt[24], fmt[25]]);
                }
                format_tag = Some(tag);
            }
            // Chunk payloads are padded to an even length.
            offset = chunk.offset + u64::from(size) + u64::from(size & 1);
        }
        Ok(Self {
            file_len,
            chunks,
            walked_to: offset.min(file_len),
            format_tag,
        })
    }

    fn chunk(&self, id: &[u8; 4]) -> Option<Chunk> {
        self.chunks.iter().copied().find(|c| &c.id == id)
    }

    /// Name the encoding if it is one hound cannot read.
    fn unsupported_encoding(&self) -> Option<String> {
        let tag = self.format_tag?;
        let name = match tag {
            WAVE_FORMAT_PCM | WAVE_FORMAT_IEEE_FLOAT => return None,
            0x0002 => "Microsoft ADPCM".to_string(),
            0x0006 => "A-law".to_string(),
            0x0007 => "mu-law".to_string(),
            0x0011 => "IMA ADPCM".to_string(),
            0x0031 => "GSM 6.10".to_string(),
            0x0055 => "MP3 inside WAV".to_string(),
            0x0064 | 0x0065 => "G.726 ADPCM".to_string(),
            other => format!("format code 0x{other:04X}"),
        };
        Some(name)
    }

    /// The recording time from a Broadcast WAV `bext` chunk, else a LIST/INFO `ICRD` (creation date).
    fn recorded_at(&self, file: &mut File) -> Option<jiff::Timestamp> {
        if let Some(bext) = self.chunk(b"bext").filter(|c| c.size >= 338) {
            let mut when = [0u8; 18];
            file.seek(SeekFrom::Start(bext.offset + 320)).ok()?;
            file.read_exact(&mut when).ok()?;
            let date = String::from_utf8_lossy(&when[..10]).replace([':', '/', ' ', '_'], "-");
            let time = String::from_utf8_lossy(&when[10..]).replace(['-', '.', ' ', '_'], ":");
            if let Some(ts) = parse_recording_time(&format!("{date}T{time}")) {
                return Some(ts);
            }
        }
        for list in self
            .chunks
            .iter()
            .filter(|c| &c.id == b"LIST" && c.size >= 4)
        {
            let len = (list.size as usize).min(64 * 1024);
            let mut payload = vec![0u8; len];
            file.seek(SeekFrom::Start(list.offset)).ok()?;
            file.read_exact(&mut payload).ok()?;
            if &payload[..4] != b"INFO" {
                continue;
            }
            let mut at = 4;
            while at + 8 <= payload.len() {
                let id = &payload[at..at + 4];
                let size = u32::from_le_bytes([
                    payload[at + 4],
                    payload[at + 5],
                    payload[at + 6],
                    payload[at + 7],
                ]) as usize;
                let end = (at + 8 + size).min(payload.len());
                if id == b"ICRD" {
                    let text = String::from_utf8_lossy(&payload[at + 8..end]).into_owned();
                    return parse_recording_time(&text);
                }
                at = at + 8 + size + (size & 1);
            }
        }
        None
    }
}

/// Default interval between header updates of a growing recording, in seconds of audio.
pub const DEFAULT_FLUSH_INTERVAL_S: f64 = 0.5;

/// A 16-bit mono WAV that grows during live dictation and stays readable if the process dies.
///
/// The file is created owner-only (0600 on Unix) and never over an existing file. Every
/// `flush_interval` of audio the header is rewritten and the data synced to disk, so a crash, a
/// `kill -9` or a power cut loses at most that much audio.
pub struct RecordingWriter {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    /// A second handle on the same file, for syncing to disk (hound does not give its file back).
    sync_handle: File,
    rate: u32,
    samples_written: u64,
    unflushed: usize,
    flush_every: usize,
}

impl RecordingWriter {
    /// Create a new recording at `path` with the given sample rate (normally 16 kHz or the microphone's).
    pub fn create(path: &Path, rate: u32) -> Result<Self, AudioError> {
        check_rate(path, rate)?;
        let mut options = OpenOptions::new();
        options.write(true).read(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => AudioError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => write_error(path, e),
        })?;
        let sync_handle = file.try_clone().map_err(|e| write_error(path, e))?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::new(BufWriter::new(file), spec)
            .map_err(|e| hound_write_error(path, e))?;
        let mut recording = Self {
            path: path.to_path_buf(),
            writer,
            sync_handle,
            rate,
            samples_written: 0,
            unflushed: 0,
            flush_every: 1,
        };
        recording.set_flush_interval(DEFAULT_FLUSH_INTERVAL_S);
        // A valid (empty) file exists from the first moment on.
        recording.flush()?;
        Ok(recording)
    }

    /// Change how much audio may pass between header updates (seconds; at least one sample).
    pub fn set_flush_interval(&mut self, seconds: f64) {
        self.flush_every = ((seconds * f64::from(self.rate)).round() as usize).max(1);
    }

    /// Append mono samples in -1.0..=1.0 (values outside are clipped).
    pub fn append(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        for &sample in samples {
            let value = (sample.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            self.writer
                .write_sample(value)
                .map_err(|e| hound_write_error(&self.path, e))?;
        }
        self.samples_written += samples.len() as u64;
        self.unflushed += samples.len();
        if self.unflushed >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Write everything appended so far, update the header to match, and sync the file to disk.
    pub fn flush(&mut self) -> Result<(), AudioError> {
        self.writer
            .flush()
            .map_err(|e| hound_write_error(&self.path, e))?;
        self.sync_handle
            .sync_data()
            .map_err(|e| write_error(&self.path, e))?;
        self.unflushed = 0;
        Ok(())
    }

    /// Finish the recording and return its path.
    pub fn finalize(self) -> Result<PathBuf, AudioError> {
        let Self {
            path,
            writer,
            sync_handle,
            ..
        } = self;
        writer.finalize().map_err(|e| hound_write_error(&path, e))?;
        sync_handle.sync_all().map_err(|e| write_error(&path, e))?;
        Ok(path)
    }

    /// Samples appended so far (flushed or not).
    pub fn samples_written(&self) -> u64 {
        self.samples_written
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn write_error(path: &Path, err: io::Error) -> AudioError {
    AudioError::Write {
        path: path.to_path_buf(),
        detail: err.to_string(),
    }
}

fn hound_write_error(path: &Path, err: hound::Error) -> AudioError {
    match err {
        hound::Error::IoError(io_err) => write_error(path, io_err),
        other => AudioError::Write {
            path: path.to_path_buf(),
            detail: other.to_string(),
        },
    }
}

/// What [`repair_header`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRepair {
    /// Whether the header was rewritten (false when it already matched the file).
    pub rewritten: bool,
    /// Sample frames the repaired file holds.
    pub frames: u64,
}

/// Make the header of an interrupted recording match the audio actually in the file.
///
/// A crash between two header updates leaves the sizes in the header short of (or, for a cut copy,
/// beyond) the data that is really there. When the `data` chunk is the last one, its size and the RIFF
/// size are recomputed from the file length (rounded down to whole frames, trimming a partial frame).
/// A file whose sizes already agree is left untouched.
pub fn repair_header(path: &Path) -> Result<HeaderRepair, AudioError> {
    let meta = std::fs::metadata(path).map_err(|e| AudioError::from_io(path, e))?;
    if meta.is_dir() {
        return Err(AudioError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| AudioError::from_io(path, e))?;
    let mut magic = [0u8; 12];
    if file.read_exact(&mut magic).is_err() || &magic[0..4] != b"RIFF" || &magic[8..12] != b"WAVE" {
        return Err(AudioError::NotAudio {
            path: path.to_path_buf(),
        });
    }
    let layout = RiffLayout::scan(&mut file).map_err(|e| AudioError::from_io(path, e))?;
    let corrupt = |detail: &str| AudioError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let fmt = layout
        .chunk(b"fmt ")
        .ok_or_else(|| corrupt("no fmt chunk"))?;
    let data = layout
        .chunk(b"data")
        .ok_or_else(|| corrupt("no data chunk"))?;
    let mut fmt_bytes = [0u8; 16];
    file.seek(SeekFrom::Start(fmt.offset))
        .and_then(|_| file.read_exact(&mut fmt_bytes))
        .map_err(|_| corrupt("fmt chunk is cut off"))?;
    let block_align = u64::from(u16::from_le_bytes([fmt_bytes[12], fmt_bytes[13]])).max(1);

    let declared_end = data.offset + u64::from(data.size);
    // Consistent when the declared chunks account for the file exactly (a pad byte aside).
    let header_ok = declared_end <= layout.file_len && layout.walked_to + 1 >= layout.file_len;
    if header_ok {
        return Ok(HeaderRepair {
            rewritten: false,
            frames: u64::from(data.size) / block_align,
        });
    }
    // notedraft writes the data chunk last, so everything after its start is audio.
    let available = layout.file_len - data.offset;
    let data_len = (available - available % block_align).min(u64::from(u32::MAX) - block_align);
    let data_len_u32 = u32::try_from(data_len).map_err(|_| corrupt("recording too long"))?;
    let new_len = data.offset + data_len;
    let riff_size = u32::try_from(new_len - 8).map_err(|_| corrupt("recording too long"))?;
    let write = |file: &mut File| -> io::Result<()> {
        file.set_len(new_len)?;
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff_size.to_le_bytes())?;
        file.seek(SeekFrom::Start(data.offset - 4))?;
        file.write_all(&data_len_u32.to_le_bytes())?;
        file.sync_all()
    };
    write(&mut file).map_err(|e| write_error(path, e))?;
    Ok(HeaderRepair {
        rewritten: true,
        frames: data_len / block_align,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{WHISPER_RATE, load_file};
    use std::f32::consts::TAU;

    fn sine(rate: u32, freq: f32, seconds: f32, amplitude: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        (0..n)
            .map(|i| amplitude * (TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Write `mono` to every channel of a WAV with the given layout, quantised as hound would store it.
    fn write_fixture(
        path: &Path,
        mono: &[f32],
        rate: u32,
        channels: u16,
        bits: u16,
        format: hound::SampleFormat,
    ) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut writer = hound::WavWriter::create(path, spec).unwrap();
        for &s in mono {
            for ch in 0..channels {
                // Channels differ, so that mixing down is really tested: channel k carries s * (1 - 0.1k),
                // averaged back below.
                let v = s * (1.0 - 0.1 * f32::from(ch));
                match (format, bits) {
                    (hound::SampleFormat::Float, _) => writer.write_sample(v).unwrap(),
                    (_, 8) => writer.write_sample((v * 127.0).round() as i8).unwrap(),
                    (_, 16) => writer.write_sample((v * 32767.0).round() as i16).unwrap(),
                    (_, 24) => writer
                        .write_sample((v * 8_388_607.0).round() as i32)
                        .unwrap(),
                    (_, 32) => writer
                        .write_sample((f64::from(v) * 2_147_483_647.0).round() as i32)
                        .unwrap(),
                    _ => unreachable!(),
                }
            }
        }
        writer.finalize().unwrap();
    }

    fn channel_gain(channels: u16) -> f32 {
        (0..channels).map(|k| 1.0 - 0.1 * f32::from(k)).sum::<f32>() / f32::from(channels)
    }

    #[test]
    fn reads_every_common_layout_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let cases: &[(u16, hound::SampleFormat, f32)] = &[
            (8, hound::SampleFormat::Int, 1.0 / 100.0),
            (16, hound::SampleFormat::Int, 1e-4),
            (24, hound::SampleFormat::Int, 1e-6),
            (32, hound::SampleFormat::Int, 1e-6),
            (32, hound::SampleFormat::Float, 1e-6),
        ];
        for &(bits, format, tolerance) in cases {
            for rate in [8_000, 44_100, 96_000] {
                for channels in [1u16, 2, 6] {
                    let mono = sine(rate, 440.0, 0.25, 0.5);
                    let path = dir
                        .path()
                        .join(format!("{bits}-{format:?}-{rate}-{channels}.wav"));
                    write_fixture(&path, &mono, rate, channels, bits, format);
                    let audio = read_wav(&path).unwrap();
                    assert_eq!(audio.rate, rate);
                    assert_eq!(audio.channels, channels);
                    assert_eq!(audio.samples.len(), mono.len(), "{path:?}");
                    let gain = channel_gain(channels);
                    let worst = audio
                        .samples
                        .iter()
                        .zip(&mono)
                        .map(|(got, want)| (got - want * gain).abs())
                        .fold(0.0f32, f32::max);
                    assert!(worst <= tolerance, "{path:?}: worst error {worst}");
                }
            }
        }
    }

    #[test]
    fn load_file_resamples_a_wav_to_16k_with_its_info() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo.wav");
        write_fixture(
            &path,
            &sine(44_100, 1000.0, 2.0, 0.5),
            44_100,
            2,
            16,
            hound::SampleFormat::Int,
        );
        let (samples, info) = load_file(&path).unwrap();
        assert_eq!(samples.len(), 2 * WHISPER_RATE as usize);
        assert_eq!(info.source_rate, 44_100);
        assert_eq!(info.channels, 2);
        assert_eq!(info.format, "WAV, 16-bit PCM");
        assert!((info.duration_s - 2.0).abs() < 1e-9);
        assert_eq!(info.recorded_at, None);
    }

    #[test]
    fn unsupported_rates_are_refused_with_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        for rate in [4_000, 192_000] {
            let path = dir.path().join(format!("{rate}.wav"));
            write_fixture(&path, &[0.0; 100], rate, 1, 16, hound::SampleFormat::Int);
            let err = read_wav(&path).unwrap_err();
            assert!(
                matches!(err, AudioError::UnsupportedRate { rate: r, .. } if r == rate),
                "{err:?}"
            );
            assert!(err.to_string().contains(&format!("{rate} Hz")));
        }
    }

    #[test]
    fn truncated_wav_fails_instead_of_giving_part_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write_fixture(
            &path,
            &sine(16_000, 300.0, 1.0, 0.5),
            16_000,
            1,
            16,
            hound::SampleFormat::Int,
        );
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        let err = read_wav(&path).unwrap_err();
        assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::Truncated { .. }), "{err:?}");
        assert!(err.to_string().contains("cut short"));
    }

    #[test]
    fn wav_cut_inside_its_header_is_not_audio_or_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stub.wav");
        write_fixture(&path, &[0.1; 100], 16_000, 1, 16, hound::SampleFormat::Int);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..20]).unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::Corrupt { .. } | AudioError::Truncated { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn text_renamed_to_wav_is_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("note.wav");
        std::fs::write(&path, "Subjective: client reports improved sleep.\n").unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::NotAudio { .. }), "{err:?}");
    }

    /// A minimal WAV with a non-PCM format tag, as phone and dictaphone exports produce.
    fn write_tagged_wav(path: &Path, tag: u16, bits: u16, payload: &[u8]) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"RIFF");
        bytes.extend_from_slice(&(4 + 8 + 18 + 8 + payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&18u32.to_le_bytes());
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes()); // channels
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes()); // byte rate
        bytes.extend_from_slice(&1u16.to_le_bytes()); // block align
        bytes.extend_from_slice(&bits.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(payload);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn non_pcm_wav_is_named_as_unsupported_encoding() {
        let dir = tempfile::tempdir().unwrap();
        for (tag, name) in [
            (0x0006, "A-law"),
            (0x0007, "mu-law"),
            (0x0011, "IMA ADPCM"),
            (0x0031, "GSM"),
        ] {
            let path = dir.path().join(format!("{tag}.wav"));
            write_tagged_wav(&path, tag, 8, &[0x55; 800]);
            let err = read_wav(&path).unwrap_err();
            match &err {
                AudioError::UnsupportedWavEncoding { encoding, .. } => {
                    assert!(encoding.contains(name), "{encoding}")
                }
                other => panic!("{tag:#x}: {other:?}"),
            }
            assert!(err.to_string().contains("unsupported WAV encoding"));
        }
    }

    #[test]
    fn a_law_wav_is_decoded_through_symphonia_by_load_file() {
        // G.711 A-law: 0xD5 encodes (near) zero; alternate it with a loud code to get a real signal.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alaw.wav");
        let payload: Vec<u8> = (0..8000)
            .map(|i| if i % 2 == 0 { 0xD5 } else { 0xAA })
            .collect();
        write_tagged_wav(&path, 0x0006, 8, &payload);
        let (samples, info) = load_file(&path).unwrap();
        assert_eq!(info.source_rate, 8000);
        assert_eq!(samples.len(), 16_000);
        assert!(samples.as_slice().iter().any(|s| s.abs() > 0.01));
    }

    #[test]
    fn gsm_wav_gives_the_unsupported_encoding_error_from_load_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gsm.wav");
        write_tagged_wav(&path, 0x0031, 0, &[0x11; 650]);
        let err = load_file(&path).unwrap_err();
        assert!(
            matches!(&err, AudioError::UnsupportedWavEncoding { encoding, .. } if encoding.contains("GSM")),
            "{err:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_file_says_permission() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.wav");
        write_fixture(&path, &[0.0; 100], 16_000, 1, 16, hound::SampleFormat::Int);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        if File::open(&path).is_ok() {
            // Running as root: permissions are not enforced, nothing to test.
            return;
        }
        let err = load_file(&path).unwrap_err();
        assert!(
            matches!(err, AudioError::PermissionDenied { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn broadcast_wav_origination_time_is_the_recording_time() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.wav");
        write_fixture(
            &plain,
            &[0.0; 1600],
            16_000,
            1,
            16,
            hound::SampleFormat::Int,
        );
        // Insert a bext chunk between fmt and data, as field recorders write it.
        let bytes = std::fs::read(&plain).unwrap();
        let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
        let mut bext = vec![0u8; 602];
        bext[320..330].copy_from_slice(b"2024-03-05");
        bext[330..338].copy_from_slice(b"10:15:00");
        let mut out = bytes[..data_at].to_vec();
        out.extend_from_slice(b"bext");
        out.extend_from_slice(&(bext.len() as u32).to_le_bytes());
        out.extend_from_slice(&bext);
        out.extend_from_slice(&bytes[data_at..]);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        let path = dir.path().join("bwf.wav");
        std::fs::write(&path, out).unwrap();
        let (samples, info) = load_file(&path).unwrap();
        assert_eq!(samples.len(), 1600);
        let expected = parse_recording_time("2024-03-05T10:15:00").unwrap();
        assert_eq!(info.recorded_at, Some(expected));
    }

    #[test]
    fn writer_creates_an_owner_only_readable_file_that_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.wav");
        let mut writer = RecordingWriter::create(&path, 16_000).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let tone = sine(16_000, 500.0, 1.0, 0.5);
        writer.append(&tone).unwrap();
        assert_eq!(writer.samples_written(), 16_000);
        // Readable while still being written: the flush at 0.5 s kept the header valid.
        let partial = read_wav(&path).unwrap();
        assert!(partial.samples.len() >= 8_000, "{}", partial.samples.len());
        writer.append(&tone).unwrap();
        let finished = writer.finalize().unwrap();
        assert_eq!(finished, path);
        let audio = read_wav(&path).unwrap();
        assert_eq!(audio.rate, 16_000);
        assert_eq!(audio.channels, 1);
        assert_eq!(audio.samples.len(), 32_000);
        let worst = audio
            .samples
            .iter()
            .zip(tone.iter().chain(&tone))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{worst}");
    }

    #[test]
    fn writer_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.wav");
        std::fs::write(&path, b"earlier session").unwrap();
        let err = RecordingWriter::create(&path, 16_000).err().unwrap();
        assert!(matches!(err, AudioError::AlreadyExists { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"earlier session");
    }

    #[test]
    fn killed_writer_leaves_every_flushed_sample_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("killed.wav");
        let mut writer = RecordingWriter::create(&path, 16_000).unwrap();
        writer.set_flush_interval(0.25);
        let tone = sine(16_000, 700.0, 1.3, 0.5);
        for piece in tone.chunks(160) {
            writer.append(piece).unwrap();
        }
        // kill -9: no destructor runs, buffered bytes and the final header update are lost.
        std::mem::forget(writer);
        let audio = read_wav(&path).unwrap();
        // Flushed at 0.25 s steps: 1.25 s of the 1.3 s survive.
        assert_eq!(audio.samples.len(), 20_000);
        assert!((audio.samples[1234] - tone[1234]).abs() < 1e-4);
    }

    #[test]
    fn repair_recovers_audio_written_after_the_last_header_update() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crashed.wav");
        let mut writer = RecordingWriter::create(&path, 16_000).unwrap();
        writer.set_flush_interval(10.0);
        let tone = sine(16_000, 700.0, 1.0, 0.5);
        writer.append(&tone).unwrap();
        writer.flush().unwrap();
        // More audio reaches the file (the buffer fills and is written) but the header is not updated.
        writer.append(&tone).unwrap();
        std::mem::forget(writer);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.len() > 44 + 32_000,
            "buffered data should have reached the file"
        );
        assert_eq!(read_wav(&path).unwrap().samples.len(), 16_000);

        let report = repair_header(&path).unwrap();
        assert!(report.rewritten);
        let expected_frames = (bytes.len() as u64 - 44) / 2;
        assert_eq!(report.frames, expected_frames);
        assert_eq!(
            read_wav(&path).unwrap().samples.len() as u64,
            expected_frames
        );

        let again = repair_header(&path).unwrap();
        assert!(!again.rewritten);
        assert_eq!(again.frames, expected_frames);
    }

    #[test]
    fn repair_trims_a_partial_frame_and_fixes_a_header_that_promised_too_much() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write_fixture(
            &path,
            &sine(16_000, 300.0, 1.0, 0.5),
            16_000,
            2,
            16,
            hound::SampleFormat::Int,
        );
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..44 + 4 * 1000 + 3]).unwrap();
        assert!(matches!(read_wav(&path), Err(AudioError::Truncated { .. })));
        let report = repair_header(&path).unwrap();
        assert_eq!(
            report,
            HeaderRepair {
                rewritten: true,
                frames: 1000
            }
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + 4000);
        assert_eq!(read_wav(&path).unwrap().samples.len(), 1000);
    }

    #[test]
    fn repair_refuses_what_is_not_a_wav() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        std::fs::write(&path, "not a wav at all, just some text").unwrap();
        assert!(matches!(
            repair_header(&path),
            Err(AudioError::NotAudio { .. })
        ));
        assert!(matches!(
            repair_header(&dir.path().join("missing.wav")),
            Err(AudioError::NotFound { .. })
        ));
    }

    #[test]
    fn zero_size_data_chunk_with_audio_after_it_is_reported_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.wav");
        write_fixture(
            &path,
            &[0.25; 1000],
            16_000,
            1,
            16,
            hound::SampleFormat::Int,
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::HeaderStale { .. }), "{err:?}");
        repair_header(&path).unwrap();
        assert_eq!(read_wav(&path).unwrap().samples.len(), 1000);
    }
}

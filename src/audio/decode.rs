//! The only user of symphonia: phone and compressed formats (M4A/AAC, MP3, FLAC, Ogg) into mono f32.
//!
//! symphonia demuxes every container and decodes AAC, MP3, FLAC, Vorbis and the WAV encodings hound does
//! not read (A-law, mu-law, ADPCM). symphonia has no Opus decoder, so Ogg/Opus packets go to the pure-Rust
//! `opus-rs` decoder here. Decoding is block by block (one packet at a time), and the recording time is
//! taken from metadata when the file carries it (MP4 creation time, ID3/Vorbis/iTunes date tags).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_AAC, CODEC_ID_AC3, CODEC_ID_ALAC, CODEC_ID_EAC3, CODEC_ID_FLAC, CODEC_ID_MP1,
    CODEC_ID_MP2, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_MULAW,
    CODEC_ID_SPEEX, CODEC_ID_VORBIS, CODEC_ID_WMA,
};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::{MetadataOptions, MetadataRevision, StandardTag};

use super::{AudioError, AudioInfo, MonoSource, mix_to_mono, parse_recording_time};

/// Largest Opus packet: 120 ms at 48 kHz.
const OPUS_MAX_FRAMES: usize = 5_760;

/// Packets that fail to decode are skipped; more than this many, and more than 1 in 20, means the file is
/// too damaged to give a faithful transcript.
const TOLERATED_BAD_PACKETS: u64 = 8;

/// A compressed (or symphonia-only) audio file being decoded block by block.
pub(crate) struct DecodedSource {
    path: PathBuf,
    reader: Box<dyn FormatReader>,
    track_id: u32,
    decoder: PacketDecoder,
    rate: u32,
    channels: usize,
    format: String,
    declared_duration_s: f64,
    /// Whether the declared length is exact (MPEG audio without a VBR header only estimates it).
    declared_duration_exact: bool,
    recorded_at: Option<jiff::Timestamp>,
    /// Mono samples decoded while opening (to learn the real rate), handed out first.
    carry: Vec<f32>,
    interleaved: Vec<f32>,
    good_packets: u64,
    bad_packets: u64,
    /// Mono samples decoded so far, at the source rate.
    frames_decoded: u64,
    /// Frames still to drop at the start: the encoder's priming that the container's edit list hides
    /// from players (symphonia does not apply MP4 edit lists yet).
    priming_left: u64,
    ended: bool,
}

enum PacketDecoder {
    Symphonia(Box<dyn AudioDecoder>),
    Opus(OpusStream),
}

struct OpusStream {
    decoder: Box<opus_rs::OpusDecoder>,
    channels: usize,
    /// Frames still to drop at the start (the encoder's pre-skip).
    pre_skip_left: usize,
    /// Linear gain from the Ogg Opus header's output gain.
    gain: f32,
    pcm: Vec<f32>,
}

impl DecodedSource {
    pub(crate) fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|e| AudioError::from_io(path, e))?;
        let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let mut reader = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| map_open_error(path, e))?;

        let Some(track) = reader.default_track(TrackType::Audio).cloned() else {
            return Err(if reader.tracks().is_empty() {
                AudioError::NotAudio {
                    path: path.to_path_buf(),
                }
            } else {
                AudioError::NoAudioTrack {
                    path: path.to_path_buf(),
                }
            });
        };
        let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
            return Err(AudioError::NoAudioTrack {
                path: path.to_path_buf(),
            });
        };
        let codec_name = codec_label(params.codec);
        let container = container_label(reader.format_info().short_name);
        let format = if container == codec_name {
            container.to_string()
        } else {
            format!("{container} ({codec_name})")
        };

        let decoder = if params.codec == CODEC_ID_OPUS {
            let channels = params.channels.as_ref().map_or(0, |c| c.count());
            if !(1..=2).contains(&channels) {
                return Err(AudioError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    codec: format!("{channels}-channel Opus"),
                });
            }
            let decoder = opus_rs::OpusDecoder::new(48_000, channels).map_err(|detail| {
                AudioError::Corrupt {
                    path: path.to_path_buf(),
                    detail: detail.to_string(),
                }
            })?;
            PacketDecoder::Opus(OpusStream {
                decoder: Box::new(decoder),
                channels,
                pre_skip_left: track.delay.unwrap_or(0) as usize,
                gain: opus_output_gain(params.extra_data.as_deref()),
                pcm: vec![0.0; OPUS_MAX_FRAMES * channels],
            })
        } else {
            if params.codec == CODEC_ID_NULL_AUDIO {
                return Err(AudioError::UnsupportedCodec {
                    path: path.to_path_buf(),
                    codec: "an unknown kind of".into(),
                });
            }
            let decoder = symphonia::default::get_codecs()
                .make_audio_decoder(&params, &AudioDecoderOptions::default())
                .map_err(|e| match e {
                    SymphoniaError::Unsupported(_) => AudioError::UnsupportedCodec {
                        path: path.to_path_buf(),
                        codec: codec_name.to_string(),
                    },
                    other => AudioError::Corrupt {
                        path: path.to_path_buf(),
                        detail: other.to_string(),
                    },
                })?;
            PacketDecoder::Symphonia(decoder)
        };

        let declared_duration_s = match (track.time_base, track.duration, track.num_frames) {
            (Some(tb), Some(dur), _) => tb.calc_duration(dur).map_or(0.0, |t| t.as_secs_f64()),
            (_, _, Some(frames)) => params
                .sample_rate
                .map_or(0.0, |rate| frames as f64 / f64::from(rate)),
            _ => 0.0,
        };
        let mut recorded_at = recording_time_from_tags(reader.as_mut());
        if recorded_at.is_none() && reader.format_info().short_name == "isomp4" {
            recorded_at = mp4_creation_time(path);
        }

        let priming_frames = match &decoder {
            PacketDecoder::Symphonia(_) if reader.format_info().short_name == "isomp4" => {
                mp4_priming_frames(path, params.sample_rate.unwrap_or(0)).unwrap_or(0)
            }
            _ => 0,
        };
        let declared_duration_s = match params.sample_rate {
            Some(rate) if rate > 0 => {
                (declared_duration_s - priming_frames as f64 / f64::from(rate)).max(0.0)
            }
            _ => declared_duration_s,
        };
        let declared_duration_exact = !matches!(
            reader.format_info().short_name,
            "mp1" | "mp2" | "mp3" | "aac" | "adts"
        );
        let mut source = Self {
            path: path.to_path_buf(),
            reader,
            track_id: track.id,
            decoder,
            rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.as_ref().map_or(0, |c| c.count()),
            format,
            declared_duration_s,
            declared_duration_exact,
            recorded_at,
            carry: Vec::new(),
            interleaved: Vec::new(),
            good_packets: 0,
            bad_packets: 0,
            frames_decoded: 0,
            priming_left: priming_frames,
            ended: false,
        };
        // Decode up to the first audio now: it proves the codec works before any long job starts, and the
        // decoded buffer, not the header, is the authority on rate and channels.
        let mut first = Vec::new();
        while first.is_empty() && source.decode_next(&mut first)? {}
        if source.rate == 0 || source.channels == 0 {
            return Err(AudioError::Corrupt {
                path: path.to_path_buf(),
                detail: "no sample rate or channel count in the stream".into(),
            });
        }
        source.carry = first;
        Ok(source)
    }

    /// Decode the next packet of our track, appending mono samples to `out`; `Ok(false)` at the end.
    fn decode_next(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        if self.ended {
            return Ok(false);
        }
        let packet = match self.reader.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymphoniaError::ResetRequired) => return self.end(),
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(AudioError::Truncated {
                    path: self.path.clone(),
                });
            }
            Err(SymphoniaError::IoError(e)) => return Err(AudioError::from_io(&self.path, e)),
            Err(other) => {
                return Err(AudioError::Corrupt {
                    path: self.path.clone(),
                    detail: other.to_string(),
                });
            }
        };
        if packet.track_id != self.track_id {
            return Ok(true);
        }
        self.interleaved.clear();
        let decoded = match &mut self.decoder {
            PacketDecoder::Symphonia(decoder) => match decoder.decode(&packet) {
                Ok(buffer) => {
                    let spec = buffer.spec();
                    let (rate, channels) = (spec.rate(), spec.channels().count());
                    buffer.copy_to_vec_interleaved::<f32>(&mut self.interleaved);
                    Ok((rate, channels))
                }
                // Before any packet has decoded this is the codec itself; later it is a damaged packet.
                Err(SymphoniaError::Unsupported(_)) if self.good_packets == 0 => {
                    return Err(AudioError::UnsupportedCodec {
                        path: self.path.clone(),
                        codec: codec_label(decoder.codec_params().codec).to_string(),
                    });
                }
                Err(SymphoniaError::ResetRequired) => {
                    decoder.reset();
                    return Ok(true);
                }
                Err(e) => Err(e.to_string()),
            },
            PacketDecoder::Opus(opus) => opus
                .decode(
                    &packet.data,
                    packet.trim_start.get() as usize,
                    packet.trim_end.get() as usize,
                    &mut self.interleaved,
                )
                .map(|()| (48_000, opus.channels)),
        };
        match decoded {
            Ok((rate, channels)) => {
                if self.good_packets == 0 && self.rate == 0 {
                    self.rate = rate;
                }
                if self.good_packets == 0 && self.channels == 0 {
                    self.channels = channels;
                }
                if rate != self.rate || channels == 0 {
                    return Err(AudioError::UnsupportedCodec {
                        path: self.path.clone(),
                        codec: format!("{} that changes sample rate part-way,", self.format),
                    });
                }
                self.good_packets += 1;
                let before = out.len();
                if channels == 1 {
                    out.extend_from_slice(&self.interleaved);
                } else {
                    let whole = self.interleaved.len() - self.interleaved.len() % channels;
                    out.extend(mix_to_mono(&self.interleaved[..whole], channels));
                }
                if self.priming_left > 0 {
                    let drop = self.priming_left.min((out.len() - before) as u64) as usize;
                    out.drain(before..before + drop);
                    self.priming_left -= drop as u64;
                }
                self.frames_decoded += (out.len() - before) as u64;
            }
            Err(detail) => {
                self.bad_packets += 1;
                tracing::warn!(path = %self.path.display(), %detail, "skipped an undecodable packet");
                if self.bad_packets > TOLERATED_BAD_PACKETS
                    && self.bad_packets * 20 > self.good_packets
                {
                    return Err(AudioError::Corrupt {
                        path: self.path.clone(),
                        detail: format!("{} packets could not be decoded", self.bad_packets),
                    });
                }
            }
        }
        Ok(true)
    }

    fn end(&mut self) -> Result<bool, AudioError> {
        self.ended = true;
        if self.good_packets == 0 && self.bad_packets > 0 {
            return Err(AudioError::Corrupt {
                path: self.path.clone(),
                detail: "no packet could be decoded".into(),
            });
        }
        // A demuxer that loses sync in damaged data skips ahead silently; the shortfall against the
        // length the container declares is what shows it.
        let decoded_s = self.frames_decoded as f64 / f64::from(self.rate.max(1));
        let missing_s = self.declared_duration_s - decoded_s;
        if self.declared_duration_exact
            && self.declared_duration_s > 0.0
            && missing_s > (0.02 * self.declared_duration_s).max(0.25)
        {
            return Err(AudioError::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "only {decoded_s:.1} s of the {:.1} s the file declares could be decoded",
                    self.declared_duration_s
                ),
            });
        }
        Ok(false)
    }
}

impl MonoSource for DecodedSource {
    fn rate(&self) -> u32 {
        self.rate
    }

    fn read_block(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        if !self.carry.is_empty() {
            out.append(&mut self.carry);
            return Ok(true);
        }
        // A few packets per block keeps the per-block overhead low without holding much audio.
        let target = out.len() + 8_192;
        while out.len() < target {
            if !self.decode_next(out)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn info(&self) -> AudioInfo {
        AudioInfo {
            source_rate: self.rate,
            channels: u16::try_from(self.channels).unwrap_or(u16::MAX),
            duration_s: self.declared_duration_s,
            format: self.format.clone(),
            recorded_at: self.recorded_at,
        }
    }
}

impl OpusStream {
    /// Decode one packet at 48 kHz into `out`, dropping pre-skip and the demuxer's trims.
    fn decode(
        &mut self,
        data: &[u8],
        trim_start: usize,
        trim_end: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), String> {
        let frames = self
            .decoder
            .decode(data, OPUS_MAX_FRAMES, &mut self.pcm)
            .map_err(str::to_string)?;
        if trim_start > 0 {
            // The demuxer accounts for pre-skip itself.
            self.pre_skip_left = 0;
        }
        let skip = (trim_start + self.pre_skip_left).min(frames);
        self.pre_skip_left -= self.pre_skip_left.min(frames);
        let end = frames.saturating_sub(trim_end).max(skip);
        let pcm = &self.pcm[skip * self.channels..end * self.channels];
        if self.gain == 1.0 {
            out.extend_from_slice(pcm);
        } else {
            out.extend(pcm.iter().map(|s| s * self.gain));
        }
        Ok(())
    }
}

/// The output gain field of an OpusHead packet (Q7.8 dB at bytes 16..18) as a linear factor.
fn opus_output_gain(head: Option<&[u8]>) -> f32 {
    match head {
        Some(head) if head.len() >= 18 && &head[..8] == b"OpusHead" => {
            let q78 = i16::from_le_bytes([head[16], head[17]]);
            10f32.powf(f32::from(q78) / (20.0 * 256.0))
        }
        _ => 1.0,
    }
}

fn map_open_error(path: &Path, err: SymphoniaError) -> AudioError {
    // An MP4/M4A whose top-level boxes run past the end of the file was cut off while copying or
    // recording (phones write the index last), which is worth saying rather than "not audio".
    if let Some(damage) = mp4_damage(path) {
        return damage;
    }
    let path = path.to_path_buf();
    match err {
        SymphoniaError::Unsupported(_) => AudioError::NotAudio { path },
        // Running out of bytes while looking for a container means no container was found.
        SymphoniaError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            AudioError::NotAudio { path }
        }
        SymphoniaError::IoError(e) => AudioError::from_io(&path, e),
        other => AudioError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

fn container_label(short_name: &str) -> &'static str {
    match short_name {
        "isomp4" => "M4A",
        "mp3" => "MP3",
        "mp2" => "MP2",
        "mp1" => "MP1",
        "flac" => "FLAC",
        "ogg" => "Ogg",
        "wave" | "wav" | "riff" => "WAV",
        "aac" | "adts" => "AAC",
        "mkv" | "matroska" => "Matroska/WebM",
        "aiff" => "AIFF",
        "caf" => "CAF",
        _ => "audio file",
    }
}

fn codec_label(codec: symphonia::core::codecs::audio::AudioCodecId) -> &'static str {
    match codec {
        CODEC_ID_AAC => "AAC",
        CODEC_ID_MP3 => "MP3",
        CODEC_ID_MP2 => "MP2",
        CODEC_ID_MP1 => "MP1",
        CODEC_ID_FLAC => "FLAC",
        CODEC_ID_VORBIS => "Vorbis",
        CODEC_ID_OPUS => "Opus",
        CODEC_ID_ALAC => "Apple Lossless",
        CODEC_ID_PCM_ALAW => "A-law",
        CODEC_ID_PCM_MULAW => "mu-law",
        CODEC_ID_SPEEX => "Speex",
        CODEC_ID_AC3 | CODEC_ID_EAC3 => "Dolby Digital",
        CODEC_ID_WMA => "Windows Media Audio",
        _ => "an unsupported kind of",
    }
}

/// The recording time from the file's tags: recording date/time first, then release/creation dates
/// (phones write the capture time there).
fn recording_time_from_tags(reader: &mut dyn FormatReader) -> Option<jiff::Timestamp> {
    let mut revisions: Vec<MetadataRevision> = Vec::new();
    let mut log = reader.metadata();
    while let Some(revision) = log.pop() {
        revisions.push(revision);
    }
    if let Some(current) = log.current() {
        revisions.push(current.clone());
    }
    let tags = revisions.iter().flat_map(|r| {
        r.media
            .tags
            .iter()
            .chain(r.per_track.iter().flat_map(|t| t.metadata.tags.iter()))
    });
    let mut best: Option<(u8, jiff::Timestamp)> = None;
    for tag in tags {
        let rank = match &tag.std {
            Some(StandardTag::RecordingTime(_)) => 0,
            Some(StandardTag::RecordingDate(_)) => 1,
            Some(StandardTag::OriginalRecordingDate(_)) => 2,
            Some(StandardTag::ReleaseDate(_)) => 3,
            _ => match tag.raw.key.to_ascii_lowercase().as_str() {
                "creation_time" | "com.apple.quicktime.creationdate" => 1,
                "date" | "icrd" | "tdrc" => 2,
                _ => continue,
            },
        };
        let Some(text) = raw_text(&tag.raw.value) else {
            continue;
        };
        if let Some(ts) = parse_recording_time(&text)
            && best.is_none_or(|(r, _)| rank < r)
        {
            best = Some((rank, ts));
        }
    }
    best.map(|(_, ts)| ts)
}

fn raw_text(value: &symphonia::core::meta::RawValue) -> Option<String> {
    use symphonia::core::meta::RawValue;
    match value {
        RawValue::String(s) => Some(s.to_string()),
        RawValue::StringList(list) => list.first().cloned(),
        _ => None,
    }
}

/// Seconds between the MP4 epoch (1904-01-01) and the Unix epoch.
const MP4_EPOCH_OFFSET: i64 = 2_082_844_800;

/// The creation time in the MP4 movie header (`moov/mvhd`), which phones set to the capture time.
/// symphonia parses this box but does not expose it, so the few bytes are read here.
fn mp4_creation_time(path: &Path) -> Option<jiff::Timestamp> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let (moov_start, moov_end) = find_box(&mut file, 0, file_len, b"moov")?;
    let (mvhd_start, _) = find_box(&mut file, moov_start, moov_end, b"mvhd")?;
    file.seek(SeekFrom::Start(mvhd_start)).ok()?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    let seconds = match head[0] {
        0 => i64::from(u32::from_be_bytes([head[4], head[5], head[6], head[7]])),
        1 => i64::try_from(u64::from_be_bytes([
            head[4], head[5], head[6], head[7], head[8], head[9], head[10], head[11],
        ]))
        .ok()?,
        _ => return None,
    };
    // Zero means "not set"; anything before 1990 is a clock that was never set.
    let unix = seconds.checked_sub(MP4_EPOCH_OFFSET)?;
    if unix < 631_152_000 {
        return None;
    }
    jiff::Timestamp::from_second(unix).ok()
}

/// The frames (at `rate`) that the first sound track's edit list skips at the start: AAC encoders prime
/// the decoder with about 1024 to 2112 frames that players never play. `None` where there is no edit list.
fn mp4_priming_frames(path: &Path, rate: u32) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let (moov_start, moov_end) = find_box(&mut file, 0, file_len, b"moov")?;
    let mut at = moov_start;
    while let Some((trak_start, trak_end)) = find_box(&mut file, at, moov_end, b"trak") {
        at = trak_end;
        let Some((mdia_start, mdia_end)) = find_box(&mut file, trak_start, trak_end, b"mdia")
        else {
            continue;
        };
        let Some((hdlr, _)) = find_box(&mut file, mdia_start, mdia_end, b"hdlr") else {
            continue;
        };
        // hdlr: version and flags (4), pre_defined (4), handler type (4).
        if read_at::<4>(&mut file, hdlr + 8)? != *b"soun" {
            continue;
        }
        let (mdhd, _) = find_box(&mut file, mdia_start, mdia_end, b"mdhd")?;
        let timescale_at = if read_at::<1>(&mut file, mdhd)?[0] == 1 {
            20
        } else {
            12
        };
        let timescale = u32::from_be_bytes(read_at::<4>(&mut file, mdhd + timescale_at)?);
        let (edts_start, edts_end) = find_box(&mut file, trak_start, trak_end, b"edts")?;
        let (elst, elst_end) = find_box(&mut file, edts_start, edts_end, b"elst")?;
        let version = read_at::<1>(&mut file, elst)?[0];
        let count = u32::from_be_bytes(read_at::<4>(&mut file, elst + 4)?);
        let entry_len: u64 = if version == 1 { 20 } else { 12 };
        // An empty edit (media time -1) delays the track instead; the first real edit says where it starts.
        for entry in 0..u64::from(count) {
            let entry_at = elst + 8 + entry * entry_len;
            if entry_at + entry_len > elst_end {
                return None;
            }
            let media_time = if version == 1 {
                i64::from_be_bytes(read_at::<8>(&mut file, entry_at + 8)?)
            } else {
                i64::from(i32::from_be_bytes(read_at::<4>(&mut file, entry_at + 4)?))
            };
            if media_time >= 0 {
                if timescale == 0 || rate == 0 {
                    return None;
                }
                let frames = u128::from(media_time.unsigned_abs()) * u128::from(rate)
                    / u128::from(timescale);
                return u64::try_from(frames).ok();
            }
        }
        return None;
    }
    None
}

fn read_at<const N: usize>(file: &mut File, at: u64) -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    file.seek(SeekFrom::Start(at)).ok()?;
    file.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// For a file that starts like an MP4 (`ftyp` box) but could not be opened: `Truncated` when a top-level
/// box runs past the end of the file, else `Corrupt`. `None` for anything that is not an MP4.
fn mp4_damage(path: &Path) -> Option<AudioError> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut head = [0u8; 8];
    file.read_exact(&mut head).ok()?;
    if &head[4..8] != b"ftyp" {
        return None;
    }
    let mut at = 0u64;
    while at + 8 <= file_len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut header = [0u8; 16];
        if file.read_exact(&mut header[..8]).is_err() {
            break;
        }
        let size = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => file_len - at,
            1 => {
                if file.read_exact(&mut header[8..16]).is_err() {
                    break;
                }
                u64::from_be_bytes([
                    header[8], header[9], header[10], header[11], header[12], header[13],
                    header[14], header[15],
                ])
            }
            n => u64::from(n),
        };
        if size < 8 {
            break;
        }
        if at + size > file_len {
            return Some(AudioError::Truncated {
                path: path.to_path_buf(),
            });
        }
        at += size;
    }
    Some(AudioError::Corrupt {
        path: path.to_path_buf(),
        detail: "the MP4 container could not be opened".into(),
    })
}

/// Find the first box of type `kind` between `start` and `end`; returns its payload range.
fn find_box(file: &mut File, start: u64, end: u64, kind: &[u8; 4]) -> Option<(u64, u64)> {
    let mut at = start;
    while at + 8 <= end {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8]).ok()?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let (size, header_len) = match size32 {
            0 => (end - at, 8),
            1 => {
                file.read_exact(&mut header[8..16]).ok()?;
                let large = u64::from_be_bytes([
                    header[8], header[9], header[10], header[11], header[12], header[13],
                    header[14], header[15],
                ]);
                (large, 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header_len {
            return None;
        }
        if &header[4..8] == kind {
            return Some((at + header_len, (at + size).min(end)));
        }
        at = at.checked_add(size)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{AudioError, WHISPER_RATE, load_file, probe_file};
    use std::f64::consts::TAU;
    use std::process::Command;

    /// Run a command-line audio tool that CI installs; a missing tool fails the test with the reason.
    fn run_tool(program: &str, args: &[&str]) {
        let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
            panic!("`{program}` is needed to make test audio ({e}); install it (CI installs ffmpeg and sox)")
        });
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Encode a `seconds`-long sine at `freq` with ffmpeg into `name` inside `dir`.
    fn ffmpeg_sine(dir: &Path, name: &str, freq: u32, seconds: f64, extra: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let source = format!("sine=frequency={freq}:sample_rate=44100:duration={seconds}");
        let mut args = vec![
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            &source,
        ];
        args.extend_from_slice(extra);
        let out = path.to_str().unwrap().to_string();
        args.push(&out);
        run_tool("ffmpeg", &args);
        path
    }

    fn goertzel(x: &[f32], freq: f64) -> f64 {
        let w = TAU * freq / f64::from(WHISPER_RATE);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len() as f64).powi(2)
    }

    fn dominant_frequency(x: &[f32]) -> f64 {
        (100..=4000)
            .step_by(10)
            .map(f64::from)
            .max_by(|a, b| goertzel(x, *a).total_cmp(&goertzel(x, *b)))
            .unwrap()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Check that a decoded 3-second 440 Hz sine (ffmpeg's default amplitude 1/8) came through.
    fn assert_sine_survives(path: &Path, format_starts: &str) {
        let (samples, info) = load_file(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(info.format.starts_with(format_starts), "{}", info.format);
        // Encoders may pad by a frame or so when they have no gapless info.
        assert!(
            (samples.duration_s() - 3.0).abs() < 0.06,
            "{path:?}: {} s",
            samples.duration_s()
        );
        assert!((info.duration_s - samples.duration_s()).abs() < 0.01);
        let body = &samples.as_slice()[8_000..40_000];
        assert_eq!(dominant_frequency(body), 440.0, "{path:?}");
        let level = rms(body);
        let expected = 0.125 / 2f64.sqrt();
        assert!(
            (20.0 * (level / expected).log10()).abs() < 1.0,
            "{path:?}: rms {level}"
        );
    }

    /// The same signal on both channels (ffmpeg's own upmix would lower each by 3 dB).
    const STEREO: &str = "pan=stereo|c0=c0|c1=c0";

    #[test]
    fn decodes_m4a_mp3_flac_vorbis_and_opus() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases = [
            ("memo.m4a", vec!["-c:a", "aac", "-b:a", "64k"], "M4A (AAC)"),
            ("memo.mp3", vec!["-c:a", "libmp3lame", "-b:a", "64k"], "MP3"),
            ("memo.flac", vec!["-c:a", "flac"], "FLAC"),
            (
                "memo.ogg",
                vec!["-c:a", "libvorbis", "-q:a", "3"],
                "Ogg (Vorbis)",
            ),
            (
                "memo.opus",
                vec!["-c:a", "libopus", "-b:a", "32k"],
                "Ogg (Opus)",
            ),
            (
                "stereo.m4a",
                vec!["-af", STEREO, "-c:a", "aac"],
                "M4A (AAC)",
            ),
            (
                "mono8k.mp3",
                vec!["-ar", "8000", "-c:a", "libmp3lame"],
                "MP3",
            ),
            (
                "stereo.opus",
                vec!["-af", STEREO, "-c:a", "libopus"],
                "Ogg (Opus)",
            ),
            ("stereo.flac", vec!["-af", STEREO, "-c:a", "flac"], "FLAC"),
        ];
        for (name, args, format) in cases {
            let path = ffmpeg_sine(d, name, 440, 3.0, &args);
            assert_sine_survives(&path, format);
        }
    }

    /// Where the loudest 5 ms of a decoded file falls, in seconds.
    fn loudest_moment_s(path: &Path) -> f64 {
        let (samples, _) = load_file(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let window = 80;
        let loudest = samples
            .as_slice()
            .windows(window)
            .step_by(8)
            .enumerate()
            .max_by(|a, b| rms(a.1).total_cmp(&rms(b.1)))
            .unwrap()
            .0;
        (loudest * 8 + window / 2) as f64 / f64::from(WHISPER_RATE)
    }

    #[test]
    fn aac_priming_is_skipped_so_timestamps_match_the_player() {
        let dir = tempfile::tempdir().unwrap();
        let mut at = Vec::new();
        for (name, codec) in [("click.wav", "pcm_s16le"), ("click.m4a", "aac")] {
            let path = dir.path().join(name);
            run_tool(
                "ffmpeg",
                &[
                    "-hide_banner",
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "lavfi",
                    "-i",
                    "aevalsrc=if(between(t\\,0.5\\,0.503)\\,0.8*sin(2*PI*1000*t)\\,0):s=44100:d=1",
                    "-c:a",
                    codec,
                    path.to_str().unwrap(),
                ],
            );
            at.push(loudest_moment_s(&path));
        }
        assert!((at[0] - 0.5015).abs() < 0.004, "WAV click at {} s", at[0]);
        // Without the edit list the click would come 1024 frames (23 ms) late.
        assert!(
            (at[1] - at[0]).abs() < 0.006,
            "WAV {} s, M4A {} s",
            at[0],
            at[1]
        );
    }

    #[test]
    fn content_decides_not_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        // An MP3 saved as .wav, and a WAV saved as .m4a.
        let mp3 = ffmpeg_sine(
            dir.path(),
            "mislabelled.mp3",
            440,
            3.0,
            &["-c:a", "libmp3lame"],
        );
        let as_wav = dir.path().join("mislabelled.wav");
        std::fs::rename(&mp3, &as_wav).unwrap();
        assert_sine_survives(&as_wav, "MP3");
        let wav = ffmpeg_sine(dir.path(), "real.wav", 440, 3.0, &["-c:a", "pcm_s16le"]);
        let as_m4a = dir.path().join("real.m4a");
        std::fs::rename(&wav, &as_m4a).unwrap();
        assert_sine_survives(&as_m4a, "WAV");
    }

    #[test]
    fn mu_law_and_adpcm_wavs_decode() {
        let dir = tempfile::tempdir().unwrap();
        for (name, codec) in [
            ("ulaw.wav", "pcm_mulaw"),
            ("ima.wav", "adpcm_ima_wav"),
            ("ms.wav", "adpcm_ms"),
        ] {
            let path = ffmpeg_sine(dir.path(), name, 440, 3.0, &["-ar", "8000", "-c:a", codec]);
            let (samples, info) = load_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(info.source_rate, 8000);
            assert!(
                (samples.duration_s() - 3.0).abs() < 0.07,
                "{name}: {}",
                samples.duration_s()
            );
            assert_eq!(
                dominant_frequency(&samples.as_slice()[8_000..40_000]),
                440.0,
                "{name}"
            );
        }
    }

    #[test]
    fn recording_time_comes_from_mp4_creation_time_and_id3() {
        let dir = tempfile::tempdir().unwrap();
        let m4a = ffmpeg_sine(
            dir.path(),
            "voice-memo.m4a",
            440,
            1.0,
            &[
                "-c:a",
                "aac",
                "-metadata",
                "creation_time=2024-03-05T10:15:00Z",
            ],
        );
        let expected: jiff::Timestamp = "2024-03-05T10:15:00Z".parse().unwrap();
        assert_eq!(probe_file(&m4a).unwrap().recorded_at, Some(expected));
        assert_eq!(load_file(&m4a).unwrap().1.recorded_at, Some(expected));

        let mp3 = ffmpeg_sine(
            dir.path(),
            "dictaphone.mp3",
            440,
            1.0,
            &[
                "-c:a",
                "libmp3lame",
                "-id3v2_version",
                "4",
                "-metadata",
                "date=2024-03-05T10:15:00Z",
            ],
        );
        assert_eq!(probe_file(&mp3).unwrap().recorded_at, Some(expected));

        let plain = ffmpeg_sine(dir.path(), "plain.mp3", 440, 1.0, &["-c:a", "libmp3lame"]);
        assert_eq!(probe_file(&plain).unwrap().recorded_at, None);
    }

    #[test]
    fn probe_reports_declared_length_without_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let m4a = ffmpeg_sine(dir.path(), "a.m4a", 440, 2.0, &["-c:a", "aac"]);
        let info = probe_file(&m4a).unwrap();
        assert_eq!(info.source_rate, 44_100);
        assert_eq!(info.channels, 1);
        assert!((info.duration_s - 2.0).abs() < 0.05, "{}", info.duration_s);
    }

    #[test]
    fn damaged_files_give_a_clear_error_not_audio() {
        let dir = tempfile::tempdir().unwrap();
        for (name, args) in [
            ("cut.m4a", vec!["-c:a", "aac"]),
            ("cut.flac", vec!["-c:a", "flac"]),
            ("cut.ogg", vec!["-c:a", "libvorbis"]),
        ] {
            let path = ffmpeg_sine(dir.path(), name, 440, 3.0, &args);
            let bytes = std::fs::read(&path).unwrap();
            // Keep the headers, wreck the audio data in the middle.
            let mut wrecked = bytes.clone();
            let (a, b) = (bytes.len() / 3, 2 * bytes.len() / 3);
            for (i, byte) in wrecked[a..b].iter_mut().enumerate() {
                *byte = (i as u8).wrapping_mul(151).wrapping_add(7);
            }
            std::fs::write(&path, &wrecked).unwrap();
            match load_file(&path) {
                Err(AudioError::Corrupt { .. } | AudioError::Truncated { .. }) => {}
                Err(other) => panic!("{name}: unexpected error {other:?}"),
                Ok((samples, _)) => {
                    panic!("{name}: damaged file decoded to {} s", samples.duration_s())
                }
            }
        }
    }

    #[test]
    fn cut_off_m4a_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = ffmpeg_sine(dir.path(), "cut.m4a", 440, 3.0, &["-c:a", "aac"]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = load_file(&path).unwrap_err();
        assert!(
            matches!(
                err,
                AudioError::Truncated { .. } | AudioError::Corrupt { .. }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn unsupported_codec_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = ffmpeg_sine(dir.path(), "speech.mka", 440, 1.0, &["-c:a", "libopus"]);
        // Matroska is not among the enabled containers, so this is simply not readable.
        let err = load_file(&path).unwrap_err();
        assert!(matches!(err, AudioError::NotAudio { .. }), "{err:?}");
        let ac3 = ffmpeg_sine(dir.path(), "film.m4a", 440, 1.0, &["-c:a", "ac3"]);
        let err = load_file(&ac3).unwrap_err();
        assert!(
            matches!(&err, AudioError::UnsupportedCodec { codec, .. } if codec == "Dolby Digital"),
            "{err:?}"
        );
        assert!(err.to_string().contains("cannot decode"));
    }

    #[test]
    fn opus_gain_header_is_applied() {
        let mut head = b"OpusHead".to_vec();
        head.extend_from_slice(&[1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0]);
        head.extend_from_slice(&(6 * 256i16).to_le_bytes());
        head.push(0);
        assert!((opus_output_gain(Some(&head)) - 10f32.powf(6.0 / 20.0)).abs() < 1e-4);
        assert_eq!(opus_output_gain(None), 1.0);
    }
}

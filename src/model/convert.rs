//! Converts CTranslate2 (faster-whisper) Whisper weights into the ggml file whisper.cpp loads.
//!
//! The input folder holds `model.bin` (or `model.bin.part1`, `part2`, ... that concatenate to it) and
//! `vocabulary.txt` or `vocabulary.json`. `config.json` is not read: it only carries decoding hints
//! (suppressed tokens, alignment heads, language ids) that whisper.cpp derives itself.
//!
//! The conversion indexes the CTranslate2 file first (validating every header, and that parsing ends exactly
//! at the end of the file), then streams one tensor at a time into a temporary file beside the destination,
//! which is renamed into place only when complete. The output is deterministic: same input, same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use sha2::{Digest, Sha256};

/// ggml's file magic ("ggml" as a little-endian u32).
pub const GGML_MAGIC: u32 = 0x6767_6d6c;
/// The CTranslate2 model.bin layout this converter reads.
const CT2_BINARY_VERSION: u32 = 6;
const CT2_WHISPER_SPEC: &str = "WhisperSpec";
const CT2_WHISPER_REVISION: u32 = 3;
/// whisper.cpp reads the byte-level BPE tokens and makes the special tokens after them itself.
const GGML_TEXT_TOKENS: usize = 50257;
const SAMPLE_RATE: u32 = 16_000;
const N_FFT: usize = 400;
/// ggml counts quantization format versions in the thousands of the ftype field.
const GGML_QNT_VERSION: i32 = 2;
const GGML_QNT_VERSION_FACTOR: i32 = 1000;
/// ggml's q8_0 block: one f16 scale and 32 signed bytes.
const Q8_0_BLOCK: usize = 32;

/// What the converted file stores its large weight matrices as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputType {
    /// 16-bit floats, as the official ggml files.
    #[default]
    F16,
    /// 8-bit blocks with one scale per 32 values: about half the size, measured as accurate as f16.
    Q8_0,
}

impl OutputType {
    /// The `ftype` value in the ggml header.
    fn ftype(self) -> i32 {
        match self {
            OutputType::F16 => 1,
            OutputType::Q8_0 => GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + 7,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OutputType::F16 => "f16",
            OutputType::Q8_0 => "q8_0",
        }
    }
}

/// The model dimensions written into the ggml header, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub ftype: i32,
}

impl Hparams {
    /// Multilingual Whisper models have one more token (51865) than the English-only ones (51864).
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }

    fn to_array(self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }
}

/// What a finished conversion produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvertReport {
    pub out: PathBuf,
    pub hparams: Hparams,
    pub output_type: OutputType,
    /// Weight tensors read from the CTranslate2 file (scalar settings not counted).
    pub source_tensors: usize,
    /// Tensors written to the ggml file.
    pub tensors: usize,
    /// Vocabulary entries written (the byte-level tokens; whisper.cpp adds the special ones).
    pub tokens: usize,
    pub bytes: u64,
    pub sha256: String,
}

/// Why a conversion could not be done. Each message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(
        "the folder {dir} has no model.bin (nor model.bin.part1, model.bin.part2, ...): point --from at the folder of a faster-whisper model"
    )]
    MissingModelFile { dir: PathBuf },
    #[error(
        "the folder {dir} has no vocabulary.txt or vocabulary.json: put the model's vocabulary file next to model.bin"
    )]
    MissingVocabulary { dir: PathBuf },
    #[error(
        "{path} is not a CTranslate2 model file: point --from at the folder of a faster-whisper model"
    )]
    NotCtranslate2 { path: PathBuf },
    #[error(
        "{path} uses CTranslate2 file format version {found}, but only version {CT2_BINARY_VERSION} can be converted: get a current faster-whisper copy of the model"
    )]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error(
        "{path} holds a CTranslate2 model of kind \"{found}\" (revision {revision}), not a Whisper model of revision {CT2_WHISPER_REVISION}: point --from at a faster-whisper model"
    )]
    WrongSpec {
        path: PathBuf,
        found: String,
        revision: u32,
    },
    #[error(
        "{path} is cut off (it ends after {length} bytes, in the middle of the model): fetch the model again"
    )]
    Truncated { path: PathBuf, length: u64 },
    #[error(
        "{path} has {extra} unexpected bytes after the end of the model: the file is damaged; fetch the model again"
    )]
    TrailingBytes { path: PathBuf, extra: u64 },
    #[error("{path} is damaged ({detail}): fetch the model again")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} contains \"{name}\", which a standard Whisper model does not have: this model cannot be converted"
    )]
    UnexpectedTensor { path: PathBuf, name: String },
    #[error(
        "{path} lacks \"{name}\", which every Whisper model has: the file is incomplete; fetch the model again"
    )]
    MissingTensor { path: PathBuf, name: String },
    #[error(
        "\"{name}\" in {path} has shape {found:?} where a Whisper model needs {expected:?}: this model cannot be converted"
    )]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        found: Vec<u64>,
        expected: Vec<u64>,
    },
    #[error(
        "\"{name}\" in {path} is stored as {dtype}: only float16 or float32 faster-whisper models can be converted (not int8 ones)"
    )]
    UnsupportedDataType {
        path: PathBuf,
        name: String,
        dtype: &'static str,
    },
    #[error("{path} is not a standard Whisper model ({detail}): this model cannot be converted")]
    UnsupportedModel { path: PathBuf, detail: String },
    #[error("the vocabulary file {path} is damaged ({detail}): fetch the model again")]
    BadVocabulary { path: PathBuf, detail: String },
    #[error("could not read {path} ({source}): check that the file is there and readable")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "could not write {path} ({source}): check that the folder exists, is writable and has free space"
    )]
    Write { path: PathBuf, source: io::Error },
}

/// Convert the faster-whisper model in `from` into a ggml f16 file at `out`.
pub fn convert_dir(from: &Path, out: &Path) -> Result<ConvertReport, ConvertError> {
    convert_dir_as(from, out, OutputType::F16)
}

/// Convert the faster-whisper model in `from` into a ggml file of the given type at `out`.
pub fn convert_dir_as(
    from: &Path,
    out: &Path,
    output_type: OutputType,
) -> Result<ConvertReport, ConvertError> {
    let parts = model_parts(from)?;
    let vocabulary_path = vocabulary_file(from)?;
    let model_path = parts[0].clone();
    let reader = MultiFileReader::open(&parts).map_err(|source| ConvertError::Read {
        path: model_path.clone(),
        source,
    })?;
    let mut source = Ct2Source::new(BufReader::with_capacity(1 << 20, reader), model_path)?;
    let index = source.index()?;
    let plan = plan_tensors(&index, &mut source, output_type)?;
    let vocabulary = read_vocabulary(&vocabulary_path)?;
    if vocabulary.len() != plan.hparams.n_vocab as usize {
        return Err(ConvertError::BadVocabulary {
            path: vocabulary_path,
            detail: format!(
                "it has {} entries but the model has {} tokens",
                vocabulary.len(),
                plan.hparams.n_vocab
            ),
        });
    }
    let tokens = decode_tokens(&vocabulary[..GGML_TEXT_TOKENS], &vocabulary_path)?;
    let filters = mel_filters(SAMPLE_RATE, N_FFT, plan.hparams.n_mels as usize);

    let (bytes, sha256) = write_atomically(out, |w| {
        write_header(w, &plan.hparams, &filters, &tokens)?;
        for tensor in &plan.tensors {
            source.write_tensor(&index, tensor, w)?;
        }
        Ok(())
    })?;

    Ok(ConvertReport {
        out: out.to_path_buf(),
        hparams: plan.hparams,
        output_type,
        source_tensors: index
            .variables
            .iter()
            .filter(|v| !v.dims.is_empty())
            .count(),
        tensors: plan.tensors.len(),
        tokens: tokens.len(),
        bytes,
        sha256,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Input files

/// `model.bin`, or its numbered parts in order.
fn model_parts(dir: &Path) -> Result<Vec<PathBuf>, ConvertError> {
    let whole = dir.join("model.bin");
    if whole.is_file() {
        return Ok(vec![whole]);
    }
    let parts: Vec<PathBuf> = (1..)
        .map(|n| dir.join(format!("model.bin.part{n}")))
        .take_while(|p| p.is_file())
        .collect();
    if parts.is_empty() {
        return Err(ConvertError::MissingModelFile {
            dir: dir.to_path_buf(),
        });
    }
    Ok(parts)
}

fn vocabulary_file(dir: &Path) -> Result<PathBuf, ConvertError> {
    ["vocabulary.txt", "vocabulary.json"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| ConvertError::MissingVocabulary {
            dir: dir.to_path_buf(),
        })
}

/// Several files read as one, so a model split into parts is never joined on disk.
struct MultiFileReader {
    files: Vec<File>,
    /// Offset of each file's first byte in the joined stream, plus the total length at the end.
    starts: Vec<u64>,
    pos: u64,
}

impl MultiFileReader {
    fn open(paths: &[PathBuf]) -> io::Result<Self> {
        let mut files = Vec::with_capacity(paths.len());
        let mut starts = vec![0];
        let mut total = 0;
        for path in paths {
            let file = File::open(path)?;
            total += file.metadata()?.len();
            files.push(file);
            starts.push(total);
        }
        Ok(Self {
            files,
            starts,
            pos: 0,
        })
    }

    fn len(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }
}

impl Read for MultiFileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The file holding `pos`: the last one starting at or before it.
        let Some(i) = (0..self.files.len())
            .rev()
            .find(|&i| self.starts[i] <= self.pos && self.pos < self.starts[i + 1])
        else {
            return Ok(0);
        };
        let local = self.pos - self.starts[i];
        let room = (self.starts[i + 1] - self.pos).min(buf.len() as u64) as usize;
        let file = &mut self.files[i];
        file.seek(SeekFrom::Start(local))?;
        let n = file.read(&mut buf[..room])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for MultiFileReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the model",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// CTranslate2 model.bin

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ct2Type {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Type {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Ct2Type::F32,
            1 => Ct2Type::I8,
            2 => Ct2Type::I16,
            3 => Ct2Type::I32,
            4 => Ct2Type::F16,
            5 => Ct2Type::Bf16,
            _ => return None,
        })
    }

    fn size(self) -> u64 {
        match self {
            Ct2Type::I8 => 1,
            Ct2Type::I16 | Ct2Type::F16 | Ct2Type::Bf16 => 2,
            Ct2Type::F32 | Ct2Type::I32 => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ct2Type::F32 => "float32",
            Ct2Type::I8 => "int8",
            Ct2Type::I16 => "int16",
            Ct2Type::I32 => "int32",
            Ct2Type::F16 => "float16",
            Ct2Type::Bf16 => "bfloat16",
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Ct2Type::F32 | Ct2Type::F16 | Ct2Type::Bf16)
    }
}

/// One variable's header and where its data lies.
#[derive(Clone, Debug, PartialEq)]
struct Ct2Variable {
    name: String,
    dims: Vec<u64>,
    dtype: Ct2Type,
    offset: u64,
    nbytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
struct Ct2Index {
    variables: Vec<Ct2Variable>,
    /// Name -> index into `variables`, aliases included.
    by_name: BTreeMap<String, usize>,
}

/// The CTranslate2 file being read, with the path used in error messages.
struct Ct2Source<R> {
    reader: R,
    path: PathBuf,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Ct2Source<R> {
    fn new(mut reader: R, path: PathBuf) -> Result<Self, ConvertError> {
        let mut ends = || -> io::Result<(u64, u64)> {
            let len = reader.seek(SeekFrom::End(0))?;
            Ok((len, reader.seek(SeekFrom::Start(0))?))
        };
        match ends() {
            Ok((len, pos)) => Ok(Self {
                reader,
                path,
                pos,
                len,
            }),
            Err(source) => Err(ConvertError::Read { path, source }),
        }
    }

    fn read_error(&self, source: io::Error) -> ConvertError {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            ConvertError::Truncated {
                path: self.path.clone(),
                length: self.len,
            }
        } else {
            ConvertError::Read {
                path: self.path.clone(),
                source,
            }
        }
    }

    fn corrupt(&self, detail: impl Into<String>) -> ConvertError {
        ConvertError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ConvertError> {
        self.reader
            .read_exact(buf)
            .map_err(|e| self.read_error(e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn read_u8(&mut self) -> Result<u8, ConvertError> {
        let mut b = [0; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn read_u16(&mut self) -> Result<u16, ConvertError> {
        let mut b = [0; 2];
        self.read_exact(&mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    fn read_u32(&mut self) -> Result<u32, ConvertError> {
        let mut b = [0; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A u16 length that counts a trailing NUL, the UTF-8 bytes, then the NUL.
    fn read_str(&mut self) -> Result<Option<String>, ConvertError> {
        let len = self.read_u16()? as usize;
        let mut bytes = vec![0; len];
        self.read_exact(&mut bytes)?;
        if bytes.pop() != Some(0) {
            return Ok(None);
        }
        Ok(String::from_utf8(bytes).ok())
    }

    fn skip(&mut self, n: u64) -> Result<(), ConvertError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.len);
        let Some(end) = end else {
            return Err(ConvertError::Truncated {
                path: self.path.clone(),
                length: self.len,
            });
        };
        self.seek_to(end)
    }

    fn seek_to(&mut self, offset: u64) -> Result<(), ConvertError> {
        if offset != self.pos {
            self.reader
                .seek(SeekFrom::Start(offset))
                .map_err(|e| self.read_error(e))?;
            self.pos = offset;
        }
        Ok(())
    }

    /// Read every header, check the file ends exactly where the format says, and remember where the data is.
    fn index(&mut self) -> Result<Ct2Index, ConvertError> {
        let not_ct2 = |path: &Path| ConvertError::NotCtranslate2 {
            path: path.to_path_buf(),
        };
        let version = match self.read_u32() {
            Ok(v) => v,
            Err(ConvertError::Truncated { .. }) => return Err(not_ct2(&self.path)),
            Err(e) => return Err(e),
        };
        // Real CTranslate2 versions are small numbers; anything else is some other kind of file.
        if version == 0 || version > 64 {
            return Err(not_ct2(&self.path));
        }
        if version != CT2_BINARY_VERSION {
            return Err(ConvertError::UnsupportedVersion {
                path: self.path.clone(),
                found: version,
            });
        }
        let spec = match self.read_str() {
            Ok(Some(s)) => s,
            Ok(None) | Err(ConvertError::Truncated { .. }) => return Err(not_ct2(&self.path)),
            Err(e) => return Err(e),
        };
        let revision = self.read_u32()?;
        if spec != CT2_WHISPER_SPEC || revision != CT2_WHISPER_REVISION {
            return Err(ConvertError::WrongSpec {
                path: self.path.clone(),
                found: spec,
                revision,
            });
        }

        let count = self.read_u32()?;
        let mut variables = Vec::new();
        let mut by_name = BTreeMap::new();
        for _ in 0..count {
            let name = self
                .read_str()?
                .ok_or_else(|| self.corrupt("a tensor name is not readable text"))?;
            let ndim = self.read_u8()?;
            let mut dims = Vec::with_capacity(ndim as usize);
            for _ in 0..ndim {
                dims.push(u64::from(self.read_u32()?));
            }
            let code = self.read_u8()?;
            let dtype = Ct2Type::from_code(code)
                .ok_or_else(|| self.corrupt(format!("\"{name}\" has unknown data type {code}")))?;
            let nbytes = u64::from(self.read_u32()?);
            let elements: u64 = dims.iter().product();
            if elements * dtype.size() != nbytes {
                return Err(self.corrupt(format!(
                    "\"{name}\" declares {nbytes} bytes for shape {dims:?} of {}",
                    dtype.name()
                )));
            }
            let offset = self.pos;
            self.skip(nbytes)?;
            if by_name.insert(name.clone(), variables.len()).is_some() {
                return Err(self.corrupt(format!("\"{name}\" appears twice")));
            }
            variables.push(Ct2Variable {
                name,
                dims,
                dtype,
                offset,
                nbytes,
            });
        }
        let aliases = self.read_u32()?;
        for _ in 0..aliases {
            let alias = self
                .read_str()?
                .ok_or_else(|| self.corrupt("an alias name is not readable text"))?;
            let target = self
                .read_str()?
                .ok_or_else(|| self.corrupt("an alias target is not readable text"))?;
            let Some(&i) = by_name.get(&target) else {
                return Err(
                    self.corrupt(format!("alias \"{alias}\" points at missing \"{target}\""))
                );
            };
            by_name.entry(alias).or_insert(i);
        }
        if self.pos != self.len {
            return Err(ConvertError::TrailingBytes {
                path: self.path.clone(),
                extra: self.len - self.pos,
            });
        }
        Ok(Ct2Index { variables, by_name })
    }

    /// The integer value of a scalar setting such as `encoder/num_heads`.
    fn read_scalar(&mut self, var: &Ct2Variable) -> Result<i64, ConvertError> {
        if !var.dims.is_empty() {
            return Err(ConvertError::ShapeMismatch {
                path: self.path.clone(),
                name: var.name.clone(),
                found: var.dims.clone(),
                expected: vec![],
            });
        }
        self.seek_to(var.offset)?;
        let mut b = [0u8; 4];
        let n = var.nbytes as usize;
        self.read_exact(&mut b[..n])?;
        Ok(match var.dtype {
            Ct2Type::I8 => i64::from(b[0] as i8),
            Ct2Type::I16 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            Ct2Type::I32 => i64::from(i32::from_le_bytes(b)),
            other => {
                return Err(ConvertError::UnsupportedDataType {
                    path: self.path.clone(),
                    name: var.name.clone(),
                    dtype: other.name(),
                });
            }
        })
    }

    /// Read `count` values starting at element `first` of a float variable, as f32.
    fn read_floats(
        &mut self,
        var: &Ct2Variable,
        first: u64,
        count: usize,
    ) -> Result<Vec<f32>, ConvertError> {
        let size = var.dtype.size();
        self.seek_to(var.offset + first * size)?;
        let mut raw = vec![0u8; count * size as usize];
        self.read_exact(&mut raw)?;
        Ok(match var.dtype {
            Ct2Type::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2Type::F16 => raw
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2Type::Bf16 => raw
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(ConvertError::UnsupportedDataType {
                    path: self.path.clone(),
                    name: var.name.clone(),
                    dtype: other.name(),
                });
            }
        })
    }

    /// Stream one planned tensor (header and data) into the ggml file.
    fn write_tensor(
        &mut self,
        index: &Ct2Index,
        tensor: &PlannedTensor,
        w: &mut dyn Write,
    ) -> Result<(), WriteFailure> {
        let var = &index.variables[tensor.source];
        w.write_all(&(tensor.ne.len() as i32).to_le_bytes())?;
        w.write_all(&(tensor.name.len() as i32).to_le_bytes())?;
        w.write_all(&tensor.ggml_type.code().to_le_bytes())?;
        for &n in &tensor.ne {
            w.write_all(&(n as i32).to_le_bytes())?;
        }
        w.write_all(tensor.name.as_bytes())?;

        // Whole rows at a time keep memory to about a megabyte whatever the tensor size, and let q8_0
        // blocks (which never cross a row) be formed directly.
        let row = tensor.ne[0] as usize;
        let rows_per_chunk = ((1 << 18) / row).max(1);
        let mut done = 0;
        while done < tensor.count {
            let n = (rows_per_chunk * row).min(tensor.count - done);
            let first = tensor.first + done as u64;
            if var.dtype == Ct2Type::F16 && tensor.ggml_type == GgmlType::F16 {
                // Same encoding on both sides: copy the bytes unchanged.
                self.seek_to(var.offset + first * 2)?;
                let mut raw = vec![0u8; n * 2];
                self.read_exact(&mut raw)?;
                w.write_all(&raw)?;
            } else {
                let values = self.read_floats(var, first, n)?;
                w.write_all(&encode(&values, tensor.ggml_type, row))?;
            }
            done += n;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tensor plan: which ggml tensor comes from which part of which CTranslate2 variable

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GgmlType {
    F32,
    F16,
    Q8_0,
}

impl GgmlType {
    fn code(self) -> i32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q8_0 => 8,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct PlannedTensor {
    name: String,
    /// Index into the CTranslate2 variables.
    source: usize,
    /// First element taken from the source (row-major), and how many.
    first: u64,
    count: usize,
    /// ggml dimensions, innermost first.
    ne: Vec<u64>,
    ggml_type: GgmlType,
}

struct Plan {
    hparams: Hparams,
    tensors: Vec<PlannedTensor>,
}

/// How a tensor is stored in the ggml file, which decides its type there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Layer norm weights and biases, linear biases: f32.
    Vector,
    /// Conv biases: reshaped to [S, 1], f32.
    ConvBias,
    /// Positional embeddings: f32.
    Positional,
    /// Conv kernels: f16 whatever the output type (whisper.cpp's im2col needs f16).
    Conv,
    /// 2-D weights: the output type.
    Matrix,
}

/// Builds the tensor list, checking names and shapes as it goes and marking what it used.
struct Planner<'a> {
    index: &'a Ct2Index,
    path: &'a Path,
    used: BTreeSet<usize>,
    tensors: Vec<PlannedTensor>,
    matrix_type: GgmlType,
}

impl Planner<'_> {
    fn find(&mut self, name: &str) -> Result<usize, ConvertError> {
        let i = *self
            .index
            .by_name
            .get(name)
            .ok_or_else(|| ConvertError::MissingTensor {
                path: self.path.to_path_buf(),
                name: name.to_string(),
            })?;
        self.used.insert(i);
        Ok(i)
    }

    fn var(&self, i: usize) -> &Ct2Variable {
        &self.index.variables[i]
    }

    fn expect(&mut self, name: &str, shape: &[u64]) -> Result<usize, ConvertError> {
        let i = self.find(name)?;
        let var = self.var(i);
        if var.dims != shape {
            return Err(ConvertError::ShapeMismatch {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                found: var.dims.clone(),
                expected: shape.to_vec(),
            });
        }
        if !var.dtype.is_float() {
            return Err(ConvertError::UnsupportedDataType {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                dtype: var.dtype.name(),
            });
        }
        Ok(i)
    }

    /// Add `ggml_name` from elements `first..first+count` of variable `source`, shaped by `role`.
    fn push(
        &mut self,
        ggml_name: String,
        source: usize,
        first: u64,
        rows: &[u64],
        role: Role,
    ) -> Result<(), ConvertError> {
        let count: u64 = rows.iter().product();
        let mut ne: Vec<u64> = rows.iter().rev().copied().collect();
        let ggml_type = match role {
            Role::Vector | Role::Positional => GgmlType::F32,
            Role::ConvBias => {
                ne.insert(0, 1);
                GgmlType::F32
            }
            Role::Conv => GgmlType::F16,
            Role::Matrix => self.matrix_type,
        };
        if ggml_type == GgmlType::Q8_0 && !ne[0].is_multiple_of(Q8_0_BLOCK as u64) {
            return Err(ConvertError::UnsupportedModel {
                path: self.path.to_path_buf(),
                detail: format!(
                    "rows of \"{ggml_name}\" are {} long, not a multiple of {Q8_0_BLOCK}, so it cannot be stored as q8_0",
                    ne[0]
                ),
            });
        }
        self.tensors.push(PlannedTensor {
            name: ggml_name,
            source,
            first,
            count: count as usize,
            ne,
            ggml_type,
        });
        Ok(())
    }

    /// A whole variable mapped to one ggml tensor.
    fn whole(
        &mut self,
        ct2: &str,
        shape: &[u64],
        ggml_name: String,
        role: Role,
    ) -> Result<(), ConvertError> {
        let i = self.expect(ct2, shape)?;
        self.push(ggml_name, i, 0, shape, role)
    }

    /// A linear layer (`weight` [out, in] and `bias` [out]).
    fn linear(&mut self, ct2: &str, rows: u64, cols: u64, ggml: &str) -> Result<(), ConvertError> {
        self.whole(
            &format!("{ct2}/weight"),
            &[rows, cols],
            format!("{ggml}.weight"),
            Role::Matrix,
        )?;
        self.whole(
            &format!("{ct2}/bias"),
            &[rows],
            format!("{ggml}.bias"),
            Role::Vector,
        )
    }

    fn layer_norm(&mut self, ct2: &str, state: u64, ggml: &str) -> Result<(), ConvertError> {
        self.whole(
            &format!("{ct2}/gamma"),
            &[state],
            format!("{ggml}.weight"),
            Role::Vector,
        )?;
        self.whole(
            &format!("{ct2}/beta"),
            &[state],
            format!("{ggml}.bias"),
            Role::Vector,
        )
    }

    /// A fused projection whose weight stacks `names.len()` blocks of `state` rows (q;k;v or k;v). Each
    /// block becomes its own ggml tensor; the key block has no bias in Whisper, so its (zero) bias is
    /// dropped after checking that it really is zero.
    fn fused(
        &mut self,
        source: &mut Ct2Source<impl Read + Seek>,
        ct2: &str,
        state: u64,
        names: &[(&str, bool)],
    ) -> Result<(), ConvertError> {
        let blocks = names.len() as u64;
        let w = self.expect(&format!("{ct2}/weight"), &[blocks * state, state])?;
        let b = self.expect(&format!("{ct2}/bias"), &[blocks * state])?;
        for (k, &(ggml, has_bias)) in names.iter().enumerate() {
            let k = k as u64;
            self.push(
                format!("{ggml}.weight"),
                w,
                k * state * state,
                &[state, state],
                Role::Matrix,
            )?;
            if has_bias {
                self.push(format!("{ggml}.bias"), b, k * state, &[state], Role::Vector)?;
            } else {
                let var = self.var(b).clone();
                let values = source.read_floats(&var, k * state, state as usize)?;
                if values.iter().any(|&v| v != 0.0) {
                    return Err(ConvertError::UnsupportedModel {
                        path: self.path.to_path_buf(),
                        detail: format!("\"{ct2}/bias\" has a non-zero key bias"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Number of `prefix/layer_N/` blocks: one more than the highest N seen.
fn layer_count(index: &Ct2Index, prefix: &str) -> u64 {
    index
        .variables
        .iter()
        .filter_map(|v| {
            let rest = v.name.strip_prefix(prefix)?.strip_prefix("/layer_")?;
            rest.split('/').next()?.parse::<u64>().ok()
        })
        .max()
        .map_or(0, |n| n + 1)
}

/// Scalar settings CTranslate2 stores beside the weights, and the value each must have for whisper.cpp's
/// fixed architecture (`None`: informational only).
const SCALAR_SETTINGS: &[(&str, Option<i64>)] = &[
    ("decoder/activation", Some(3)), // GELU
    ("encoder/activation", Some(3)),
    ("decoder/alibi", Some(0)),
    ("decoder/pre_norm", Some(1)),
    ("encoder/pre_norm", Some(1)),
    ("decoder/scale_embeddings", Some(0)),
    ("encoder/scale_embeddings", Some(0)),
    ("decoder/start_from_zero_embedding", Some(0)),
    // Flags of CTranslate2's generic decoder that newer converters write; Whisper uses none of them.
    ("decoder/rotary_dim", Some(0)),
    ("decoder/parallel_residual", Some(0)),
    ("decoder/shared_layer_norm", Some(0)),
    ("decoder/multi_query_attention", Some(0)),
    // Meaningless while alibi is off (checked above).
    ("decoder/alibi_use_positive_positions", None),
    ("decoder/scale_alibi", None),
    ("decoder/alignment_heads", None),
    ("decoder/alignment_layer", None),
];

fn plan_tensors(
    index: &Ct2Index,
    source: &mut Ct2Source<impl Read + Seek>,
    output_type: OutputType,
) -> Result<Plan, ConvertError> {
    let path = source.path.clone();
    let unsupported = |detail: String| ConvertError::UnsupportedModel {
        path: path.clone(),
        detail,
    };
    let mut p = Planner {
        index,
        path: &path,
        used: BTreeSet::new(),
        tensors: Vec::new(),
        matrix_type: match output_type {
            OutputType::F16 => GgmlType::F16,
            OutputType::Q8_0 => GgmlType::Q8_0,
        },
    };

    // Dimensions come from the tensors themselves; everything else is checked against them.
    let conv1 = p.find("encoder/conv1/weight")?;
    let conv1_dims = p.var(conv1).dims.clone();
    let [state, n_mels, 3] = conv1_dims[..] else {
        return Err(ConvertError::ShapeMismatch {
            path: path.clone(),
            name: "encoder/conv1/weight".into(),
            found: conv1_dims,
            expected: vec![0, 80, 3],
        });
    };
    let dims_of = |p: &mut Planner, name: &str| -> Result<Vec<u64>, ConvertError> {
        let i = p.find(name)?;
        Ok(p.var(i).dims.clone())
    };
    let audio_pe = dims_of(&mut p, "encoder/position_encodings/encodings")?;
    let text_pe = dims_of(&mut p, "decoder/position_encodings/encodings")?;
    let embedding = dims_of(&mut p, "decoder/embeddings/weight")?;
    let n_audio_ctx = audio_pe.first().copied().unwrap_or(0);
    let n_text_ctx = text_pe.first().copied().unwrap_or(0);
    let n_vocab = embedding.first().copied().unwrap_or(0);
    if (n_vocab as usize) < GGML_TEXT_TOKENS {
        return Err(unsupported(format!(
            "its vocabulary has {n_vocab} tokens, fewer than Whisper's {GGML_TEXT_TOKENS}"
        )));
    }
    let n_audio_layer = layer_count(index, "encoder");
    let n_text_layer = layer_count(index, "decoder");
    if n_audio_layer == 0 || n_text_layer == 0 {
        return Err(unsupported("it has no encoder or no decoder layers".into()));
    }

    let mut heads = [0i64; 2];
    for (slot, name) in heads
        .iter_mut()
        .zip(["encoder/num_heads", "decoder/num_heads"])
    {
        let i = p.find(name)?;
        let var = p.var(i).clone();
        *slot = source.read_scalar(&var)?;
        if *slot <= 0 || state % (*slot as u64) != 0 {
            return Err(unsupported(format!(
                "{name} is {slot}, which does not divide the width {state}"
            )));
        }
    }
    for &(name, required) in SCALAR_SETTINGS {
        let Some(&i) = index.by_name.get(name) else {
            continue;
        };
        p.used.insert(i);
        let var = p.var(i).clone();
        if let Some(required) = required {
            let value = source.read_scalar(&var)?;
            if value != required {
                return Err(unsupported(format!(
                    "{name} is {value} where Whisper has {required}"
                )));
            }
        }
    }

    let s = state;
    // Encoder.
    p.whole(
        "encoder/position_encodings/encodings",
        &[n_audio_ctx, s],
        "encoder.positional_embedding".into(),
        Role::Positional,
    )?;
    p.whole(
        "encoder/conv1/weight",
        &[s, n_mels, 3],
        "encoder.conv1.weight".into(),
        Role::Conv,
    )?;
    p.whole(
        "encoder/conv1/bias",
        &[s],
        "encoder.conv1.bias".into(),
        Role::ConvBias,
    )?;
    p.whole(
        "encoder/conv2/weight",
        &[s, s, 3],
        "encoder.conv2.weight".into(),
        Role::Conv,
    )?;
    p.whole(
        "encoder/conv2/bias",
        &[s],
        "encoder.conv2.bias".into(),
        Role::ConvBias,
    )?;
    p.layer_norm("encoder/layer_norm", s, "encoder.ln_post")?;
    for i in 0..n_audio_layer {
        let ct2 = format!("encoder/layer_{i}");
        let ggml = format!("encoder.blocks.{i}");
        p.layer_norm(
            &format!("{ct2}/self_attention/layer_norm"),
            s,
            &format!("{ggml}.attn_ln"),
        )?;
        p.fused(
            source,
            &format!("{ct2}/self_attention/linear_0"),
            s,
            &[
                (&format!("{ggml}.attn.query"), true),
                (&format!("{ggml}.attn.key"), false),
                (&format!("{ggml}.attn.value"), true),
            ],
        )?;
        p.linear(
            &format!("{ct2}/self_attention/linear_1"),
            s,
            s,
            &format!("{ggml}.attn.out"),
        )?;
        p.layer_norm(
            &format!("{ct2}/ffn/layer_norm"),
            s,
            &format!("{ggml}.mlp_ln"),
        )?;
        p.linear(
            &format!("{ct2}/ffn/linear_0"),
            4 * s,
            s,
            &format!("{ggml}.mlp.0"),
        )?;
        p.linear(
            &format!("{ct2}/ffn/linear_1"),
            s,
            4 * s,
            &format!("{ggml}.mlp.2"),
        )?;
    }

    // Decoder. Its output projection is tied to the token embedding (an alias in the CTranslate2 file),
    // and whisper.cpp reuses the embedding, so nothing more is written for it.
    p.whole(
        "decoder/position_encodings/encodings",
        &[n_text_ctx, s],
        "decoder.positional_embedding".into(),
        Role::Positional,
    )?;
    p.whole(
        "decoder/embeddings/weight",
        &[n_vocab, s],
        "decoder.token_embedding.weight".into(),
        Role::Matrix,
    )?;
    p.layer_norm("decoder/layer_norm", s, "decoder.ln")?;
    for i in 0..n_text_layer {
        let ct2 = format!("decoder/layer_{i}");
        let ggml = format!("decoder.blocks.{i}");
        p.layer_norm(
            &format!("{ct2}/self_attention/layer_norm"),
            s,
            &format!("{ggml}.attn_ln"),
        )?;
        p.fused(
            source,
            &format!("{ct2}/self_attention/linear_0"),
            s,
            &[
                (&format!("{ggml}.attn.query"), true),
                (&format!("{ggml}.attn.key"), false),
                (&format!("{ggml}.attn.value"), true),
            ],
        )?;
        p.linear(
            &format!("{ct2}/self_attention/linear_1"),
            s,
            s,
            &format!("{ggml}.attn.out"),
        )?;
        p.layer_norm(
            &format!("{ct2}/attention/layer_norm"),
            s,
            &format!("{ggml}.cross_attn_ln"),
        )?;
        p.linear(
            &format!("{ct2}/attention/linear_0"),
            s,
            s,
            &format!("{ggml}.cross_attn.query"),
        )?;
        p.fused(
            source,
            &format!("{ct2}/attention/linear_1"),
            s,
            &[
                (&format!("{ggml}.cross_attn.key"), false),
                (&format!("{ggml}.cross_attn.value"), true),
            ],
        )?;
        p.linear(
            &format!("{ct2}/attention/linear_2"),
            s,
            s,
            &format!("{ggml}.cross_attn.out"),
        )?;
        p.layer_norm(
            &format!("{ct2}/ffn/layer_norm"),
            s,
            &format!("{ggml}.mlp_ln"),
        )?;
        p.linear(
            &format!("{ct2}/ffn/linear_0"),
            4 * s,
            s,
            &format!("{ggml}.mlp.0"),
        )?;
        p.linear(
            &format!("{ct2}/ffn/linear_1"),
            s,
            4 * s,
            &format!("{ggml}.mlp.2"),
        )?;
    }

    if let Some(extra) = index
        .variables
        .iter()
        .enumerate()
        .find(|(i, _)| !p.used.contains(i))
    {
        return Err(ConvertError::UnexpectedTensor {
            path: path.clone(),
            name: extra.1.name.clone(),
        });
    }

    let to_i32 = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
    let hparams = Hparams {
        n_vocab: to_i32(n_vocab),
        n_audio_ctx: to_i32(n_audio_ctx),
        n_audio_state: to_i32(s),
        n_audio_head: heads[0] as i32,
        n_audio_layer: to_i32(n_audio_layer),
        n_text_ctx: to_i32(n_text_ctx),
        n_text_state: to_i32(s),
        n_text_head: heads[1] as i32,
        n_text_layer: to_i32(n_text_layer),
        n_mels: to_i32(n_mels),
        ftype: output_type.ftype(),
    };
    Ok(Plan {
        hparams,
        tensors: p.tensors,
    })
}

/// Encode f32 values (whole rows of `row` values) as the given ggml type, little-endian.
fn encode(values: &[f32], ggml_type: GgmlType, row: usize) -> Vec<u8> {
    match ggml_type {
        GgmlType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        GgmlType::F16 => values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect(),
        GgmlType::Q8_0 => {
            debug_assert_eq!(row % Q8_0_BLOCK, 0);
            let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK * (2 + Q8_0_BLOCK));
            for block in values.chunks(Q8_0_BLOCK) {
                quantize_q8_0_block(block, &mut out);
            }
            out
        }
    }
}

/// ggml's reference q8_0 quantization of one block of 32 values.
fn quantize_q8_0_block(block: &[f32], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend(block.iter().map(|&v| (v * id).round() as i8 as u8));
}

// ---------------------------------------------------------------------------------------------------------
// Header: hparams, mel filters, vocabulary

fn write_header(
    w: &mut dyn Write,
    hparams: &Hparams,
    filters: &[f32],
    tokens: &[Vec<u8>],
) -> Result<(), WriteFailure> {
    w.write_all(&(GGML_MAGIC as i32).to_le_bytes())?;
    for v in hparams.to_array() {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&hparams.n_mels.to_le_bytes())?;
    w.write_all(&((N_FFT / 2 + 1) as i32).to_le_bytes())?;
    for v in filters {
        w.write_all(&v.to_le_bytes())?;
    }
    w.write_all(&(tokens.len() as i32).to_le_bytes())?;
    for token in tokens {
        w.write_all(&(token.len() as i32).to_le_bytes())?;
        w.write_all(token)?;
    }
    Ok(())
}

/// The Slaney-style mel filter bank of librosa's `filters.mel(sr, n_fft, n_mels)` (htk=False,
/// norm="slaney"), computed in f64 and rounded to f32 at the same two points as librosa, so the result
/// matches the filters in the official ggml files bit for bit. Row-major: `n_mels` rows of `n_fft/2+1`.
pub fn mel_filters(sample_rate: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_freqs = n_fft / 2 + 1;
    // numpy.fft.rfftfreq(n_fft, 1/sr)
    let spacing = 1.0 / (n_fft as f64 * (1.0 / f64::from(sample_rate)));
    let fft_freqs: Vec<f64> = (0..n_freqs).map(|i| i as f64 * spacing).collect();

    // numpy.linspace(min_mel, max_mel, n_mels + 2), then back to Hz.
    let min_mel = hz_to_mel(0.0);
    let max_mel = hz_to_mel(f64::from(sample_rate) / 2.0);
    let n_points = n_mels + 2;
    let step = (max_mel - min_mel) / (n_points - 1) as f64;
    let mel_hz: Vec<f64> = (0..n_points)
        .map(|i| {
            let mel = if i == n_points - 1 {
                max_mel
            } else {
                i as f64 * step + min_mel
            };
            mel_to_hz(mel)
        })
        .collect();

    let mut weights = vec![0f32; n_mels * n_freqs];
    for m in 0..n_mels {
        let lower_width = mel_hz[m + 1] - mel_hz[m];
        let upper_width = mel_hz[m + 2] - mel_hz[m + 1];
        let enorm = 2.0 / (mel_hz[m + 2] - mel_hz[m]);
        for (j, &f) in fft_freqs.iter().enumerate() {
            let lower = -(mel_hz[m] - f) / lower_width;
            let upper = (mel_hz[m + 2] - f) / upper_width;
            // numpy's minimum/maximum (x86 minpd/maxpd) return the second operand on ties, so the first
            // filter starts with -0.0 as in the official files; f64::max would not say which zero.
            let smaller = if lower < upper { lower } else { upper };
            let clipped = if 0.0 > smaller { 0.0 } else { smaller };
            // librosa stores the triangle in an f32 array, then scales it in f64 and stores again.
            let triangle = clipped as f32;
            weights[m * n_freqs + j] = (f64::from(triangle) * enorm) as f32;
        }
    }
    weights
}

const MEL_F_SP: f64 = 200.0 / 3.0;
const MEL_MIN_LOG_HZ: f64 = 1000.0;

fn mel_logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney mel scale: linear below 1 kHz, logarithmic above.
fn hz_to_mel(hz: f64) -> f64 {
    let min_log_mel = MEL_MIN_LOG_HZ / MEL_F_SP;
    if hz >= MEL_MIN_LOG_HZ {
        min_log_mel + (hz / MEL_MIN_LOG_HZ).ln() / mel_logstep()
    } else {
        hz / MEL_F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let min_log_mel = MEL_MIN_LOG_HZ / MEL_F_SP;
    if mel >= min_log_mel {
        MEL_MIN_LOG_HZ * (mel_logstep() * (mel - min_log_mel)).exp()
    } else {
        MEL_F_SP * mel
    }
}

/// The vocabulary entries in id order: vocabulary.txt is one token per line (split on '\n' only, since a
/// token may contain other whitespace); vocabulary.json is a JSON list of strings.
fn read_vocabulary(path: &Path) -> Result<Vec<String>, ConvertError> {
    let bad = |detail: String| ConvertError::BadVocabulary {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = fs::read(path).map_err(|source| ConvertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str::<Vec<String>>(&text)
            .map_err(|e| bad(format!("it is not a JSON list of tokens: {e}")));
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    Ok(lines)
}

fn decode_tokens(tokens: &[String], path: &Path) -> Result<Vec<Vec<u8>>, ConvertError> {
    let table = Gpt2ByteTable::new();
    tokens
        .iter()
        .enumerate()
        .map(|(id, token)| {
            table
                .decode(token)
                .ok_or_else(|| ConvertError::BadVocabulary {
                    path: path.to_path_buf(),
                    detail: format!("token {id} ({token:?}) is not a byte-level BPE token"),
                })
        })
        .collect()
}

/// GPT-2's `bytes_to_unicode` table, inverted: byte-level BPE writes every byte as a printable character
/// (printable Latin-1 bytes as themselves, the others as U+0100 onwards, in byte order).
struct Gpt2ByteTable {
    /// Character code -> byte, for codes below 256 + 68.
    to_byte: [Option<u8>; 324],
}

impl Gpt2ByteTable {
    fn new() -> Self {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let mut to_byte = [None; 324];
        let mut next = 256;
        for b in 0..=255u8 {
            if printable(b) {
                to_byte[b as usize] = Some(b);
            } else {
                to_byte[next] = Some(b);
                next += 1;
            }
        }
        Self { to_byte }
    }

    fn decode(&self, token: &str) -> Option<Vec<u8>> {
        token
            .chars()
            .map(|c| self.to_byte.get(c as usize).copied().flatten())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Output

enum WriteFailure {
    Io(io::Error),
    Convert(ConvertError),
}

impl From<io::Error> for WriteFailure {
    fn from(e: io::Error) -> Self {
        WriteFailure::Io(e)
    }
}

impl From<ConvertError> for WriteFailure {
    fn from(e: ConvertError) -> Self {
        WriteFailure::Convert(e)
    }
}

/// Counts and hashes everything written through it, so the file need not be read back.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write `out` through a temporary file in the same folder, renamed into place only when `fill` succeeded.
/// Returns the size and sha256 of what was written.
fn write_atomically(
    out: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), WriteFailure>,
) -> Result<(u64, String), ConvertError> {
    let write_err = |source: io::Error| ConvertError::Write {
        path: out.to_path_buf(),
        source,
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(write_err)?;
    let temp = tempfile::Builder::new()
        .prefix(".notedraft-convert-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(write_err)?;
    let (bytes, hasher) = {
        let mut w = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, temp.as_file()),
            hasher: Sha256::new(),
            bytes: 0,
        };
        match fill(&mut w) {
            Ok(()) => {}
            Err(WriteFailure::Io(e)) => return Err(write_err(e)),
            Err(WriteFailure::Convert(e)) => return Err(e),
        }
        w.flush().map_err(write_err)?;
        (w.bytes, w.hasher)
    };
    temp.as_file().sync_all().map_err(write_err)?;
    // A model file is not private; give it the usual permissions rather than the temp file's 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644)).map_err(write_err)?;
    }
    temp.persist(out).map_err(|e| write_err(e.error))?;
    Ok((bytes, format!("{:x}", hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- mel filters --------------------------------------------------------------------------------

    fn bits(filters: &[f32], row: usize, col: usize) -> u32 {
        filters[row * 201 + col].to_bits()
    }

    /// Values read from whisper's own assets/mel_filters.npz (librosa's output, which the official ggml
    /// files embed), as exact f32 bit patterns.
    #[test]
    fn mel_filters_match_the_official_values_bit_for_bit() {
        let f = mel_filters(16_000, 400, 80);
        assert_eq!(f.len(), 80 * 201);
        assert_eq!(bits(&f, 0, 0), 0x8000_0000, "librosa leaves -0.0 here");
        assert_eq!(bits(&f, 0, 1), 0x3ccb_aca4);
        assert_eq!(bits(&f, 1, 1), 0x3b02_7873);
        assert_eq!(bits(&f, 1, 2), 0x3cbb_5d95);
        assert_eq!(bits(&f, 10, 10), 0x3ca3_168f);
        assert_eq!(bits(&f, 40, 43), 0x3c71_6d72);
        assert_eq!(bits(&f, 79, 192), 0x3b4f_670e);
        assert_eq!(bits(&f, 79, 195), 0x3b13_0ca3);
        assert_eq!(bits(&f, 79, 200), 0);
        // The last filter covers bins 186..=199 only.
        let last = &f[79 * 201..];
        let nonzero: Vec<usize> = (0..201).filter(|&j| last[j] != 0.0).collect();
        assert_eq!(nonzero.first(), Some(&186));
        assert_eq!(nonzero.last(), Some(&199));

        let f128 = mel_filters(16_000, 400, 128);
        assert_eq!(bits(&f128, 0, 1), 0x3c4a_bc43);
        assert_eq!(bits(&f128, 64, 43), 0x3c94_34aa);
        assert_eq!(bits(&f128, 127, 195), 0x3ba5_3405);
    }

    /// Slaney normalisation gives every triangle unit area in Hz: summed over the 40 Hz bins, about 1/40.
    #[test]
    fn every_mel_filter_is_a_single_triangle_of_unit_area() {
        let f = mel_filters(16_000, 400, 80);
        for m in 0..80 {
            let row = &f[m * 201..(m + 1) * 201];
            let area: f64 = row.iter().map(|&v| f64::from(v) * 40.0).sum();
            assert!((area - 1.0).abs() < 0.1, "filter {m} has area {area}");
            let peak = (0..201)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            assert!(
                row[..peak].windows(2).all(|w| w[0] <= w[1]),
                "filter {m} rises"
            );
            assert!(
                row[peak..].windows(2).all(|w| w[0] >= w[1]),
                "filter {m} falls"
            );
        }
        // Peaks move up in frequency filter by filter.
        let peaks: Vec<usize> = (0..80)
            .map(|m| {
                let row = &f[m * 201..(m + 1) * 201];
                (0..201)
                    .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                    .unwrap_or(0)
            })
            .collect();
        assert!(peaks.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn slaney_mel_scale_is_linear_below_1khz_and_logarithmic_above() {
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        // 6.4 times the frequency is 27 mels more above 1 kHz.
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9);
        for hz in [0.0, 300.0, 999.0, 1000.0, 2500.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }

    // ---- vocabulary bytes ---------------------------------------------------------------------------

    #[test]
    fn gpt2_byte_level_tokens_decode_to_raw_bytes() {
        let t = Gpt2ByteTable::new();
        assert_eq!(t.decode("Ġthe").as_deref(), Some(&b" the"[..]));
        assert_eq!(t.decode("Ċ").as_deref(), Some(&b"\n"[..]));
        assert_eq!(t.decode("ĉ").as_deref(), Some(&b"\t"[..]));
        assert_eq!(t.decode("Ā").as_deref(), Some(&[0u8][..]));
        assert_eq!(t.decode("hello").as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            t.decode("<|endoftext|>").as_deref(),
            Some(&b"<|endoftext|>"[..])
        );
        // "é" is two UTF-8 bytes, written as the two characters for 0xC3 and 0xA9.
        assert_eq!(t.decode("Ã©").as_deref(), Some("é".as_bytes()));
        // 0xAD (soft hyphen) is the last byte moved up: to U+0143.
        assert_eq!(t.decode("\u{0143}").as_deref(), Some(&[0xAD][..]));
        assert_eq!(t.decode(""), Some(vec![]));
        assert_eq!(t.decode("€"), None);
        assert_eq!(t.decode("\u{0144}"), None);
    }

    #[test]
    fn gpt2_byte_table_is_a_bijection_over_all_bytes() {
        let t = Gpt2ByteTable::new();
        let mut seen = [false; 256];
        for byte in t.to_byte.iter().flatten() {
            assert!(!seen[*byte as usize], "byte {byte} appears twice");
            seen[*byte as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        // Printable bytes stand for themselves.
        for b in (b'!'..=b'~').chain(0xA1..=0xAC).chain(0xAE..=0xFF) {
            assert_eq!(t.to_byte[b as usize], Some(b));
        }
    }

    // ---- q8_0 ---------------------------------------------------------------------------------------

    #[test]
    fn q8_0_blocks_scale_by_the_largest_magnitude() {
        let mut block = [0.0f32; 32];
        block[0] = -127.0;
        block[1] = 63.5;
        block[2] = 0.25;
        block[3] = -0.5;
        let mut out = Vec::new();
        quantize_q8_0_block(&block, &mut out);
        assert_eq!(out.len(), 34);
        assert_eq!(f16::from_le_bytes([out[0], out[1]]).to_f32(), 1.0);
        assert_eq!(out[2] as i8, -127);
        assert_eq!(
            out[3] as i8, 64,
            "halves round away from zero, as C's roundf"
        );
        assert_eq!(out[4] as i8, 0);
        assert_eq!(out[5] as i8, -1);
        let mut zeros = Vec::new();
        quantize_q8_0_block(&[0.0; 32], &mut zeros);
        assert!(zeros.iter().all(|&b| b == 0));
    }

    // ---- synthetic CTranslate2 model ------------------------------------------------------------------

    struct Var {
        name: String,
        dims: Vec<u32>,
        dtype: u8,
        data: Vec<u8>,
    }

    /// A value that identifies where it came from, exactly representable in f16.
    fn marker(var: usize, i: usize) -> f32 {
        ((var * 7 + i) % 1000) as f32 / 8.0 - 60.0
    }

    fn f16_var(id: usize, name: &str, dims: &[u32]) -> Var {
        let n: u32 = dims.iter().product();
        Var {
            name: name.to_string(),
            dims: dims.to_vec(),
            dtype: 4,
            data: (0..n as usize)
                .flat_map(|i| f16::from_f32(marker(id, i)).to_le_bytes())
                .collect(),
        }
    }

    fn scalar(name: &str, dtype: u8, bytes: &[u8]) -> Var {
        Var {
            name: name.to_string(),
            dims: vec![],
            dtype,
            data: bytes.to_vec(),
        }
    }

    const S: u32 = 8;
    const VOCAB: u32 = 50_258;

    /// The variables of a tiny Whisper: width 8, 2 heads, 1 encoder and 1 decoder layer, 80 mels.
    fn synthetic_vars() -> Vec<Var> {
        synthetic_vars_of_width(S)
    }

    fn synthetic_vars_of_width(s: u32) -> Vec<Var> {
        let mut shapes: Vec<(String, Vec<u32>)> = vec![
            ("encoder/conv1/weight".into(), vec![s, 80, 3]),
            ("encoder/conv1/bias".into(), vec![s]),
            ("encoder/conv2/weight".into(), vec![s, s, 3]),
            ("encoder/conv2/bias".into(), vec![s]),
            ("encoder/position_encodings/encodings".into(), vec![6, s]),
            ("encoder/layer_norm/gamma".into(), vec![s]),
            ("encoder/layer_norm/beta".into(), vec![s]),
            ("decoder/embeddings/weight".into(), vec![VOCAB, s]),
            ("decoder/position_encodings/encodings".into(), vec![4, s]),
            ("decoder/layer_norm/gamma".into(), vec![s]),
            ("decoder/layer_norm/beta".into(), vec![s]),
        ];
        let mut block = |prefix: &str, cross: bool| {
            let mut add = |n: &str, d: Vec<u32>| shapes.push((format!("{prefix}/{n}"), d));
            for ln in ["self_attention/layer_norm", "ffn/layer_norm"] {
                add(&format!("{ln}/gamma"), vec![s]);
                add(&format!("{ln}/beta"), vec![s]);
            }
            add("self_attention/linear_0/weight", vec![3 * s, s]);
            add("self_attention/linear_0/bias", vec![3 * s]);
            add("self_attention/linear_1/weight", vec![s, s]);
            add("self_attention/linear_1/bias", vec![s]);
            add("ffn/linear_0/weight", vec![4 * s, s]);
            add("ffn/linear_0/bias", vec![4 * s]);
            add("ffn/linear_1/weight", vec![s, 4 * s]);
            add("ffn/linear_1/bias", vec![s]);
            if cross {
                add("attention/layer_norm/gamma", vec![s]);
                add("attention/layer_norm/beta", vec![s]);
                add("attention/linear_0/weight", vec![s, s]);
                add("attention/linear_0/bias", vec![s]);
                add("attention/linear_1/weight", vec![2 * s, s]);
                add("attention/linear_1/bias", vec![2 * s]);
                add("attention/linear_2/weight", vec![s, s]);
                add("attention/linear_2/bias", vec![s]);
            }
        };
        block("encoder/layer_0", false);
        block("decoder/layer_0", true);
        shapes.sort();
        let mut vars: Vec<Var> = shapes
            .iter()
            .enumerate()
            .map(|(id, (name, dims))| f16_var(id, name, dims))
            .collect();
        // Whisper has no key bias: CTranslate2 stores zeros there.
        for var in &mut vars {
            let zero_block = if var.name.ends_with("self_attention/linear_0/bias") {
                Some(s as usize..2 * s as usize)
            } else if var.name.ends_with("attention/linear_1/bias")
                && !var.name.contains("self_attention")
            {
                Some(0..s as usize)
            } else {
                None
            };
            if let Some(range) = zero_block {
                for i in range {
                    var.data[2 * i..2 * i + 2].copy_from_slice(&f16::ZERO.to_le_bytes());
                }
            }
        }
        vars.push(scalar("encoder/num_heads", 2, &2i16.to_le_bytes()));
        vars.push(scalar("decoder/num_heads", 2, &2i16.to_le_bytes()));
        vars.push(scalar("decoder/pre_norm", 1, &[1]));
        vars.push(scalar("decoder/scale_embeddings", 1, &[0]));
        vars.push(scalar("decoder/activation", 1, &[3]));
        vars.push(scalar("decoder/alignment_layer", 2, &(-1i16).to_le_bytes()));
        vars
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn ct2_bytes(version: u32, spec: &str, vars: &[Var], aliases: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&version.to_le_bytes());
        put_str(&mut out, spec);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for v in vars {
            put_str(&mut out, &v.name);
            out.push(v.dims.len() as u8);
            for d in &v.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.push(v.dtype);
            out.extend_from_slice(&(v.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&v.data);
        }
        out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
        for (alias, target) in aliases {
            put_str(&mut out, alias);
            put_str(&mut out, target);
        }
        out
    }

    const PROJECTION_ALIAS: (&str, &str) =
        ("decoder/projection/weight", "decoder/embeddings/weight");

    fn whisper_bytes(vars: &[Var]) -> Vec<u8> {
        ct2_bytes(6, "WhisperSpec", vars, &[PROJECTION_ALIAS])
    }

    /// A folder with model.bin and vocabulary.txt (GPT-2 style tokens, one per line).
    fn model_dir(model: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("model.bin"), model).expect("write model");
        fs::write(
            dir.path().join("vocabulary.txt"),
            vocabulary_text(VOCAB as usize),
        )
        .expect("vocab");
        dir
    }

    fn vocabulary_text(n: usize) -> String {
        let mut text = String::from("Ġthe\nĊ\n");
        for i in 2..n {
            text.push_str(&format!("t{i}\n"));
        }
        text
    }

    // ---- reading the ggml output back ---------------------------------------------------------------

    struct GgmlTensor {
        ttype: i32,
        ne: Vec<i32>,
        data: Vec<u8>,
    }

    struct GgmlFile {
        hparams: [i32; 11],
        filters: Vec<f32>,
        tokens: Vec<Vec<u8>>,
        tensors: Vec<(String, GgmlTensor)>,
    }

    impl GgmlFile {
        fn tensor(&self, name: &str) -> &GgmlTensor {
            &self.tensors.iter().find(|(n, _)| n == name).expect(name).1
        }
    }

    fn read_ggml(bytes: &[u8]) -> GgmlFile {
        let mut pos = 0;
        let i32_at = |pos: &mut usize| {
            let v = i32::from_le_bytes(bytes[*pos..*pos + 4].try_into().expect("4 bytes"));
            *pos += 4;
            v
        };
        assert_eq!(i32_at(&mut pos) as u32, GGML_MAGIC);
        let mut hparams = [0; 11];
        for h in &mut hparams {
            *h = i32_at(&mut pos);
        }
        let (n_mel, n_fft) = (i32_at(&mut pos) as usize, i32_at(&mut pos) as usize);
        let filters = (0..n_mel * n_fft)
            .map(|_| f32::from_bits(i32_at(&mut pos) as u32))
            .collect();
        let n_tokens = i32_at(&mut pos) as usize;
        let mut tokens = Vec::new();
        for _ in 0..n_tokens {
            let len = i32_at(&mut pos) as usize;
            tokens.push(bytes[pos..pos + len].to_vec());
            pos += len;
        }
        let mut tensors = Vec::new();
        while pos < bytes.len() {
            let n_dims = i32_at(&mut pos) as usize;
            let name_len = i32_at(&mut pos) as usize;
            let ttype = i32_at(&mut pos);
            let ne: Vec<i32> = (0..n_dims).map(|_| i32_at(&mut pos)).collect();
            let name = String::from_utf8(bytes[pos..pos + name_len].to_vec()).expect("utf-8 name");
            pos += name_len;
            let elements: usize = ne.iter().map(|&n| n as usize).product();
            let size = match ttype {
                0 => elements * 4,
                1 => elements * 2,
                8 => elements / 32 * 34,
                other => panic!("unexpected type {other}"),
            };
            tensors.push((
                name,
                GgmlTensor {
                    ttype,
                    ne,
                    data: bytes[pos..pos + size].to_vec(),
                },
            ));
            pos += size;
        }
        assert_eq!(pos, bytes.len());
        GgmlFile {
            hparams,
            filters,
            tokens,
            tensors,
        }
    }

    fn f16_values(data: &[u8]) -> Vec<f32> {
        data.chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect()
    }

    fn f32_values(data: &[u8]) -> Vec<f32> {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    fn source_values(vars: &[Var], name: &str) -> Vec<f32> {
        f16_values(&vars.iter().find(|v| v.name == name).expect(name).data)
    }

    fn convert_synthetic(vars: &[Var]) -> (ConvertReport, GgmlFile, Vec<u8>) {
        let dir = model_dir(&whisper_bytes(vars));
        let out = dir.path().join("out").join("ggml-test.bin");
        let report = convert_dir(dir.path(), &out).expect("conversion works");
        let bytes = fs::read(&out).expect("output written");
        (report, read_ggml(&bytes), bytes)
    }

    // ---- conversion ---------------------------------------------------------------------------------

    #[test]
    fn synthetic_model_converts_to_a_complete_ggml_file() {
        let vars = synthetic_vars();
        let (report, file, bytes) = convert_synthetic(&vars);
        assert_eq!(
            file.hparams,
            [VOCAB as i32, 6, S as i32, 2, 1, 4, S as i32, 2, 1, 80, 1]
        );
        assert_eq!(report.hparams.n_vocab, VOCAB as i32);
        // Encoder 7 + 15 per layer, decoder 4 + 24 per layer.
        assert_eq!(report.tensors, 7 + 15 + 4 + 24);
        assert_eq!(file.tensors.len(), report.tensors);
        assert_eq!(
            report.source_tensors,
            vars.iter().filter(|v| !v.dims.is_empty()).count()
        );
        assert_eq!(report.bytes, bytes.len() as u64);
        assert_eq!(report.sha256, crate::store::sha256_hex(&bytes));
        assert_eq!(file.filters, mel_filters(16_000, 400, 80));
        assert_eq!(file.tokens.len(), GGML_TEXT_TOKENS);
        assert_eq!(file.tokens[0], b" the");
        assert_eq!(file.tokens[1], b"\n");
        assert_eq!(file.tokens[50_256], b"t50256");
        let names: BTreeSet<&str> = file.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), file.tensors.len(), "no tensor written twice");
        assert!(!names.iter().any(|n| n.contains("attn.key.bias")));
    }

    #[test]
    fn tensor_types_and_shapes_are_what_whisper_cpp_expects() {
        let (_, file, _) = convert_synthetic(&synthetic_vars());
        let s = S as i32;
        let expect = |name: &str, ttype: i32, ne: &[i32]| {
            let t = file.tensor(name);
            assert_eq!((t.ttype, t.ne.as_slice()), (ttype, ne), "{name}");
        };
        expect("encoder.positional_embedding", 0, &[s, 6]);
        expect("decoder.positional_embedding", 0, &[s, 4]);
        expect("encoder.conv1.weight", 1, &[3, 80, s]);
        expect("encoder.conv2.weight", 1, &[3, s, s]);
        expect("encoder.conv1.bias", 0, &[1, s]);
        expect("encoder.conv2.bias", 0, &[1, s]);
        expect("encoder.ln_post.weight", 0, &[s]);
        expect("decoder.token_embedding.weight", 1, &[s, VOCAB as i32]);
        expect("encoder.blocks.0.mlp.0.weight", 1, &[s, 4 * s]);
        expect("encoder.blocks.0.mlp.0.bias", 0, &[4 * s]);
        expect("encoder.blocks.0.mlp.2.weight", 1, &[4 * s, s]);
        expect("decoder.blocks.0.cross_attn.key.weight", 1, &[s, s]);
        expect("decoder.blocks.0.cross_attn_ln.bias", 0, &[s]);
    }

    #[test]
    fn fused_attention_weights_are_split_by_rows() {
        let vars = synthetic_vars();
        let (_, file, _) = convert_synthetic(&vars);
        let n = (S * S) as usize;
        let s = S as usize;
        for stack in ["encoder", "decoder"] {
            let fused = source_values(
                &vars,
                &format!("{stack}/layer_0/self_attention/linear_0/weight"),
            );
            let bias = source_values(
                &vars,
                &format!("{stack}/layer_0/self_attention/linear_0/bias"),
            );
            let got = |part: &str| {
                f16_values(&file.tensor(&format!("{stack}.blocks.0.attn.{part}")).data)
            };
            let got32 = |part: &str| {
                f32_values(&file.tensor(&format!("{stack}.blocks.0.attn.{part}")).data)
            };
            assert_eq!(got("query.weight"), fused[..n]);
            assert_eq!(got("key.weight"), fused[n..2 * n]);
            assert_eq!(got("value.weight"), fused[2 * n..]);
            assert_eq!(got32("query.bias"), bias[..s]);
            assert_eq!(got32("value.bias"), bias[2 * s..]);
        }
        let kv = source_values(&vars, "decoder/layer_0/attention/linear_1/weight");
        let kv_bias = source_values(&vars, "decoder/layer_0/attention/linear_1/bias");
        let cross = |part: &str| file.tensor(&format!("decoder.blocks.0.cross_attn.{part}"));
        assert_eq!(f16_values(&cross("key.weight").data), kv[..n]);
        assert_eq!(f16_values(&cross("value.weight").data), kv[n..]);
        assert_eq!(f32_values(&cross("value.bias").data), kv_bias[s..]);
        // A plain tensor is copied unchanged, widened to f32 where whisper.cpp wants f32.
        let conv_bias = source_values(&vars, "encoder/conv1/bias");
        assert_eq!(
            f32_values(&file.tensor("encoder.conv1.bias").data),
            conv_bias
        );
        let pe = source_values(&vars, "encoder/position_encodings/encodings");
        assert_eq!(
            f32_values(&file.tensor("encoder.positional_embedding").data),
            pe
        );
    }

    #[test]
    fn conversion_is_deterministic_and_split_files_give_the_same_result() {
        let vars = synthetic_vars();
        let model = whisper_bytes(&vars);
        let (first, _, _) = convert_synthetic(&vars);
        let (second, _, _) = convert_synthetic(&vars);
        assert_eq!(first.sha256, second.sha256);

        let dir = tempfile::tempdir().expect("temp dir");
        let cut = [model.len() / 3, 2 * model.len() / 3];
        fs::write(dir.path().join("model.bin.part1"), &model[..cut[0]]).expect("part 1");
        fs::write(dir.path().join("model.bin.part2"), &model[cut[0]..cut[1]]).expect("part 2");
        fs::write(dir.path().join("model.bin.part3"), &model[cut[1]..]).expect("part 3");
        let words: Vec<String> = vocabulary_text(VOCAB as usize)
            .lines()
            .map(String::from)
            .collect();
        fs::write(
            dir.path().join("vocabulary.json"),
            serde_json::to_string(&words).expect("json"),
        )
        .expect("vocab");
        let out = dir.path().join("ggml.bin");
        let split = convert_dir(dir.path(), &out).expect("split model converts");
        assert_eq!(split.sha256, first.sha256);
        // Only the finished file is left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn q8_0_output_quantizes_matrices_only() {
        let vars = synthetic_vars_of_width(32);
        let dir = model_dir(&whisper_bytes(&vars));
        let out = dir.path().join("q8.bin");
        let report = convert_dir_as(dir.path(), &out, OutputType::Q8_0).expect("q8_0 works");
        let file = read_ggml(&fs::read(&out).expect("written"));
        assert_eq!(report.hparams.ftype, 2007);
        assert_eq!(file.tensor("decoder.token_embedding.weight").ttype, 8);
        assert_eq!(file.tensor("encoder.blocks.0.attn.query.weight").ttype, 8);
        assert_eq!(file.tensor("encoder.conv1.weight").ttype, 1);
        assert_eq!(file.tensor("encoder.conv1.bias").ttype, 0);
        assert_eq!(file.tensor("encoder.positional_embedding").ttype, 0);
        // Dequantized values stay within half a step of the originals (plus the f16 rounding of the scale).
        let q = &file.tensor("encoder.blocks.0.mlp.0.weight").data;
        let original = source_values(&vars, "encoder/layer_0/ffn/linear_0/weight");
        for (block, values) in q.chunks(34).zip(original.chunks(32)) {
            let d = f16::from_le_bytes([block[0], block[1]]).to_f32();
            for (qv, v) in block[2..].iter().zip(values) {
                assert!((f32::from(*qv as i8) * d - v).abs() <= d * 0.6);
            }
        }
    }

    // ---- errors -------------------------------------------------------------------------------------

    fn convert_bytes(model: &[u8]) -> Result<ConvertReport, ConvertError> {
        let dir = model_dir(model);
        let out = dir.path().join("out.bin");
        let result = convert_dir(dir.path(), &out);
        if result.is_err() {
            assert!(!out.exists(), "no partial output on failure");
            let names: Vec<_> = fs::read_dir(dir.path())
                .expect("list")
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect();
            assert_eq!(names.len(), 2, "only the inputs remain: {names:?}");
        }
        result
    }

    #[test]
    fn a_truncated_model_is_reported_as_cut_off() {
        let model = whisper_bytes(&synthetic_vars());
        for cut in [1, 100, model.len() / 2, model.len() - 40] {
            let err = convert_bytes(&model[..model.len() - cut]).expect_err("truncated");
            assert!(
                matches!(err, ConvertError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
        let err = convert_bytes(&model[..model.len() - 1]).expect_err("truncated");
        assert!(err.to_string().contains("is cut off"), "{err}");
        assert!(err.to_string().ends_with("fetch the model again"), "{err}");
    }

    #[test]
    fn bytes_after_the_model_are_reported() {
        let mut model = whisper_bytes(&synthetic_vars());
        model.extend_from_slice(&[0, 0, 0]);
        let err = convert_bytes(&model).expect_err("trailing bytes");
        assert!(
            matches!(err, ConvertError::TrailingBytes { extra: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn other_files_and_other_models_are_refused() {
        let vars = synthetic_vars();
        let err = convert_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ").expect_err("not ct2");
        assert!(matches!(err, ConvertError::NotCtranslate2 { .. }), "{err}");
        let err = convert_bytes(b"").expect_err("empty");
        assert!(matches!(err, ConvertError::NotCtranslate2 { .. }), "{err}");
        let err = convert_bytes(&ct2_bytes(5, "WhisperSpec", &vars, &[])).expect_err("old");
        assert!(
            matches!(err, ConvertError::UnsupportedVersion { found: 5, .. }),
            "{err}"
        );
        let err = convert_bytes(&ct2_bytes(6, "TransformerSpec", &vars, &[])).expect_err("spec");
        assert!(
            matches!(&err, ConvertError::WrongSpec { found, .. } if found == "TransformerSpec"),
            "{err}"
        );
    }

    #[test]
    fn unexpected_missing_and_misshapen_tensors_are_refused() {
        let mut vars = synthetic_vars();
        vars.push(f16_var(999, "decoder/extra/weight", &[2, 2]));
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("extra");
        assert!(
            matches!(&err, ConvertError::UnexpectedTensor { name, .. } if name == "decoder/extra/weight"),
            "{err}"
        );

        let vars: Vec<Var> = synthetic_vars()
            .into_iter()
            .filter(|v| v.name != "encoder/layer_0/ffn/linear_1/bias")
            .collect();
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("missing");
        assert!(
            matches!(&err, ConvertError::MissingTensor { name, .. } if name == "encoder/layer_0/ffn/linear_1/bias"),
            "{err}"
        );

        let mut vars = synthetic_vars();
        let i = vars
            .iter()
            .position(|v| v.name == "decoder/layer_0/attention/linear_2/weight")
            .expect("present");
        vars[i] = f16_var(i, "decoder/layer_0/attention/linear_2/weight", &[S, S / 2]);
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("shape");
        assert!(
            matches!(&err, ConvertError::ShapeMismatch { found, expected, .. }
                if *found == vec![u64::from(S), u64::from(S / 2)] && *expected == vec![u64::from(S), u64::from(S)]),
            "{err}"
        );
    }

    #[test]
    fn int8_weights_and_a_real_key_bias_are_refused() {
        let mut vars = synthetic_vars();
        let i = vars
            .iter()
            .position(|v| v.name == "encoder/layer_0/ffn/linear_0/weight")
            .expect("present");
        vars[i].dtype = 1;
        let half = vars[i].data.len() / 2;
        vars[i].data.truncate(half);
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("int8");
        assert!(
            matches!(err, ConvertError::UnsupportedDataType { dtype: "int8", .. }),
            "{err}"
        );

        let mut vars = synthetic_vars();
        let i = vars
            .iter()
            .position(|v| v.name == "encoder/layer_0/self_attention/linear_0/bias")
            .expect("present");
        let key_start = 2 * S as usize;
        vars[i].data[key_start..key_start + 2].copy_from_slice(&f16::ONE.to_le_bytes());
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("key bias");
        assert!(
            matches!(err, ConvertError::UnsupportedModel { .. }),
            "{err}"
        );
    }

    #[test]
    fn a_declared_size_that_disagrees_with_the_shape_is_corruption() {
        let mut vars = synthetic_vars();
        vars[0].data.pop();
        let err = convert_bytes(&whisper_bytes(&vars)).expect_err("bad size");
        assert!(matches!(err, ConvertError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn missing_files_and_bad_vocabularies_say_what_is_wrong() {
        let empty = tempfile::tempdir().expect("temp dir");
        let err = convert_dir(empty.path(), &empty.path().join("o.bin")).expect_err("no model");
        assert!(
            matches!(err, ConvertError::MissingModelFile { .. }),
            "{err}"
        );

        let dir = model_dir(&whisper_bytes(&synthetic_vars()));
        fs::remove_file(dir.path().join("vocabulary.txt")).expect("remove");
        let err = convert_dir(dir.path(), &dir.path().join("o.bin")).expect_err("no vocab");
        assert!(
            matches!(err, ConvertError::MissingVocabulary { .. }),
            "{err}"
        );

        fs::write(dir.path().join("vocabulary.txt"), vocabulary_text(100)).expect("short vocab");
        let err = convert_dir(dir.path(), &dir.path().join("o.bin")).expect_err("short vocab");
        assert!(
            matches!(&err, ConvertError::BadVocabulary { detail, .. } if detail.contains("100 entries")),
            "{err}"
        );

        let mut text = vocabulary_text(VOCAB as usize);
        text.replace_range(0..4, "€the");
        fs::write(dir.path().join("vocabulary.txt"), text).expect("odd vocab");
        let err = convert_dir(dir.path(), &dir.path().join("o.bin")).expect_err("odd token");
        assert!(matches!(err, ConvertError::BadVocabulary { .. }), "{err}");
    }

    #[test]
    fn split_reader_reads_across_part_boundaries() {
        let dir = tempfile::tempdir().expect("temp dir");
        let paths: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| dir.path().join(n)).collect();
        fs::write(&paths[0], b"0123").expect("a");
        fs::write(&paths[1], b"").expect("b");
        fs::write(&paths[2], b"456789").expect("c");
        let mut r = MultiFileReader::open(&paths).expect("open");
        assert_eq!(r.len(), 10);
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("read");
        assert_eq!(all, b"0123456789");
        r.seek(SeekFrom::Start(2)).expect("seek");
        let mut buf = [0u8; 5];
        r.read_exact(&mut buf).expect("read across");
        assert_eq!(&buf, b"23456");
        r.seek(SeekFrom::End(-1)).expect("seek end");
        let mut last = Vec::new();
        r.read_to_end(&mut last).expect("read");
        assert_eq!(last, b"9");
    }
}

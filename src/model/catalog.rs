//! The known Whisper models (name, file, size, sha256, sources) and the order in which model files are looked up.
//!
//! Lookup order for a model: the `--model` flag or the `model` setting (a catalog name or a file path), then
//! for a name, its file `ggml-NAME.bin` in: `$NOTEDRAFT_MODELS_DIR` (if set; handy for tests and unusual
//! setups), `./models/` under the current folder, and the user data folder
//! (`$XDG_DATA_HOME/notedraft/models`, usually `~/.local/share/notedraft/models`).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

use super::convert::GGML_MAGIC;

/// The model used when none is chosen.
pub const DEFAULT_MODEL: &str = "base";
/// Environment variable naming a folder searched first for model files.
pub const MODELS_DIR_ENV: &str = "NOTEDRAFT_MODELS_DIR";
/// The command that installs a model, as shown in messages.
pub const FETCH_COMMAND: &str = "scripts/fetch-model.sh";

const CATALOG_TOML: &str = include_str!("../../models/catalog.toml");

/// One known model.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    pub name: String,
    /// File name, always `ggml-NAME.bin`.
    pub file: String,
    /// One line for `notedraft models list`.
    pub description: String,
    pub official: OfficialFile,
    /// Present for models that can be made from PyPI wheels where the official file is out of reach.
    #[serde(default)]
    pub converted: Option<ConvertedSource>,
}

/// The ggml file published by the whisper.cpp project.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficialFile {
    pub url: String,
    pub size: u64,
    /// Only where it is known for certain.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Where the faster-whisper weights for a model come from, and the fingerprint of our conversion of them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertedSource {
    /// PyPI requirement strings, pinned (`name==version`).
    pub packages: Vec<String>,
    /// Folders inside the unpacked wheels whose files together form the faster-whisper model folder.
    pub dirs: Vec<String>,
    pub size: u64,
    pub sha256: String,
}

/// Which published fingerprint a model file matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fingerprint {
    /// The whisper.cpp project's own file.
    Official,
    /// notedraft's conversion of the faster-whisper weights.
    Converted,
}

impl Fingerprint {
    pub fn label(self) -> &'static str {
        match self {
            Fingerprint::Official => "official file",
            Fingerprint::Converted => "converted file",
        }
    }
}

impl CatalogEntry {
    /// Which fingerprint a file of this size and sha256 matches, if any.
    pub fn identify(&self, size: u64, sha256: &str) -> Option<Fingerprint> {
        if self.official.size == size && self.official.sha256.as_deref() == Some(sha256) {
            return Some(Fingerprint::Official);
        }
        match &self.converted {
            Some(c) if c.size == size && c.sha256 == sha256 => Some(Fingerprint::Converted),
            _ => None,
        }
    }

    /// Whether any fingerprint with a hash exists to check against.
    pub fn has_fingerprint(&self) -> bool {
        self.official.sha256.is_some() || self.converted.is_some()
    }

    /// Sizes a good copy of this model can have.
    pub fn known_sizes(&self) -> Vec<u64> {
        let mut sizes = vec![self.official.size];
        match &self.converted {
            Some(c) if c.size != self.official.size => sizes.push(c.size),
            _ => {}
        }
        sizes
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<CatalogEntry>,
}

/// All known models, in the order they are listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    models: Vec<CatalogEntry>,
}

impl Catalog {
    /// The catalog built into this program (models/catalog.toml).
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            // The text is part of the program, not user input; a unit test parses it.
            Catalog::parse(CATALOG_TOML).expect("models/catalog.toml is valid")
        })
    }

    /// Parse and check a catalog: unknown keys, duplicate names, odd file names or malformed hashes are errors.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let is_sha256 =
            |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        for (i, m) in file.model.iter().enumerate() {
            if file.model[..i].iter().any(|other| other.name == m.name) {
                return Err(format!("model \"{}\" is listed twice", m.name));
            }
            if m.file != format!("ggml-{}.bin", m.name) {
                return Err(format!(
                    "model \"{}\" must use the file name ggml-{}.bin",
                    m.name, m.name
                ));
            }
            let hashes = m
                .official
                .sha256
                .iter()
                .chain(m.converted.iter().map(|c| &c.sha256));
            if let Some(bad) = hashes.into_iter().find(|h| !is_sha256(h)) {
                return Err(format!(
                    "model \"{}\" has a malformed sha256 \"{bad}\"",
                    m.name
                ));
            }
            let incomplete_source = m
                .converted
                .as_ref()
                .is_some_and(|c| c.packages.is_empty() || c.dirs.is_empty());
            if incomplete_source {
                return Err(format!(
                    "model \"{}\" names no packages or folders to convert from",
                    m.name
                ));
            }
        }
        Ok(Catalog { models: file.model })
    }

    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn models(&self) -> &[CatalogEntry] {
        &self.models
    }
}

/// Why a model could not be found or used. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the speech model \"{name}\" is not installed: run {FETCH_COMMAND} {name}")]
    NotInstalled {
        name: String,
        searched: Vec<PathBuf>,
    },
    #[error(
        "there is no speech model called \"{name}\": run notedraft models list to see the names"
    )]
    UnknownName { name: String },
    #[error(
        "the speech model file {path} does not exist: check the path, or give a model name such as \"{DEFAULT_MODEL}\""
    )]
    FileMissing { path: PathBuf },
    #[error(
        "{path} is not a Whisper model file: give a ggml model file, or a model name such as \"{DEFAULT_MODEL}\""
    )]
    NotAModel { path: PathBuf },
    #[error(
        "the speech model file {path} is damaged (it is {found} bytes long, not {expected}): run {FETCH_COMMAND} {name} to replace it"
    )]
    WrongSize {
        name: String,
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error("could not read the speech model file {path} ({source}): check that it is readable")]
    Read { path: PathBuf, source: io::Error },
}

/// A model file ready to be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedModel {
    /// The catalog name, or the file name when a path outside the catalog was given.
    pub name: String,
    pub path: PathBuf,
    /// The catalog entry, when the model was chosen by name.
    pub entry: Option<CatalogEntry>,
}

/// The folders searched for model files, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPath {
    dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// `$NOTEDRAFT_MODELS_DIR` (if set), `./models`, then the user data folder.
    pub fn from_env() -> Self {
        let mut dirs = Vec::new();
        if let Some(dir) = std::env::var_os(MODELS_DIR_ENV).filter(|d| !d.is_empty()) {
            dirs.push(PathBuf::from(dir));
        }
        dirs.push(PathBuf::from("models"));
        if let Some(data) = dirs::data_dir() {
            dirs.push(data.join("notedraft").join("models"));
        }
        Self { dirs }
    }

    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The first folder's copy of `file`, if any.
    pub fn find(&self, file: &str) -> Option<PathBuf> {
        self.dirs.iter().map(|d| d.join(file)).find(|p| p.is_file())
    }
}

/// Find the model file to load for `spec` (a name or a path; `None` means the default model).
pub fn resolve(spec: Option<&str>) -> Result<ResolvedModel, ModelError> {
    resolve_in(spec, Catalog::builtin(), &SearchPath::from_env())
}

/// [`resolve`] with an explicit catalog and search path.
pub fn resolve_in(
    spec: Option<&str>,
    catalog: &Catalog,
    search: &SearchPath,
) -> Result<ResolvedModel, ModelError> {
    let spec = spec
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_MODEL);
    if let Some(entry) = catalog.get(spec) {
        let path = search
            .find(&entry.file)
            .ok_or_else(|| ModelError::NotInstalled {
                name: entry.name.clone(),
                searched: search.dirs().to_vec(),
            })?;
        let found = file_size(&path)?;
        if !entry.known_sizes().contains(&found) {
            return Err(ModelError::WrongSize {
                name: entry.name.clone(),
                path,
                found,
                expected: entry.official.size,
            });
        }
        check_magic(&path)?;
        return Ok(ResolvedModel {
            name: entry.name.clone(),
            path,
            entry: Some(entry.clone()),
        });
    }

    let path = PathBuf::from(spec);
    if path.is_file() {
        check_magic(&path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| spec.to_string());
        return Ok(ResolvedModel {
            name,
            path,
            entry: None,
        });
    }
    if looks_like_path(spec) {
        return Err(ModelError::FileMissing { path });
    }
    Err(ModelError::UnknownName {
        name: spec.to_string(),
    })
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains('/') || spec.contains(std::path::MAIN_SEPARATOR) || spec.ends_with(".bin")
}

fn file_size(path: &Path) -> Result<u64, ModelError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// A ggml model starts with the magic number; anything else (an audio file, a download error page) is not one.
fn check_magic(path: &Path) -> Result<(), ModelError> {
    let mut magic = [0u8; 4];
    let read = File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    match read {
        Ok(()) if u32::from_le_bytes(magic) == GGML_MAGIC => Ok(()),
        Ok(()) => Err(ModelError::NotAModel {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(ModelError::NotAModel {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(ModelError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether an installed model file checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// It matches a published fingerprint.
    Verified(Fingerprint),
    /// It matches none: damaged, incomplete or a different file.
    Mismatch {
        size: u64,
        sha256: String,
    },
    /// The catalog has no fingerprint for this model, so it could not be checked.
    NoFingerprint {
        size: u64,
        sha256: String,
    },
    NotInstalled,
}

impl VerifyOutcome {
    /// True unless the file is missing or does not match.
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            VerifyOutcome::Verified(_) | VerifyOutcome::NoFingerprint { .. }
        )
    }
}

/// The check of one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyResult {
    pub name: String,
    pub path: Option<PathBuf>,
    pub outcome: VerifyOutcome,
}

/// Check a model file against the catalog's fingerprints for `entry` (the sha256 is streamed).
pub fn verify_file(entry: &CatalogEntry, path: &Path) -> Result<VerifyOutcome, ModelError> {
    let size = file_size(path)?;
    let sha256 = crate::store::sha256_file(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(match entry.identify(size, &sha256) {
        Some(fingerprint) => VerifyOutcome::Verified(fingerprint),
        None if entry.has_fingerprint() => VerifyOutcome::Mismatch { size, sha256 },
        None => VerifyOutcome::NoFingerprint { size, sha256 },
    })
}

/// Check the named model, or every installed one when `name` is `None`.
pub fn verify(name: Option<&str>) -> Result<Vec<VerifyResult>, ModelError> {
    verify_in(name, Catalog::builtin(), &SearchPath::from_env())
}

/// [`verify`] with an explicit catalog and search path.
pub fn verify_in(
    name: Option<&str>,
    catalog: &Catalog,
    search: &SearchPath,
) -> Result<Vec<VerifyResult>, ModelError> {
    let entries: Vec<&CatalogEntry> = match name {
        Some(name) => vec![catalog.get(name).ok_or_else(|| ModelError::UnknownName {
            name: name.to_string(),
        })?],
        None => catalog
            .models()
            .iter()
            .filter(|m| search.find(&m.file).is_some())
            .collect(),
    };
    entries
        .into_iter()
        .map(|entry| {
            let path = search.find(&entry.file);
            let outcome = match &path {
                Some(p) => verify_file(entry, p)?,
                None => VerifyOutcome::NotInstalled,
            };
            Ok(VerifyResult {
                name: entry.name.clone(),
                path,
                outcome,
            })
        })
        .collect()
}

/// What `notedraft models list` shows for one model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelStatus {
    pub name: String,
    pub description: String,
    /// Size of the official file in bytes.
    pub size: u64,
    pub installed: Option<PathBuf>,
    pub verified: Verified,
    pub is_default: bool,
    /// Whether fetch-model.sh can make it without the official download (from PyPI wheels).
    pub convertible: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    Yes(Fingerprint),
    No,
    /// Not installed, or no fingerprint to check against.
    Unknown,
}

/// Every catalog model with where (and whether) it is installed, checking installed files' sha256.
pub fn list() -> Result<Vec<ModelStatus>, ModelError> {
    list_in(Catalog::builtin(), &SearchPath::from_env())
}

/// [`list`] with an explicit catalog and search path.
pub fn list_in(catalog: &Catalog, search: &SearchPath) -> Result<Vec<ModelStatus>, ModelError> {
    catalog
        .models()
        .iter()
        .map(|entry| {
            let installed = search.find(&entry.file);
            let verified = match &installed {
                Some(path) => match verify_file(entry, path)? {
                    VerifyOutcome::Verified(f) => Verified::Yes(f),
                    VerifyOutcome::Mismatch { .. } => Verified::No,
                    VerifyOutcome::NoFingerprint { .. } | VerifyOutcome::NotInstalled => {
                        Verified::Unknown
                    }
                },
                None => Verified::Unknown,
            };
            Ok(ModelStatus {
                name: entry.name.clone(),
                description: entry.description.clone(),
                size: entry.official.size,
                installed,
                verified,
                is_default: entry.name == DEFAULT_MODEL,
                convertible: entry.converted.is_some(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder() {
        assert!(Catalog::builtin().get("base").is_some());
    }
}

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
    use std::fs;

    #[test]
    fn the_builtin_catalog_parses_and_has_the_convertible_models() {
        let catalog = Catalog::builtin();
        let default = catalog
            .get(DEFAULT_MODEL)
            .expect("the default model is listed");
        assert_eq!(default.file, "ggml-base.bin");
        for name in ["tiny.en", "base"] {
            let m = catalog.get(name).expect(name);
            let converted = m.converted.as_ref().expect("convertible here");
            assert!(
                converted.packages.iter().all(|p| p.contains("==")),
                "pinned versions"
            );
            // A correct conversion has exactly the official file's size.
            assert_eq!(converted.size, m.official.size);
        }
        assert_eq!(
            catalog.get("tiny.en").map(|m| m.official.size),
            Some(77_704_715)
        );
        assert_eq!(
            catalog.get("base").map(|m| m.official.size),
            Some(147_951_465)
        );
        for name in ["base.en", "small.en", "small", "tiny", "medium.en"] {
            assert!(catalog.get(name).is_some(), "{name} is listed");
        }
        for m in catalog.models() {
            assert_eq!(
                m.official.url,
                format!(
                    "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/{}",
                    m.file
                )
            );
        }
    }

    #[test]
    fn unknown_keys_duplicates_and_bad_hashes_are_rejected() {
        let entry = |name: &str, extra: &str| {
            format!(
                "[[model]]\nname = \"{name}\"\nfile = \"ggml-{name}.bin\"\ndescription = \"d\"\n{extra}\n\
                 [model.official]\nurl = \"u\"\nsize = 1\n"
            )
        };
        assert!(Catalog::parse(&entry("a", "")).is_ok());
        let err = Catalog::parse(&entry("a", "colour = \"red\"")).expect_err("unknown key");
        assert!(err.contains("colour"), "{err}");
        assert!(Catalog::parse(&format!("{}{}", entry("a", ""), entry("a", ""))).is_err());
        let bad_file = entry("a", "").replace("ggml-a.bin", "a.bin");
        assert!(Catalog::parse(&bad_file).is_err());
        let bad_hash = format!("{}sha256 = \"ABC\"\n", entry("a", ""));
        assert!(
            Catalog::parse(&bad_hash)
                .expect_err("bad hash")
                .contains("malformed")
        );
    }

    /// A catalog whose files are small, with fingerprints of known contents. The test files start with
    /// "lmgg": the ggml magic number as it lies on disk (little-endian).
    fn small_catalog() -> Catalog {
        let official = crate::store::sha256_hex(b"lmgg official");
        let converted = crate::store::sha256_hex(b"lmgg converted!");
        Catalog::parse(&format!(
            r#"
[[model]]
name = "base"
file = "ggml-base.bin"
description = "test"
[model.official]
url = "https://example.invalid/ggml-base.bin"
size = 13
sha256 = "{official}"
[model.converted]
packages = ["p==1"]
dirs = ["d"]
size = 15
sha256 = "{converted}"

[[model]]
name = "tiny.en"
file = "ggml-tiny.en.bin"
description = "test"
[model.official]
url = "https://example.invalid/ggml-tiny.en.bin"
size = 13
"#
        ))
        .expect("test catalog parses")
    }

    struct Dirs {
        _root: tempfile::TempDir,
        first: PathBuf,
        second: PathBuf,
    }

    fn dirs() -> Dirs {
        let root = tempfile::tempdir().expect("temp dir");
        let first = root.path().join("first");
        let second = root.path().join("second");
        fs::create_dir_all(&first).expect("first");
        fs::create_dir_all(&second).expect("second");
        Dirs {
            _root: root,
            first,
            second,
        }
    }

    impl Dirs {
        fn search(&self) -> SearchPath {
            SearchPath::new(vec![self.first.clone(), self.second.clone()])
        }
    }

    #[test]
    fn a_missing_default_model_names_the_command_that_installs_it() {
        let d = dirs();
        let err = resolve_in(None, &small_catalog(), &d.search()).expect_err("not installed");
        assert_eq!(
            err.to_string(),
            "the speech model \"base\" is not installed: run scripts/fetch-model.sh base"
        );
        assert!(matches!(&err, ModelError::NotInstalled { searched, .. } if searched.len() == 2));
    }

    #[test]
    fn an_unknown_name_points_to_the_list() {
        let d = dirs();
        let err = resolve_in(Some("bsae"), &small_catalog(), &d.search()).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "there is no speech model called \"bsae\": run notedraft models list to see the names"
        );
    }

    #[test]
    fn names_are_looked_up_in_the_folders_in_order() {
        let d = dirs();
        let catalog = small_catalog();
        fs::write(d.second.join("ggml-base.bin"), b"lmgg official").expect("write");
        let found = resolve_in(Some("base"), &catalog, &d.search()).expect("found");
        assert_eq!(found.path, d.second.join("ggml-base.bin"));
        assert_eq!(found.name, "base");
        assert!(found.entry.is_some());

        fs::write(d.first.join("ggml-base.bin"), b"lmgg converted!").expect("write");
        let found = resolve_in(None, &catalog, &d.search()).expect("found");
        assert_eq!(
            found.path,
            d.first.join("ggml-base.bin"),
            "the first folder wins"
        );
    }

    #[test]
    fn a_model_file_of_the_wrong_size_is_reported_as_damaged() {
        let d = dirs();
        fs::write(d.first.join("ggml-base.bin"), b"lmgg cut").expect("write");
        let err = resolve_in(Some("base"), &small_catalog(), &d.search()).expect_err("damaged");
        assert!(
            matches!(
                err,
                ModelError::WrongSize {
                    found: 8,
                    expected: 13,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .ends_with("run scripts/fetch-model.sh base to replace it")
        );
    }

    #[test]
    fn a_path_is_used_as_given_and_checked() {
        let d = dirs();
        let catalog = small_catalog();
        let file = d.first.join("my-model.bin");
        fs::write(&file, b"lmgg and more").expect("write");
        let spec = file.to_string_lossy().into_owned();
        let found = resolve_in(Some(&spec), &catalog, &d.search()).expect("path works");
        assert_eq!(found.path, file);
        assert_eq!(found.name, "my-model.bin");
        assert!(found.entry.is_none());

        let missing = d.first.join("nope.bin").to_string_lossy().into_owned();
        let err = resolve_in(Some(&missing), &catalog, &d.search()).expect_err("missing");
        assert!(matches!(err, ModelError::FileMissing { .. }), "{err}");
        assert!(err.to_string().contains("does not exist"));

        let audio = d.first.join("memo.wav");
        fs::write(&audio, b"RIFF....WAVE").expect("write");
        let spec = audio.to_string_lossy().into_owned();
        let err = resolve_in(Some(&spec), &catalog, &d.search()).expect_err("not a model");
        assert!(matches!(err, ModelError::NotAModel { .. }), "{err}");
        let empty = d.first.join("empty.bin");
        fs::write(&empty, b"").expect("write");
        let spec = empty.to_string_lossy().into_owned();
        let err = resolve_in(Some(&spec), &catalog, &d.search()).expect_err("empty");
        assert!(matches!(err, ModelError::NotAModel { .. }), "{err}");
    }

    #[test]
    fn verify_tells_official_converted_and_damaged_files_apart() {
        let d = dirs();
        let catalog = small_catalog();
        assert!(
            verify_in(None, &catalog, &d.search())
                .expect("ok")
                .is_empty()
        );

        fs::write(d.first.join("ggml-base.bin"), b"lmgg official").expect("write");
        let r = verify_in(Some("base"), &catalog, &d.search()).expect("ok");
        assert_eq!(r[0].outcome, VerifyOutcome::Verified(Fingerprint::Official));

        fs::write(d.first.join("ggml-base.bin"), b"lmgg converted!").expect("write");
        let r = verify_in(None, &catalog, &d.search()).expect("ok");
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].outcome,
            VerifyOutcome::Verified(Fingerprint::Converted)
        );
        assert!(r[0].outcome.is_ok());

        fs::write(d.first.join("ggml-base.bin"), b"lmgg tampered").expect("write");
        let r = verify_in(Some("base"), &catalog, &d.search()).expect("ok");
        assert!(matches!(
            &r[0].outcome,
            VerifyOutcome::Mismatch { size: 13, .. }
        ));
        assert!(!r[0].outcome.is_ok());

        let r = verify_in(Some("tiny.en"), &catalog, &d.search()).expect("ok");
        assert_eq!(r[0].outcome, VerifyOutcome::NotInstalled);
        assert!(!r[0].outcome.is_ok());
        fs::write(d.second.join("ggml-tiny.en.bin"), b"lmgg whatever").expect("write");
        let r = verify_in(Some("tiny.en"), &catalog, &d.search()).expect("ok");
        assert!(matches!(r[0].outcome, VerifyOutcome::NoFingerprint { .. }));

        let err = verify_in(Some("huge"), &catalog, &d.search()).expect_err("unknown");
        assert!(matches!(err, ModelError::UnknownName { .. }));
    }

    #[test]
    fn list_shows_installed_and_checked_models() {
        let d = dirs();
        let catalog = small_catalog();
        fs::write(d.second.join("ggml-base.bin"), b"lmgg converted!").expect("write");
        let list = list_in(&catalog, &d.search()).expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "base");
        assert!(list[0].is_default);
        assert!(list[0].convertible);
        assert_eq!(list[0].installed, Some(d.second.join("ggml-base.bin")));
        assert_eq!(list[0].verified, Verified::Yes(Fingerprint::Converted));
        assert_eq!(list[1].installed, None);
        assert_eq!(list[1].verified, Verified::Unknown);
        assert!(!list[1].convertible);
    }

    #[test]
    fn identify_needs_both_size_and_hash() {
        let catalog = small_catalog();
        let base = catalog.get("base").expect("base");
        let official = crate::store::sha256_hex(b"lmgg official");
        assert_eq!(base.identify(13, &official), Some(Fingerprint::Official));
        assert_eq!(base.identify(14, &official), None);
        assert_eq!(base.known_sizes(), vec![13, 15]);
    }
}

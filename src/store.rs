//! Where files go: atomic writes, owner-only permissions, never clobbering a draft the clinician edited.
//!
//! Every draft set (`STEM.draft.md`, `STEM.draft.json`, `STEM.process-note.md`) has a hidden ledger
//! `.STEM.notedraft.json` beside it that records the hash of every version notedraft wrote. A file
//! whose hash is not in the ledger was changed by someone else, so the new draft goes beside it.
//! The ledger is written before the files it describes: an interrupted write leaves either the old
//! file or the new one, and both are recognised as ours.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "could not create the folder {path} ({source}): check that it is writable or choose another with --out"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "could not write {path} ({source}): check free disk space and that the folder is writable"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Create `dir` and any missing parents, readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so readers see
/// the old file or the whole new one, never a part. The file is readable by the owner only.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let write_err = |source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    // tempfile creates the file with mode 0600, so the contents are never visible to others.
    let mut tmp = tempfile::Builder::new()
        .prefix(".notedraft-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// Owner-only permission bits of a path (for tests and checks).
pub fn mode_of(path: &Path) -> std::io::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o777)
}

/// Hex sha256 of a byte string.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Hex sha256 of a file, read in pieces so large recordings need little memory.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The contents of one draft set, ready to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct DraftFiles {
    pub markdown: String,
    pub json: String,
    /// The private process note; `None` when the dictation had none.
    pub process_note: Option<String>,
}

/// What identifies the dictation a draft was made from, so a re-run can tell it is up to date.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftOrigin {
    /// Hash of the audio (or text) the draft was made from.
    pub input_sha256: String,
    /// Path of the input as given.
    pub input_path: String,
    /// Note format and model name, so a change of either makes the draft out of date.
    pub format: String,
    pub model: Option<String>,
}

/// Where a draft set ended up.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedDraft {
    pub stem: String,
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub process_note: Option<PathBuf>,
    /// Set when an edited draft was found under the requested name and left untouched.
    pub edited_draft_kept: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Ledger {
    origin: DraftOrigin,
    /// File name -> every sha256 notedraft has written under that name.
    written: BTreeMap<String, Vec<String>>,
}

/// A folder of drafts.
#[derive(Clone, Debug)]
pub struct DraftStore {
    dir: PathBuf,
}

impl DraftStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Paths of the draft set named `stem` (whether or not it exists).
    pub fn paths(&self, stem: &str) -> (PathBuf, PathBuf, PathBuf) {
        (
            self.dir.join(format!("{stem}.draft.md")),
            self.dir.join(format!("{stem}.draft.json")),
            self.dir.join(format!("{stem}.process-note.md")),
        )
    }

    /// The draft set made from the input with this hash, format and model, if one is complete on disk.
    pub fn find_up_to_date(&self, origin: &DraftOrigin) -> Option<SavedDraft> {
        let entries = fs::read_dir(&self.dir).ok()?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(".notedraft.json"))
            else {
                continue;
            };
            let Some(ledger) = self.read_ledger(stem) else {
                continue;
            };
            if ledger.origin.input_sha256 != origin.input_sha256
                || ledger.origin.format != origin.format
                || ledger.origin.model != origin.model
            {
                continue;
            }
            let (md, json, process) = self.paths(stem);
            if md.is_file() && json.is_file() {
                return Some(SavedDraft {
                    stem: stem.to_string(),
                    markdown: md,
                    json,
                    process_note: process.is_file().then_some(process),
                    edited_draft_kept: None,
                });
            }
        }
        None
    }

    /// Write a draft set under `stem`, or under the next free `stem-2`, `stem-3`, ... when the
    /// clinician has edited the files already there.
    pub fn save(
        &self,
        stem: &str,
        files: &DraftFiles,
        origin: &DraftOrigin,
    ) -> Result<SavedDraft, StoreError> {
        let mut chosen = stem.to_string();
        let mut edited_draft_kept = None;
        for n in 2.. {
            match self.first_edited_file(&chosen) {
                None => break,
                Some(edited) => {
                    edited_draft_kept.get_or_insert(edited);
                    chosen = format!("{stem}-{n}");
                }
            }
        }
        let (md, json, process) = self.paths(&chosen);
        let mut ledger = self.read_ledger(&chosen).unwrap_or_default();
        ledger.origin = origin.clone();
        let mut outputs: Vec<(&PathBuf, &str)> = vec![(&md, &files.markdown), (&json, &files.json)];
        if let Some(note) = &files.process_note {
            outputs.push((&process, note));
        }
        for (path, text) in &outputs {
            let hashes = ledger.written.entry(file_name(path)).or_default();
            let hash = sha256_hex(text.as_bytes());
            if !hashes.contains(&hash) {
                hashes.push(hash);
            }
        }
        self.write_ledger(&chosen, &ledger)?;
        for (path, text) in &outputs {
            write_private_atomic(path, text.as_bytes())?;
        }
        if files.process_note.is_none() && self.is_ours(&ledger, &process) {
            // A process note from an earlier version of this draft must not linger beside it.
            let _ = fs::remove_file(&process);
        }
        Ok(SavedDraft {
            stem: chosen,
            markdown: md,
            json,
            process_note: files.process_note.as_ref().map(|_| process),
            edited_draft_kept,
        })
    }

    /// A file of the set named `stem` that exists and that notedraft did not write as it is now.
    fn first_edited_file(&self, stem: &str) -> Option<PathBuf> {
        let ledger = self.read_ledger(stem).unwrap_or_default();
        let (md, json, process) = self.paths(stem);
        [md, json, process]
            .into_iter()
            .find(|path| path.exists() && !self.is_ours(&ledger, path))
    }

    fn is_ours(&self, ledger: &Ledger, path: &Path) -> bool {
        let Ok(hash) = sha256_file(path) else {
            return false;
        };
        ledger
            .written
            .get(&file_name(path))
            .is_some_and(|hashes| hashes.contains(&hash))
    }

    fn ledger_path(&self, stem: &str) -> PathBuf {
        self.dir.join(format!(".{stem}.notedraft.json"))
    }

    fn read_ledger(&self, stem: &str) -> Option<Ledger> {
        let text = fs::read_to_string(self.ledger_path(stem)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn write_ledger(&self, stem: &str, ledger: &Ledger) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(ledger).unwrap_or_default();
        write_private_atomic(&self.ledger_path(stem), text.as_bytes())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A file-name stem safe on every file system, from an input name such as "Memo 3 (Jo).m4a".
pub fn safe_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = stem.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "dictation".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(text: &str, process: Option<&str>) -> DraftFiles {
        DraftFiles {
            markdown: format!("# UNSIGNED DRAFT\n{text}\n"),
            json: format!("{{\"text\":\"{text}\"}}"),
            process_note: process.map(str::to_string),
        }
    }

    fn origin(hash: &str) -> DraftOrigin {
        DraftOrigin {
            input_sha256: hash.into(),
            input_path: "memo.wav".into(),
            format: "soap".into(),
            model: Some("base".into()),
        }
    }

    #[test]
    fn atomic_write_is_owner_only_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/note.md");
        write_private_atomic(&path, b"hello").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "hello");
        assert_eq!(mode_of(&path).unwrap(), 0o600);
        assert_eq!(mode_of(path.parent().unwrap()).unwrap(), 0o700);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn rewriting_an_unedited_draft_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        store
            .save("memo", &files("one", None), &origin("a"))
            .unwrap();
        let saved = store
            .save("memo", &files("two", None), &origin("a"))
            .unwrap();
        assert_eq!(saved.stem, "memo");
        assert_eq!(saved.edited_draft_kept, None);
        assert!(fs::read_to_string(&saved.markdown).unwrap().contains("two"));
    }

    #[test]
    fn an_edited_draft_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        let first = store
            .save("memo", &files("one", None), &origin("a"))
            .unwrap();
        fs::write(&first.markdown, "clinician's edits").unwrap();
        let second = store
            .save("memo", &files("two", None), &origin("b"))
            .unwrap();
        assert_eq!(second.stem, "memo-2");
        assert_eq!(
            second.edited_draft_kept.as_deref(),
            Some(first.markdown.as_path())
        );
        assert_eq!(
            fs::read_to_string(&first.markdown).unwrap(),
            "clinician's edits"
        );
        assert!(
            fs::read_to_string(&second.markdown)
                .unwrap()
                .contains("two")
        );
        // A third run finds memo-2 unedited and replaces it, leaving the edited one alone.
        let third = store
            .save("memo", &files("three", None), &origin("c"))
            .unwrap();
        assert_eq!(third.stem, "memo-2");
    }

    #[test]
    fn a_file_notedraft_never_wrote_counts_as_edited() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("memo.draft.md"), "typed by hand").unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        let saved = store.save("memo", &files("x", None), &origin("a")).unwrap();
        assert_eq!(saved.stem, "memo-2");
    }

    #[test]
    fn up_to_date_lookup_uses_the_input_hash_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        store
            .save("memo", &files("x", None), &origin("abc"))
            .unwrap();
        assert_eq!(store.find_up_to_date(&origin("abc")).unwrap().stem, "memo");
        assert!(store.find_up_to_date(&origin("def")).is_none());
        let mut dap = origin("abc");
        dap.format = "dap".into();
        assert!(store.find_up_to_date(&dap).is_none());
    }

    #[test]
    fn a_stale_process_note_is_removed_but_an_edited_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = DraftStore::open(dir.path()).unwrap();
        let first = store
            .save("m", &files("x", Some("private")), &origin("a"))
            .unwrap();
        let process = first.process_note.unwrap();
        assert_eq!(mode_of(&process).unwrap(), 0o600);
        let second = store.save("m", &files("y", None), &origin("a")).unwrap();
        assert_eq!(second.stem, "m");
        assert!(!process.exists());
    }

    #[test]
    fn stems_are_safe_file_names() {
        assert_eq!(safe_stem("Memo 3 (Jo)"), "Memo-3--Jo");
        assert_eq!(safe_stem("../.."), "dictation");
    }
}

//! The per-file cache of lowering under the project root, `.racelint_cache/`: what
//! lowering one file gave (its model, or that nothing of it is kept, and its parse
//! problems), so that a run reads an unchanged file's model instead of parsing it.
//!
//! An entry is found by the file's path below the root and trusted only when its
//! key matches: a hash of racelint's version and build, the file's configuration,
//! its path and its text. The bytes carry a checksum; anything that does not read
//! back whole (truncated, garbled, another build's) is a miss, and the file is
//! lowered again. Entries are written to a temporary file and renamed, so a
//! concurrent run sees an old entry or a new one, never half of one. A run that
//! saw the whole project removes the entries of files it did not meet.
//!
//! The folder ignores itself (a `.gitignore` of `*`) and carries a `CACHEDIR.TAG`,
//! as ruff's `.ruff_cache` does, so it is never committed or backed up.

use crate::diagnostic::ErrorKind;
use crate::ir::FileModel;
use crate::source::Position;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// The folder's name, below the project root.
pub const FOLDER: &str = ".racelint_cache";

/// The first bytes of every entry; a change of layout changes them.
const MAGIC: &[u8; 8] = b"RLCACHE1";
const HEADER: usize = MAGIC.len() + 16 + 8;

/// An entry of a file this run did not meet is removed once it is this old, so
/// that a run over an older tree does not delete what a concurrent run just wrote.
const PRUNE_AFTER: Duration = Duration::from_secs(600);

const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by racelint.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// What lowering one file gave, as stored.
#[derive(Serialize, Deserialize)]
pub struct Entry {
    /// `None`: the file has nothing the rules or the project stage use.
    pub model: Option<FileModel>,
    /// Its parse problems, without the path (the display path depends on where
    /// racelint runs from).
    pub problems: Vec<(ErrorKind, String, Option<Position>)>,
}

/// An [`Entry`] to write, borrowed from the run (the same bytes).
#[derive(Serialize)]
struct EntryOut<'a> {
    model: Option<&'a FileModel>,
    problems: &'a [(ErrorKind, String, Option<Position>)],
}

/// `RACELINT_NO_CACHE` set to anything but empty or `0`.
pub fn disabled_by_env() -> bool {
    std::env::var_os("RACELINT_NO_CACHE").is_some_and(|v| !v.is_empty() && v != "0")
}

pub struct Cache {
    root: PathBuf,
    entries: PathBuf,
    /// racelint's version and build: an entry of another binary never matches.
    tool: u128,
    /// The entries this run looked up, by name.
    seen: Mutex<HashSet<u64>>,
    /// A write failed: the run goes on without writing, warned once.
    failed: AtomicBool,
    temporaries: AtomicU64,
}

impl Cache {
    /// The cache of the project at `root`, created when missing. `None`, after one
    /// warning on stderr, when the folder cannot be made (a read-only checkout).
    pub fn open(root: &Path) -> Option<Cache> {
        let folder = root.join(FOLDER);
        let entries = folder.join("entries");
        let made = std::fs::create_dir_all(&entries).and_then(|()| {
            for (name, text) in [(".gitignore", "*\n"), ("CACHEDIR.TAG", TAG)] {
                let path = folder.join(name);
                if !path.exists() {
                    std::fs::write(path, text)?;
                }
            }
            Ok(())
        });
        if let Err(e) = made {
            eprintln!(
                "racelint: warning: cannot use the cache in {}: {e}; running without it",
                folder.display()
            );
            return None;
        }
        Some(Cache {
            root: root.to_path_buf(),
            entries,
            tool: tool_identity(),
            seen: Mutex::new(HashSet::new()),
            failed: AtomicBool::new(false),
            temporaries: AtomicU64::new(0),
        })
    }

    /// The path of `path` below the root, `/`-separated; `None` outside it.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let absolute = crate::discover::absolute(path);
        let rel = absolute.strip_prefix(&self.root).ok()?;
        Some(rel.to_string_lossy().replace('\\', "/"))
    }

    /// The key an entry for this file must carry: `config` is the hash of the
    /// configuration that applies to it.
    pub fn key(&self, config: u64, rel: &str, text: &str) -> u128 {
        let mut hasher = Xxh3::new();
        hasher.update(&self.tool.to_le_bytes());
        hasher.update(&config.to_le_bytes());
        hasher.update(&(rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update(text.as_bytes());
        hasher.digest128()
    }

    fn name(&self, rel: &str) -> u64 {
        let name = xxh3_64(rel.as_bytes());
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(name);
        }
        name
    }

    fn path_of(&self, name: u64) -> PathBuf {
        self.entries.join(format!("{name:016x}"))
    }

    /// The entry of `rel` when it is whole and carries `key`.
    pub fn get(&self, rel: &str, key: u128) -> Option<Entry> {
        let bytes = std::fs::read(self.path_of(self.name(rel))).ok()?;
        decode(&bytes, key)
    }

    /// Stores what lowering `rel` gave under `key`, replacing any older entry at once.
    pub fn put(
        &self,
        rel: &str,
        key: u128,
        model: Option<&FileModel>,
        problems: &[(ErrorKind, String, Option<Position>)],
    ) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let Some(bytes) = encode(&EntryOut { model, problems }, key) else {
            return;
        };
        let target = self.path_of(self.name(rel));
        let temporary = self.entries.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.temporaries.fetch_add(1, Ordering::Relaxed)
        ));
        let written =
            std::fs::write(&temporary, &bytes).and_then(|()| std::fs::rename(&temporary, &target));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            if !self.failed.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "racelint: warning: cannot write to the cache in {}: {e}; \
                     going on without writing",
                    self.entries.display()
                );
            }
        }
    }

    /// Removes the entries (and leftover temporary files) this run did not meet
    /// and that nobody wrote in the last minutes: the files they were for are
    /// gone, renamed or out of the project. Only a run that met every file of the
    /// project may call it.
    pub fn prune(&self) {
        let Ok(seen) = self.seen.lock() else {
            return;
        };
        let Ok(listing) = std::fs::read_dir(&self.entries) else {
            return;
        };
        let now = SystemTime::now();
        for item in listing.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            if u64::from_str_radix(&name, 16).is_ok_and(|n| name.len() == 16 && seen.contains(&n)) {
                continue;
            }
            let old = item
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > PRUNE_AFTER));
            if old {
                let _ = std::fs::remove_file(item.path());
            }
        }
    }
}

/// Magic, key, checksum of the payload, payload (postcard).
fn encode(entry: &EntryOut, key: u128) -> Option<Vec<u8>> {
    let payload = postcard::to_stdvec(entry).ok()?;
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&key.to_le_bytes());
    bytes.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    Some(bytes)
}

fn decode(bytes: &[u8], key: u128) -> Option<Entry> {
    if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let stored_key = u128::from_le_bytes(bytes[8..24].try_into().ok()?);
    let checksum = u64::from_le_bytes(bytes[24..32].try_into().ok()?);
    let payload = &bytes[HEADER..];
    if stored_key != key || xxh3_64(payload) != checksum {
        return None;
    }
    match postcard::take_from_bytes::<Entry>(payload) {
        Ok((entry, [])) => Some(entry),
        _ => None,
    }
}

/// racelint's version and this very binary (its size and modification time), so
/// that a rebuild with another model layout never reads an older build's entries.
fn tool_identity() -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    if let Some(meta) = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
    {
        hasher.update(&meta.len().to_le_bytes());
        if let Some(at) = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        {
            hasher.update(&at.as_nanos().to_le_bytes());
        }
    }
    hasher.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> FileModel {
        let mut model = FileModel::default();
        model.functions.push(crate::ir::Function::new(
            "createInvite".into(),
            Default::default(),
        ));
        model
    }

    const PROBLEMS: &[(ErrorKind, String, Option<Position>)] = &[];

    #[test]
    fn an_entry_reads_back_only_whole_and_under_its_key() {
        let problems = vec![(ErrorKind::ParseError, "unexpected `}`".to_string(), None)];
        let out = EntryOut {
            model: Some(&model()),
            problems: &problems,
        };
        let bytes = encode(&out, 7).unwrap();
        let back = decode(&bytes, 7).expect("whole entry reads back");
        assert_eq!(back.model.unwrap().functions[0].name, "createInvite");
        assert_eq!(back.problems.len(), 1);
        assert!(decode(&bytes, 8).is_none(), "another key");
        for cut in [0, 5, HEADER, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], 7).is_none(), "truncated at {cut}");
        }
        let mut garbled = bytes.clone();
        let last = garbled.len() - 1;
        garbled[last] ^= 0x55;
        assert!(decode(&garbled, 7).is_none(), "garbled payload");
    }

    #[test]
    fn the_folder_ignores_itself_and_prunes_what_it_did_not_meet() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let folder = dir.path().join(FOLDER);
        assert_eq!(
            std::fs::read_to_string(folder.join(".gitignore")).unwrap(),
            "*\n"
        );
        assert!(std::fs::read_to_string(folder.join("CACHEDIR.TAG"))
            .unwrap()
            .starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
        let key = cache.key(1, "src/a.ts", "text");
        cache.put("src/a.ts", key, Some(&model()), PROBLEMS);
        assert!(cache.get("src/a.ts", key).is_some());
        assert!(cache
            .get("src/a.ts", cache.key(2, "src/a.ts", "text"))
            .is_none());
        // A file of an earlier run, old enough, that this run never met.
        let stale = cache
            .entries
            .join(format!("{:016x}", xxh3_64(b"src/gone.ts")));
        std::fs::write(&stale, b"old").unwrap();
        let long_ago = SystemTime::now() - 2 * PRUNE_AFTER;
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        cache.prune();
        assert!(!stale.exists());
        assert!(cache.path_of(xxh3_64(b"src/a.ts")).exists());
    }
}

//! The store of what earlier calls learnt: one SQLite file (`memory.db` in the data directory),
//! readable by its owner only, shared by every profile (a profile is a column, never a file).
//!
//! One table of memories, each a fact the user told (with the words it came from and when) or a
//! call's summary, and an FTS5 index over them for "what did I tell you about X". Forgetting
//! leaves nothing behind on disk: `secure_delete` zeroes the deleted content in the table's pages,
//! the index has FTS5's `secure-delete` option, and the write-ahead log, which still holds the
//! pages as they were, is checkpointed and truncated.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Row, params};
use serde::Serialize;

/// The database's file name in the data directory.
pub const DB_FILE: &str = "memory.db";

/// How long a statement waits for another process's lock before the store gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The schema; every statement may run again on an existing store.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    profile TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fact', 'call')),
    text TEXT NOT NULL,
    said TEXT NOT NULL,
    at INTEGER NOT NULL,
    times INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS memories_by_profile ON memories (profile, kind, at);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, said, content = 'memories', content_rowid = 'id', tokenize = 'porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_added AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text, said) VALUES (new.id, new.text, new.said);
END;
CREATE TRIGGER IF NOT EXISTS memories_deleted AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text, said)
        VALUES ('delete', old.id, old.text, old.said);
END;
CREATE TRIGGER IF NOT EXISTS memories_changed AFTER UPDATE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text, said)
        VALUES ('delete', old.id, old.text, old.said);
    INSERT INTO memories_fts (rowid, text, said) VALUES (new.id, new.text, new.said);
END;
INSERT INTO memories_fts (memories_fts, rank) VALUES ('secure-delete', 1);
PRAGMA user_version = 1;
";

/// The columns every query of memories selects, in [`Memory::from_row`]'s order.
const COLUMNS: &str = "m.id, m.profile, m.kind, m.text, m.said, m.at, \
    strftime('%Y-%m-%d %H:%M', m.at, 'unixepoch', 'localtime'), m.times";

/// Why the store cannot be used; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a database, or a damaged one.
    #[error(
        "the memory database {path} is damaged ({cause}); move it away, or run `duplex memory forget --all` to remove it"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        cause: String,
    },
    /// Another program holds the database's lock.
    #[error(
        "the memory database {path} is locked by another program ({cause}); close it (another duplex?) or move the file away"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        cause: String,
    },
    /// Anything else (permissions, a full disk, ...).
    #[error("cannot use the memory database {path}: {cause}")]
    Unusable {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        cause: String,
    },
}

impl StoreError {
    fn from_sqlite(path: &Path, e: &rusqlite::Error) -> Self {
        let (path, cause) = (path.to_owned(), e.to_string());
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::Damaged { path, cause }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::Locked { path, cause }
            }
            _ => Self::Unusable { path, cause },
        }
    }
}

/// What a memory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Something the user told about themselves or their life.
    Fact,
    /// The summary of one call.
    Call,
}

/// One memory as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Its id (for `duplex memory forget ID`).
    pub id: i64,
    /// Whose: `local`, or a browser's profile.
    pub profile: String,
    /// A fact or a call's summary.
    pub kind: Kind,
    /// The fact as kept, or the summary.
    pub text: String,
    /// The user's words it came from (empty for a summary).
    pub said: String,
    /// When it was last said (Unix seconds).
    pub at: i64,
    /// The same, as local time.
    pub when: String,
    /// How many times it was said.
    pub times: i64,
}

impl Memory {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let kind: String = row.get(2)?;
        Ok(Self {
            id: row.get(0)?,
            profile: row.get(1)?,
            kind: if kind == "call" {
                Kind::Call
            } else {
                Kind::Fact
            },
            text: row.get(3)?,
            said: row.get(4)?,
            at: row.get(5)?,
            when: row.get(6)?,
            times: row.get(7)?,
        })
    }
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Makes `dir` (and its parents) if missing, and keeps it to its owner (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))
}

impl Store {
    /// Opens the store in `dir`. With `create`, the directory (0700) and the file (0600) are
    /// made when missing; without, a missing file gives `Ok(None)` (nothing was ever kept).
    pub fn open(dir: &Path, create: bool) -> Result<Option<Self>, StoreError> {
        let path = dir.join(DB_FILE);
        let unusable = |e: std::io::Error| StoreError::Unusable {
            path: path.clone(),
            cause: e.to_string(),
        };
        if create {
            private_dir(dir).map_err(unusable)?;
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(unusable)?;
        } else if !path.exists() {
            return Ok(None);
        }
        let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(&path, &e);
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(sqlite)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(sqlite)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sqlite)?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(sqlite)?;
        if check != "ok" {
            return Err(StoreError::Damaged { path, cause: check });
        }
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        tracing::debug!(path = %path.display(), mode, "memory store open");
        Ok(Some(Self { conn, path }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, &e)
    }

    /// Keeps a fact of `profile`'s: a fact already kept (the same words) is said once more,
    /// now, instead of kept twice. Returns its id.
    pub fn add_fact(
        &self,
        profile: &str,
        text: &str,
        said: &str,
        at: i64,
    ) -> Result<i64, StoreError> {
        let known: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM memories WHERE profile = ?1 AND kind = 'fact' AND lower(text) = lower(?2)",
                params![profile, text],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.fail(e))?;
        match known {
            Some(id) => {
                self.conn
                    .execute(
                        "UPDATE memories SET at = ?2, said = ?3, times = times + 1 WHERE id = ?1",
                        params![id, at, said],
                    )
                    .map_err(|e| self.fail(e))?;
                Ok(id)
            }
            None => self.insert(profile, "fact", text, said, at),
        }
    }

    /// Keeps the summary of one of `profile`'s calls. Returns its id.
    pub fn add_summary(&self, profile: &str, summary: &str, at: i64) -> Result<i64, StoreError> {
        self.insert(profile, "call", summary, "", at)
    }

    fn insert(
        &self,
        profile: &str,
        kind: &str,
        text: &str,
        said: &str,
        at: i64,
    ) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO memories (profile, kind, text, said, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![profile, kind, text, said, at],
            )
            .map_err(|e| self.fail(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// `profile`'s memories (every profile's with `None`), newest first.
    pub fn list(&self, profile: Option<&str>) -> Result<Vec<Memory>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM memories m WHERE ?1 IS NULL OR m.profile = ?1 \
                 ORDER BY m.at DESC, m.id DESC"
            ),
            params![profile],
        )
    }

    /// `profile`'s `limit` most recent facts, newest first.
    pub fn recent_facts(&self, profile: &str, limit: usize) -> Result<Vec<Memory>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM memories m WHERE m.profile = ?1 AND m.kind = 'fact' \
                 ORDER BY m.at DESC, m.id DESC LIMIT ?2"
            ),
            params![profile, limit as i64],
        )
    }

    /// `profile`'s memories that mention any of `words` (or a longer word they begin), best
    /// match first.
    pub fn search(
        &self,
        profile: &str,
        words: &[String],
        limit: usize,
    ) -> Result<Vec<Memory>, StoreError> {
        let Some(query) = match_query(words) else {
            return Ok(Vec::new());
        };
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid \
                 WHERE memories_fts MATCH ?2 AND m.profile = ?1 \
                 ORDER BY bm25(memories_fts), m.at DESC LIMIT ?3"
            ),
            params![profile, query, limit as i64],
        )
    }

    fn query(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Memory>, StoreError> {
        let mut statement = self.conn.prepare(sql).map_err(|e| self.fail(e))?;
        let rows = statement
            .query_map(params, Memory::from_row)
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Forgets memory `id` (of `profile` only, when given); false if there was none.
    pub fn forget(&self, profile: Option<&str>, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM memories WHERE id = ?1 AND (?2 IS NULL OR profile = ?2)",
                params![id, profile],
            )
            .map_err(|e| self.fail(e))?;
        self.scrub()?;
        Ok(n > 0)
    }

    /// Forgets `profile`'s memories (facts and summaries) that mention any of `words`; returns
    /// how many.
    pub fn forget_matching(&self, profile: &str, words: &[String]) -> Result<usize, StoreError> {
        let Some(query) = match_query(words) else {
            return Ok(0);
        };
        let n = self
            .conn
            .execute(
                "DELETE FROM memories WHERE profile = ?1 AND id IN \
                 (SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?2)",
                params![profile, query],
            )
            .map_err(|e| self.fail(e))?;
        self.scrub()?;
        Ok(n)
    }

    /// Forgets all of `profile`'s memories (every profile's with `None`); returns how many.
    pub fn forget_all(&self, profile: Option<&str>) -> Result<usize, StoreError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM memories WHERE ?1 IS NULL OR profile = ?1",
                params![profile],
            )
            .map_err(|e| self.fail(e))?;
        self.scrub()?;
        Ok(n)
    }

    /// After a delete (whose text `secure_delete` zeroed in the table's pages, and FTS5's
    /// `secure-delete` took out of the index): copies the log into the database and truncates
    /// it, so that the deleted text is in no page of either file. Measured: without this, or
    /// without either `secure_delete` or the index's option, the text stays in the files.
    fn scrub(&self) -> Result<(), StoreError> {
        let (busy, log, copied): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.fail(e))?;
        if busy != 0 {
            tracing::warn!(
                "forgotten, but the memory database's log ({}-wal, {log} pages, {copied} copied) is in use by another call; it is cleared when that call ends",
                self.path.display()
            );
        }
        Ok(())
    }
}

/// An FTS5 query for any of `words` (each also as the start of a longer word); none when no
/// word has a letter or digit.
fn match_query(words: &[String]) -> Option<String> {
    let terms: Vec<String> = words
        .iter()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\"*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn facts_are_kept_once_searched_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), true).unwrap().unwrap();
        let a = store
            .add_fact(
                "local",
                "My dog is called Rex.",
                "Well, my dog is called Rex.",
                10,
            )
            .unwrap();
        let again = store
            .add_fact(
                "local",
                "my dog is called rex.",
                "My dog is called Rex.",
                20,
            )
            .unwrap();
        assert_eq!(a, again, "the same fact is kept once");
        store
            .add_fact("local", "I live in Lisbon.", "I live in Lisbon.", 30)
            .unwrap();
        store
            .add_fact(
                "web-1",
                "My dog is called Fido.",
                "My dog is called Fido.",
                40,
            )
            .unwrap();
        let recent = store.recent_facts("local", 10).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].text, "I live in Lisbon.");
        assert_eq!((recent[1].times, recent[1].at), (2, 20));
        let found = store.search("local", &words(&["dogs"]), 5).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].text, "My dog is called Rex.");
        assert_eq!(store.forget_matching("local", &words(&["dog"])).unwrap(), 1);
        assert!(
            store
                .search("local", &words(&["rex"]), 5)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.list(None).unwrap().len(),
            2,
            "the other profile keeps its dog"
        );
        assert!(!store.forget(Some("local"), a).unwrap());
        assert_eq!(store.forget_all(Some("web-1")).unwrap(), 1);
        assert_eq!(store.list(None).unwrap().len(), 1);
    }

    /// Whether any file of `dir` holds `needle` in its bytes (any case).
    fn on_disk(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let bytes = std::fs::read(e.unwrap().path())
                .unwrap()
                .to_ascii_lowercase();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    #[test]
    fn forgotten_words_leave_no_bytes_in_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), true).unwrap().unwrap();
        for i in 0..50 {
            store
                .add_fact("local", &format!("I keep jar number {i}."), "", i)
                .unwrap();
        }
        let said = "Um, my cat is called Xylophonia.";
        let id = store
            .add_fact("local", "My cat is called Xylophonia.", said, 60)
            .unwrap();
        store
            .add_fact("local", "My neighbour Quorbex has a cat.", "", 70)
            .unwrap();
        assert!(on_disk(dir.path(), "xylophonia"), "written");
        assert!(store.forget(Some("local"), id).unwrap());
        assert!(!on_disk(dir.path(), "xylophonia"), "still in the files");
        assert_eq!(store.forget_matching("local", &words(&["cat"])).unwrap(), 1);
        assert!(!on_disk(dir.path(), "quorbex"), "still in the files");
        assert_eq!(store.list(None).unwrap().len(), 50);
    }

    #[test]
    fn missing_store_is_not_made_by_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        assert!(Store::open(&data, false).unwrap().is_none());
        assert!(!data.exists());
        Store::open(&data, true).unwrap().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(DB_FILE)), 0o600);
    }

    #[test]
    fn a_damaged_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), vec![0x5a; 8192]).unwrap();
        let err = Store::open(dir.path(), true)
            .err()
            .expect("a damaged store");
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
        assert!(err.to_string().contains("memory forget --all"), "{err}");
    }
}

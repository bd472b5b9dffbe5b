//! `SqliteStore`: passages in a SQLite database file, searched with FTS5 and sqlite-vec.

mod extension;
mod schema;
mod search;

use super::{Passage, Retriever};
use crate::lm::{Embedder, embed_normalized};
use crate::{Error, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How a [`SqliteStore`] searches.
///
/// ```
/// use dspy_core::retrieve::{SearchMode, SqliteStore};
/// let store = SqliteStore::open_in_memory().unwrap().mode(SearchMode::Lexical);
/// assert_eq!(SearchMode::default(), SearchMode::Auto);
/// # let _ = store;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub enum SearchMode {
    /// By the vectors when the store has an embedder, else by words (the default).
    #[default]
    Auto,
    /// By words: SQLite's FTS5 full-text index, ranked by its BM25.
    Lexical,
    /// By meaning: the query's embedding against the passages', by cosine (sqlite-vec).
    Vector,
}

/// A persistent store of passages: a SQLite database file (bundled SQLite, nothing to install)
/// holding the texts and their metadata, an FTS5 full-text index over the texts, and, when an
/// [`Embedder`] is given, their embeddings in a sqlite-vec `vec0` table. Build it once, keep the
/// file, reopen it later: nothing is re-embedded.
///
/// Passages are keyed by id: adding one whose id is there replaces it (and its vector). The
/// embedder's vector length is kept in the file, so reopening it with another model is an error
/// rather than a silent mismatch.
///
/// ```
/// use dspy_core::retrieve::{Passage, Retriever, SqliteStore};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("dspy-doc-sqlite-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("packages.db");
/// {
///     let store = SqliteStore::open(&path).unwrap();
///     store.add(vec![
///         Passage::new("curl", "curl: a command line tool for transferring data with URL syntax"),
///         Passage::new("rsync", "rsync: fast, versatile, remote (and local) file-copying tool"),
///     ]).await.unwrap();
/// }
/// let reopened = SqliteStore::open(&path).unwrap();
/// assert_eq!(reopened.len().unwrap(), 2);
/// let hits = reopened.search("copy files to a remote host", 1).await.unwrap();
/// assert_eq!(hits[0].id, "rsync");
/// # std::fs::remove_dir_all(dir).ok();
/// # });
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
    embedder: Option<Arc<dyn Embedder>>,
    mode: SearchMode,
}

impl SqliteStore {
    /// Opens the store in the database file at `path`, creating the file and its tables when
    /// they are not there.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        extension::register()?;
        let conn = Connection::open(path).map_err(|e| db_error(Some(path), "open", e))?;
        Self::with_connection(conn, Some(path.to_path_buf()))
    }

    /// A store in memory, gone when dropped (for tests).
    pub fn open_in_memory() -> Result<Self> {
        extension::register()?;
        let conn = Connection::open_in_memory().map_err(|e| db_error(None, "open", e))?;
        Self::with_connection(conn, None)
    }

    fn with_connection(conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        schema::create(&conn).map_err(|e| db_error(path.as_deref(), "set up", e))?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
            embedder: None,
            mode: SearchMode::Auto,
        })
    }

    /// The same store, embedding passages (when added) and queries with `embedder`, so it can
    /// search by vector.
    #[must_use]
    pub fn with_embedder(mut self, embedder: impl Embedder + 'static) -> Self {
        self.embedder = Some(Arc::new(embedder));
        self
    }

    /// The same store, searching as `mode` says (default [`SearchMode::Auto`]).
    #[must_use]
    pub fn mode(mut self, mode: SearchMode) -> Self {
        self.mode = mode;
        self
    }

    /// The database file, unless the store is in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Adds `passages` (replacing any with the same id) in one transaction, with their
    /// embeddings when the store has an embedder. Returns how many were written.
    pub async fn add(&self, passages: impl IntoIterator<Item = Passage>) -> Result<usize> {
        let passages: Vec<Passage> = passages.into_iter().collect();
        let vectors = match &self.embedder {
            Some(embedder) => {
                let texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
                Some(embed_normalized(&**embedder, &texts, 256).await?)
            }
            None => None,
        };
        let path = self.path.clone();
        self.blocking(move |conn| {
            schema::insert(conn, &passages, vectors.as_deref())
                .map_err(|e| db_error(path.as_deref(), "write to", e))
        })
        .await
    }

    /// How many passages the store holds.
    pub fn len(&self) -> Result<usize> {
        let conn = self.lock();
        schema::count(&conn).map_err(|e| db_error(self.path.as_deref(), "read", e))
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The passage with `id`, if the store has it.
    pub fn get(&self, id: &str) -> Result<Option<Passage>> {
        let conn = self.lock();
        schema::get(&conn, id).map_err(|e| db_error(self.path.as_deref(), "read", e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` on the connection on tokio's blocking pool, so a query never stalls the
    /// async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|e| Error::config(format!("a SQLite task did not finish: {e}")))?
    }
}

impl Retriever for SqliteStore {
    async fn search(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let by_vector = match (self.mode, &self.embedder) {
            (SearchMode::Lexical, _) | (SearchMode::Auto, None) => None,
            (_, Some(embedder)) => {
                let texts = [query.to_string()];
                let mut vectors = embed_normalized(&**embedder, &texts, 1).await?;
                Some(vectors.pop().unwrap_or_default())
            }
            (SearchMode::Vector, None) => {
                return Err(Error::config(
                    "this SqliteStore searches by vector but has no embedder: \
                     give it one with .with_embedder(e), or use SearchMode::Lexical",
                ));
            }
        };
        let (query, path) = (query.to_string(), self.path.clone());
        self.blocking(move |conn| {
            let found = match by_vector {
                Some(vector) => search::by_vector(conn, &vector, k),
                None => search::by_words(conn, &query, k),
            };
            found.map_err(|e| db_error(path.as_deref(), "search", e))
        })
        .await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("embedder", &self.embedder.is_some())
            .field("mode", &self.mode)
            .finish()
    }
}

/// A SQLite failure as an [`Error::Data`] about the file, saying what was being done and
/// keeping SQLite's error as its source.
fn db_error(path: Option<&Path>, doing: &str, error: rusqlite::Error) -> Error {
    let file = path.map_or_else(|| PathBuf::from(":memory:"), Path::to_path_buf);
    let hint = match &error {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DatabaseCorrupt => {
            "; the file is damaged: delete it and build the store again"
        }
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase => {
            "; the file is not a SQLite database: give another path"
        }
        _ => "",
    };
    let message = format!("could not {doing} the SQLite store: {error}{hint}");
    Error::data_caused_by(file, None, message, error)
}

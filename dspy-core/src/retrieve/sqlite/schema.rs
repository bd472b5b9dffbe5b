//! The store's tables, and writing and reading passages.

use crate::retrieve::Passage;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The passages, the FTS5 index kept in step with them by triggers, and a key-value table for
/// what the file must remember (the vectors' length). The `vec0` table is made with the first
/// vectors, once their length is known.
pub(super) fn create(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS passages (
             rowid INTEGER PRIMARY KEY,
             id TEXT NOT NULL UNIQUE,
             text TEXT NOT NULL,
             metadata TEXT
         );
         CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts
             USING fts5(text, content = 'passages', content_rowid = 'rowid');
         CREATE TRIGGER IF NOT EXISTS passages_ai AFTER INSERT ON passages BEGIN
             INSERT INTO passages_fts(rowid, text) VALUES (new.rowid, new.text);
         END;
         CREATE TRIGGER IF NOT EXISTS passages_ad AFTER DELETE ON passages BEGIN
             INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
         END;
         CREATE TRIGGER IF NOT EXISTS passages_au AFTER UPDATE ON passages BEGIN
             INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
             INSERT INTO passages_fts(rowid, text) VALUES (new.rowid, new.text);
         END;
         CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    )
}

/// The vectors' length the file was built with, if it has vectors.
pub(super) fn dimensions(conn: &Connection) -> rusqlite::Result<Option<usize>> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM store_meta WHERE key = 'dimensions'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()))
}

/// Writes `passages` (and `vectors[i]` for `passages[i]`, when given) in one transaction.
pub(super) fn insert(
    conn: &mut Connection,
    passages: &[Passage],
    vectors: Option<&[Vec<f32>]>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    if let Some(dim) = vectors.and_then(|v| v.first()).map(Vec::len) {
        ensure_vector_table(&tx, dim)?;
    }
    {
        let mut upsert = tx.prepare(
            "INSERT INTO passages (id, text, metadata) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata
             RETURNING rowid",
        )?;
        for (i, passage) in passages.iter().enumerate() {
            let metadata = (!passage.metadata.is_null()).then(|| passage.metadata.to_string());
            let rowid: i64 =
                upsert.query_row(params![passage.id, passage.text, metadata], |r| r.get(0))?;
            if let Some(vector) = vectors.and_then(|v| v.get(i)) {
                tx.execute("DELETE FROM passages_vec WHERE rowid = ?1", [rowid])?;
                tx.execute(
                    "INSERT INTO passages_vec (rowid, embedding) VALUES (?1, ?2)",
                    params![rowid, as_blob(vector)],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(passages.len())
}

/// Creates the `vec0` table for vectors of `dim` floats, or checks that the file's has that
/// length.
fn ensure_vector_table(conn: &Connection, dim: usize) -> rusqlite::Result<()> {
    match dimensions(conn)? {
        Some(known) if known == dim => Ok(()),
        Some(known) => Err(rusqlite::Error::InvalidParameterName(format!(
            "this store holds vectors of {known} dimensions and the embedder gives {dim}: \
             use the embedder it was built with, or build the store again"
        ))),
        None => conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE passages_vec
                     USING vec0(embedding float[{dim}] distance_metric=cosine);
                 INSERT INTO store_meta (key, value) VALUES ('dimensions', '{dim}');"
        )),
    }
}

/// A vector as sqlite-vec reads it: its floats, little-endian.
pub(super) fn as_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(super) fn count(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("SELECT count(*) FROM passages", [], |r| r.get::<_, i64>(0))
        .map(|n| n as usize)
}

pub(super) fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<Passage>> {
    conn.query_row(
        "SELECT id, text, metadata, 0.0 FROM passages WHERE id = ?1",
        [id],
        passage,
    )
    .optional()
}

/// A row of (id, text, metadata, score) as a passage.
pub(super) fn passage(row: &Row<'_>) -> rusqlite::Result<Passage> {
    let metadata: Option<String> = row.get(2)?;
    let score: f64 = row.get(3)?;
    let mut passage = Passage::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?);
    passage.score = score as f32;
    if let Some(json) = metadata {
        // Written by `insert` as JSON; a row edited by hand to something else keeps it as text.
        passage.metadata = serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json));
    }
    Ok(passage)
}

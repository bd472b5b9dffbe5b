//! The two searches: by words (FTS5) and by vector (sqlite-vec).

use super::schema::{as_blob, dimensions, passage};
use crate::retrieve::Passage;
use rusqlite::{Connection, params};

/// The `k` passages that rank highest by FTS5's BM25 for the query's words (any of them),
/// best first; fewer when fewer passages share a word with the query.
pub(super) fn by_words(conn: &Connection, query: &str, k: usize) -> rusqlite::Result<Vec<Passage>> {
    let Some(expression) = match_expression(query) else {
        return Ok(Vec::new());
    };
    let mut statement = conn.prepare_cached(
        "SELECT p.id, p.text, p.metadata, -bm25(passages_fts)
         FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
         WHERE passages_fts MATCH ?1
         ORDER BY bm25(passages_fts), p.rowid
         LIMIT ?2",
    )?;
    let rows = statement.query_map(params![expression, k as i64], passage)?;
    rows.collect()
}

/// The query as an FTS5 expression: each word quoted (so none is read as an operator), any
/// of them matching. `None` when the query has no word.
fn match_expression(query: &str) -> Option<String> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

/// The `k` passages whose vectors are nearest `vector` by cosine, best first; the score is the
/// cosine similarity.
pub(super) fn by_vector(
    conn: &Connection,
    vector: &[f32],
    k: usize,
) -> rusqlite::Result<Vec<Passage>> {
    match dimensions(conn)? {
        None => return Ok(Vec::new()),
        Some(dim) if dim != vector.len() => {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "the query's embedding has {} dimensions and the store's vectors {dim}: \
                 use the embedder the store was built with",
                vector.len()
            )));
        }
        Some(_) => {}
    }
    let mut statement = conn.prepare_cached(
        "SELECT p.id, p.text, p.metadata, 1.0 - v.distance
         FROM (SELECT rowid, distance FROM passages_vec WHERE embedding MATCH ?1 AND k = ?2) v
         JOIN passages p ON p.rowid = v.rowid
         ORDER BY v.distance, p.rowid",
    )?;
    let rows = statement.query_map(params![as_blob(vector), k as i64], passage)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_quoted_words() {
        assert_eq!(
            match_expression("copy files, NOT \"remote\"?").as_deref(),
            Some("\"copy\" OR \"files\" OR \"not\" OR \"remote\"")
        );
        assert_eq!(match_expression(" ?! "), None);
    }
}

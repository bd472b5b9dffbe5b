//! Retrieval: BM25, vectors and the SQLite store rank as expected; the store survives a reopen.

use dspy::lm::{BoxFuture, Embedder};
use dspy::module::{Retrieve, trace};
use dspy::retrieve::{Bm25Index, Passage, Retriever, VectorIndex};
use dspy::{Module, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Package descriptions from Debian (examples/data/debian), a few of them.
fn corpus() -> Vec<Passage> {
    [
        ("curl", "curl: curl is a command line tool for transferring data with URL syntax, supporting HTTP, HTTPS, FTP and more."),
        ("rsync", "rsync: rsync is a fast and versatile file-copying tool which can copy locally and to/from a remote host."),
        ("gimp", "gimp: GIMP is an advanced picture editor. You can use it to edit, enhance, and retouch photos and scans."),
        ("vim", "vim: Vim is an almost compatible version of the UNIX editor Vi. Many new features have been added."),
        ("htop", "htop: Htop is an ncursed-based process viewer similar to top, but it allows one to scroll the list vertically and horizontally."),
    ]
    .into_iter()
    .map(|(id, text)| Passage::new(id, text))
    .collect()
}

/// A bag of topic words as the vector: close texts share topics. It counts its calls.
#[derive(Default)]
struct Topics(AtomicUsize);

const TOPICS: [&[&str]; 4] = [
    &["copy", "file", "files", "remote", "host", "backup"],
    &["edit", "editor", "picture", "photo", "photos", "image"],
    &["process", "processes", "top", "viewer", "monitor"],
    &[
        "url",
        "http",
        "download",
        "transfer",
        "transferring",
        "data",
    ],
];

impl Embedder for Topics {
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let vectors = texts
            .iter()
            .map(|text| {
                let lower = text.to_lowercase();
                let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
                TOPICS
                    .iter()
                    .map(|topic| words.iter().filter(|w| topic.contains(w)).count() as f32)
                    .collect()
            })
            .collect();
        Box::pin(async move { Ok(vectors) })
    }
}

fn ids(passages: &[Passage]) -> Vec<&str> {
    passages.iter().map(|p| p.id.as_str()).collect()
}

#[tokio::test]
async fn bm25_ranks_by_shared_rare_words() {
    let index = Bm25Index::from_passages(corpus());
    let hits = index
        .search("a tool to copy files to a remote host", 2)
        .await
        .unwrap();
    assert_eq!(hits[0].id, "rsync");
    assert!(hits[0].score > hits[1].score, "{hits:?}");
    let hits = index.search("process viewer", 1).await.unwrap();
    assert_eq!(ids(&hits), ["htop"]);
    assert_eq!(index.search("editor", 5).await.unwrap().len(), 5);
}

#[tokio::test]
async fn vectors_rank_by_meaning_and_embed_each_passage_once() {
    let embedder = Arc::new(Topics::default());
    let index = VectorIndex::build(embedder.clone(), corpus())
        .await
        .unwrap();
    assert_eq!(
        embedder.0.load(Ordering::SeqCst),
        1,
        "one batch for five passages"
    );
    // No word in common with gimp's text but the topic: "image", "photo".
    let hits = index.search("retouch an image", 1).await.unwrap();
    assert_eq!(ids(&hits), ["gimp"]);
    assert!((hits[0].score - 1.0).abs() < 1e-6, "{hits:?}");
    let hits = index.search("monitor processes", 2).await.unwrap();
    assert_eq!(hits[0].id, "htop");
}

#[tokio::test]
async fn retrieve_is_a_module_whose_searches_are_traced() {
    let retrieve = Retrieve::new(Bm25Index::from_passages(corpus())).k(2);
    let (out, recorded) = trace(retrieve.call("copy files to a remote host".into())).await;
    let out = out.unwrap();
    assert_eq!(out.passages.len(), 2);
    assert_eq!(out.context[0], out.passages[0].text);
    assert_eq!(recorded.retrievals.len(), 1);
    let search = &recorded.retrievals[0];
    assert_eq!((search.retriever.as_str(), search.k), ("Bm25Index", 2));
    assert_eq!(search.query, "copy files to a remote host");
    assert_eq!(search.passages, out.passages);
    // Outside a trace scope nothing is recorded, and the call still works.
    assert_eq!(retrieve.search("editor").await.unwrap().len(), 2);
}

/// The SQLite store (dspy's `sqlite` feature; the tests always have it).
mod sqlite {
    use super::*;
    use dspy::retrieve::{SearchMode, SqliteStore};
    use serde_json::json;
    use std::path::PathBuf;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dspy-sqlite-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.db")
    }

    #[tokio::test]
    async fn the_store_round_trips_and_survives_a_reopen() {
        let path = temp_db("reopen");
        {
            let store = SqliteStore::open(&path).unwrap();
            let mut passages = corpus();
            passages[0].metadata = json!({"section": "web"});
            assert_eq!(store.add(passages).await.unwrap(), 5);
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.len().unwrap(), 5);
        let curl = store.get("curl").unwrap().unwrap();
        assert_eq!(curl.text, corpus()[0].text);
        assert_eq!(curl.metadata, json!({"section": "web"}));
        assert_eq!(store.get("emacs").unwrap(), None);
        // Replacing by id keeps one row, and the full-text index follows the new text.
        store
            .add([Passage::new(
                "vim",
                "vim: a modal text editor for programmers",
            )])
            .await
            .unwrap();
        assert_eq!(store.len().unwrap(), 5);
        let hits = store.search("modal programmers", 3).await.unwrap();
        assert_eq!(ids(&hits), ["vim"]);
        assert!(
            store
                .search("compatible UNIX Vi", 3)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn words_rank_like_bm25() {
        let store = SqliteStore::open_in_memory().unwrap();
        store.add(corpus()).await.unwrap();
        let hits = store
            .search("a tool to copy files to a remote host", 2)
            .await
            .unwrap();
        assert_eq!(hits[0].id, "rsync");
        assert!(hits[0].score >= hits[1].score, "{hits:?}");
        assert_eq!(
            ids(&store.search("process viewer", 1).await.unwrap()),
            ["htop"]
        );
        // Quotes and operators in the query are words, not FTS5 syntax.
        assert!(store.search("\"NOT\" AND (", 3).await.is_ok());
    }

    #[tokio::test]
    async fn vectors_are_kept_in_the_file_and_not_recomputed() {
        let path = temp_db("vectors");
        let embedder = Arc::new(Topics::default());
        {
            let store = SqliteStore::open(&path)
                .unwrap()
                .with_embedder(embedder.clone());
            store.add(corpus()).await.unwrap();
        }
        let calls = embedder.0.load(Ordering::SeqCst);
        let store = SqliteStore::open(&path)
            .unwrap()
            .with_embedder(embedder.clone());
        let hits = store.search("retouch an image", 2).await.unwrap();
        assert_eq!(hits[0].id, "gimp");
        assert!((hits[0].score - 1.0).abs() < 1e-5, "{hits:?}");
        // Only the query was embedded after the reopen.
        assert_eq!(embedder.0.load(Ordering::SeqCst), calls + 1);
        let lexical = SqliteStore::open(&path).unwrap().mode(SearchMode::Lexical);
        assert_eq!(
            ids(&lexical.search("process viewer", 1).await.unwrap()),
            ["htop"]
        );
    }

    #[tokio::test]
    async fn another_embedding_model_is_refused_with_a_reason() {
        struct Wide;
        impl Embedder for Wide {
            fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Vec<Vec<f32>>>> {
                let v = texts.iter().map(|_| vec![1.0; 8]).collect();
                Box::pin(async move { Ok(v) })
            }
        }
        let path = temp_db("mismatch");
        let store = SqliteStore::open(&path)
            .unwrap()
            .with_embedder(Topics::default());
        store.add(corpus()).await.unwrap();
        let wide = SqliteStore::open(&path).unwrap().with_embedder(Wide);
        let err = wide.search("anything", 1).await.unwrap_err();
        assert!(err.to_string().contains("dimensions"), "{err}");
        let err = wide.add(corpus()).await.unwrap_err();
        assert!(
            err.to_string().contains("the embedder it was built with"),
            "{err}"
        );
        let vector_only = SqliteStore::open(&path).unwrap().mode(SearchMode::Vector);
        let err = vector_only.search("x", 1).await.unwrap_err();
        assert!(err.to_string().contains("with_embedder"), "{err}");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_a_clear_error() {
        let path = temp_db("garbage");
        std::fs::write(
            &path,
            "this is not a database, just text that is long enough to have a header",
        )
        .unwrap();
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        // SQLite's own error is kept underneath.
        assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    }
}

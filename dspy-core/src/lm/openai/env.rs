//! Which OpenAI-compatible LM the environment names, as a pure function of the variables.

use super::{
    Mode, OLLAMA_BASE_URL, OPENAI_BASE_URL, OPENROUTER_BASE_URL, OpenAiLm, OpenAiLmBuilder,
};
use crate::{Error, Result};

/// The model used when only a key or a base URL is set.
const DEFAULT_MODEL: &str = "openai/gpt-4o-mini";

/// Reads `DSPY_LM`, `DSPY_LM_MODE`, `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENROUTER_API_KEY`,
/// `OPENAI_ORG_ID` and `OPENAI_PROJECT_ID` through `get` (see [`OpenAiLm::from_env`]). Empty
/// values count as unset. `None`: nothing configured, or the local model is asked for.
pub(super) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<OpenAiLmBuilder>> {
    let var = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let base_override = var("OPENAI_BASE_URL");
    let openai_key = var("OPENAI_API_KEY");

    let spec = match var("DSPY_LM") {
        Some(spec) => spec,
        None if openai_key.is_some() || base_override.is_some() => DEFAULT_MODEL.to_string(),
        None => return Ok(None),
    };
    let (provider, model) = match spec.split_once('/') {
        Some((provider, model)) => (provider.trim().to_ascii_lowercase(), model.trim()),
        None if spec.eq_ignore_ascii_case("local")
            || spec.eq_ignore_ascii_case("local-instruct") =>
        {
            ("local".to_string(), "")
        }
        None => ("openai".to_string(), spec.as_str()),
    };
    if provider == "local" {
        // The embedded model is another backend; `LM::from_env` picks it.
        return Ok(None);
    }
    if model.is_empty() {
        return Err(Error::config(format!(
            "DSPY_LM=`{spec}` names no model; write provider/model, e.g. DSPY_LM=openai/gpt-4o-mini"
        )));
    }
    let mode = match var("DSPY_LM_MODE") {
        Some(mode) => mode.parse::<Mode>().map_err(|_| {
            Error::config(format!(
                "DSPY_LM_MODE=`{mode}` is not a mode: use `chat` (chat models) or `completion` (base models)"
            ))
        })?,
        None => Mode::Chat,
    };

    let (base_url, api_key) = match provider.as_str() {
        "openai" => (
            base_override.unwrap_or_else(|| OPENAI_BASE_URL.to_string()),
            openai_key,
        ),
        // Ollama needs no key; an OpenAI key goes only where OPENAI_BASE_URL points.
        "ollama" => match base_override {
            Some(base) => (base, openai_key),
            None => (OLLAMA_BASE_URL.to_string(), None),
        },
        // Never send an OpenAI key to OpenRouter.
        "openrouter" => (
            base_override.unwrap_or_else(|| OPENROUTER_BASE_URL.to_string()),
            var("OPENROUTER_API_KEY"),
        ),
        other => match base_override {
            Some(base) => (base, openai_key),
            None => {
                return Err(Error::config(format!(
                    "DSPY_LM=`{spec}`: provider `{other}` needs OPENAI_BASE_URL, the root of its \
                     OpenAI-compatible API (e.g. http://localhost:8000/v1); known providers without \
                     it are openai, ollama and openrouter"
                )));
            }
        },
    };

    let mut builder = OpenAiLm::builder(model).base_url(base_url).mode(mode);
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    if let Some(org) = var("OPENAI_ORG_ID") {
        builder = builder.organization(org);
    }
    if let Some(project) = var("OPENAI_PROJECT_ID") {
        builder = builder.project(project);
    }
    Ok(Some(builder))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LanguageModel;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn builder(vars: &[(&str, &str)]) -> OpenAiLmBuilder {
        from_lookup(lookup(vars)).unwrap().unwrap()
    }

    fn lm(vars: &[(&str, &str)]) -> OpenAiLm {
        OpenAiLm::from_lookup(lookup(vars)).unwrap().unwrap()
    }

    #[test]
    fn nothing_set_is_none() {
        assert!(from_lookup(lookup(&[])).unwrap().is_none());
        assert!(
            from_lookup(lookup(&[("DSPY_LM", "  "), ("OPENAI_API_KEY", "")]))
                .unwrap()
                .is_none()
        );
        assert!(
            from_lookup(lookup(&[("DSPY_LM_MODE", "completion")]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn local_is_left_to_the_local_backend() {
        for spec in [
            "local",
            "LOCAL",
            "local/qwen2.5-0.5b",
            "local/",
            "local-instruct",
        ] {
            let vars = [("DSPY_LM", spec), ("OPENAI_API_KEY", "sk-x")];
            assert!(from_lookup(lookup(&vars)).unwrap().is_none(), "{spec}");
        }
    }

    #[test]
    fn openai_with_key() {
        let lm = lm(&[
            ("DSPY_LM", "openai/gpt-4o-mini"),
            ("OPENAI_API_KEY", "sk-test-SECRET"),
        ]);
        assert_eq!(lm.model(), "gpt-4o-mini");
        assert_eq!(lm.base_url(), "https://api.openai.com/v1");
        assert_eq!(lm.api_key.as_deref(), Some("sk-test-SECRET"));
        assert_eq!(lm.mode(), Mode::Chat);
        assert!(lm.max_completion_tokens);
    }

    #[test]
    fn bare_model_is_openai() {
        let b = builder(&[("DSPY_LM", "gpt-4.1"), ("OPENAI_API_KEY", "k")]);
        assert_eq!(b.model, "gpt-4.1");
        assert_eq!(b.base_url.as_deref(), Some(OPENAI_BASE_URL));
    }

    #[test]
    fn openai_without_key_says_which_variable() {
        let err = OpenAiLm::from_lookup(lookup(&[("DSPY_LM", "openai/gpt-4o-mini")])).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("OPENAI_API_KEY")),
            "{err}"
        );
    }

    #[test]
    fn key_or_base_url_alone_selects_gpt_4o_mini() {
        let b = builder(&[("OPENAI_API_KEY", "k")]);
        assert_eq!(b.model, "gpt-4o-mini");
        assert_eq!(b.base_url.as_deref(), Some(OPENAI_BASE_URL));
        let lm = lm(&[("OPENAI_BASE_URL", "http://localhost:8000/v1")]);
        assert_eq!(lm.model(), "gpt-4o-mini");
        assert_eq!(lm.base_url(), "http://localhost:8000/v1");
        assert!(lm.api_key.is_none());
        assert!(!lm.max_completion_tokens);
    }

    #[test]
    fn ollama_needs_no_key_and_gets_none() {
        let lm = lm(&[
            ("DSPY_LM", "ollama/llama3.2"),
            ("OPENAI_API_KEY", "sk-openai"),
        ]);
        assert_eq!(lm.model(), "llama3.2");
        assert_eq!(lm.base_url(), "http://localhost:11434/v1");
        assert!(lm.api_key.is_none(), "the OpenAI key must not go to Ollama");
        let lm = lm_with_base("ollama/llama3.2", "http://gpu-box:11434/v1");
        assert_eq!(lm.base_url(), "http://gpu-box:11434/v1");
        assert_eq!(lm.api_key.as_deref(), Some("k"));
    }

    fn lm_with_base(spec: &str, base: &str) -> OpenAiLm {
        lm(&[
            ("DSPY_LM", spec),
            ("OPENAI_BASE_URL", base),
            ("OPENAI_API_KEY", "k"),
        ])
    }

    #[test]
    fn openrouter_uses_its_own_key() {
        let lm = lm(&[
            ("DSPY_LM", "openrouter/anthropic/claude-3.5-haiku"),
            ("OPENROUTER_API_KEY", "or-key"),
            ("OPENAI_API_KEY", "sk-openai"),
        ]);
        assert_eq!(lm.model(), "anthropic/claude-3.5-haiku");
        assert_eq!(lm.base_url(), "https://openrouter.ai/api/v1");
        assert_eq!(lm.api_key.as_deref(), Some("or-key"));
        let err = OpenAiLm::from_lookup(lookup(&[
            ("DSPY_LM", "openrouter/x"),
            ("OPENAI_API_KEY", "k"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("OPENROUTER_API_KEY"), "{err}");
    }

    #[test]
    fn other_providers_need_a_base_url() {
        let lm = lm_with_base(
            "vllm/meta-llama/Llama-3.1-8B-Instruct",
            "http://localhost:8000/v1/",
        );
        assert_eq!(lm.model(), "meta-llama/Llama-3.1-8B-Instruct");
        assert_eq!(lm.base_url(), "http://localhost:8000/v1");
        assert_eq!(lm.api_key.as_deref(), Some("k"));
        let err = from_lookup(lookup(&[("DSPY_LM", "vllm/llama")]))
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("OPENAI_BASE_URL") && m.contains("vllm")),
            "{err}"
        );
    }

    #[test]
    fn base_url_overrides_the_provider_default() {
        let lm = lm_with_base("openai/gpt-4o", "https://proxy.example.com/v1");
        assert_eq!(lm.base_url(), "https://proxy.example.com/v1");
        assert!(!lm.max_completion_tokens);
    }

    #[test]
    fn mode_from_env() {
        let vars = [
            ("DSPY_LM", "vllm/Qwen/Qwen2.5-0.5B"),
            ("OPENAI_BASE_URL", "http://h:1/v1"),
            ("DSPY_LM_MODE", "completion"),
        ];
        assert_eq!(lm(&vars).mode(), Mode::Completion);
        let vars = [("DSPY_LM", "ollama/x"), ("DSPY_LM_MODE", "bogus")];
        let err = from_lookup(lookup(&vars)).err().unwrap();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("DSPY_LM_MODE")),
            "{err}"
        );
    }

    #[test]
    fn empty_model_is_an_error() {
        let err = from_lookup(lookup(&[("DSPY_LM", "openai/"), ("OPENAI_API_KEY", "k")]))
            .err()
            .unwrap();
        assert!(matches!(err, Error::Config(_)));
    }

    #[test]
    fn values_are_trimmed_and_org_read() {
        let b = builder(&[
            ("DSPY_LM", " OpenAI/gpt-4o-mini "),
            ("OPENAI_API_KEY", " sk-x\n"),
            ("OPENAI_ORG_ID", "org-1"),
            ("OPENAI_PROJECT_ID", "proj-1"),
        ]);
        assert_eq!(b.model, "gpt-4o-mini");
        assert_eq!(b.api_key.as_deref(), Some("sk-x"));
        assert_eq!(b.organization.as_deref(), Some("org-1"));
        assert_eq!(b.project.as_deref(), Some("proj-1"));
    }
}

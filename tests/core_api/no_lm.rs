//! No default LM until one is configured. The test runs in a process of its own (see
//! `support::alone`), so no other test's `dspy::configure` is in effect, and its own is in
//! effect for no other test.

use crate::support::alone::in_own_process;
use dspy::prelude::*;

/// Echo.
#[derive(Signature, Clone, Debug)]
struct Echo {
    #[input]
    text: String,
    #[output]
    echoed: String,
}

#[tokio::test]
async fn calling_without_an_lm_says_what_to_do() {
    if !in_own_process(module_path!(), "calling_without_an_lm_says_what_to_do") {
        return;
    }
    let err = Predict::<Echo>::new()
        .call(EchoInput { text: "hi".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(err.to_string().contains("dspy::configure"), "{err}");

    dspy::configure(LM::new(DummyLm::new([serde_json::json!({"echoed": "hi"})])));
    let out = Predict::<Echo>::new()
        .call(EchoInput { text: "hi".into() })
        .await
        .unwrap();
    assert_eq!(out.echoed, "hi");
}

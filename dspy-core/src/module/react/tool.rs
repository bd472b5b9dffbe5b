//! Tools: async Rust functions over typed arguments, stored type-erased so one agent holds many.

use crate::adapter::parse::coerce_field;
use crate::adapter::python_json;
use crate::lm::BoxFuture;
use crate::signature::{FieldSpec, inlined_schema};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The type-erased body of a tool: JSON arguments in, a JSON result or an error out.
type ToolFn = dyn Fn(Value) -> BoxFuture<'static, Result<Value, ToolError>> + Send + Sync;
/// Whether JSON arguments deserialize into the tool's argument type.
type CheckFn = dyn Fn(Value) -> Result<(), ToolError> + Send + Sync;

/// A function an agent can call: a name, a description and an argument schema the LM sees,
/// and an async body over a typed argument struct.
///
/// The arguments are a struct deriving `Deserialize` and `JsonSchema`; its doc comments become
/// the argument descriptions the LM reads. The body returns `Result<T, E>` where `T` is anything
/// `Serialize` (a string is shown as it is, other values as JSON) and `E` anything `Display`.
///
/// ```
/// use dspy_core::Tool;
/// use schemars::JsonSchema;
/// use serde::Deserialize;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct AddArgs {
///     /// The first number.
///     a: f64,
///     /// The second number.
///     b: f64,
/// }
///
/// let add = Tool::new("add", "Add two numbers.", |args: AddArgs| async move {
///     Ok::<_, String>(args.a + args.b)
/// });
/// assert_eq!(add.name(), "add");
/// assert_eq!(add.args()["a"]["type"], "number");
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert_eq!(add.call(serde_json::json!({"a": 2, "b": 3})).await.unwrap(), 5.0);
/// // Lenient like every parser here: "2" is read as the number 2.
/// assert_eq!(add.call(serde_json::json!({"a": "2", "b": 3})).await.unwrap(), 5.0);
/// assert!(add.call(serde_json::json!({"a": 2})).await.is_err()); // missing `b`
/// # });
/// ```
#[derive(Clone)]
pub struct Tool {
    name: String,
    desc: String,
    schema: Value,
    body: Arc<ToolFn>,
    check: Arc<CheckFn>,
}

impl Tool {
    /// A tool called `name` (what the LM writes in `next_tool_name`), described by `desc`,
    /// running `body` on arguments of type `A`.
    pub fn new<A, F, Fut, T, E>(name: impl Into<String>, desc: impl Into<String>, body: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: fmt::Display,
    {
        let body = Arc::new(
            move |args: Value| -> BoxFuture<'static, Result<Value, ToolError>> {
                let typed = match deserialize_args::<A>(args) {
                    Ok(typed) => typed,
                    Err(e) => return Box::pin(std::future::ready(Err(e))),
                };
                let running = body(typed);
                Box::pin(async move {
                    match running.await {
                        Ok(value) => serde_json::to_value(value).map_err(|e| {
                            ToolError::Failed(format!(
                                "its result could not be written as JSON: {e}"
                            ))
                        }),
                        Err(e) => Err(ToolError::Failed(e.to_string())),
                    }
                })
            },
        );
        Tool {
            name: name.into(),
            desc: desc.into(),
            schema: inlined_schema::<A>(),
            body,
            check: Arc::new(|args| deserialize_args::<A>(args).map(drop)),
        }
    }

    /// The name the LM calls it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it does, as the LM reads it.
    pub fn desc(&self) -> &str {
        &self.desc
    }

    /// Its arguments: the `properties` of the argument type's JSON schema (name → schema), as
    /// the LM sees them.
    pub fn args(&self) -> Map<String, Value> {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// The full JSON schema of the argument type.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Runs the tool on JSON arguments, as the agent does.
    ///
    /// The arguments are first repaired against the schema where a careful reader would (a
    /// number written as a string, a single value for a list), then deserialized.
    ///
    /// # Errors
    ///
    /// [`ToolError`] when the arguments do not fit the argument type, when the body returns an
    /// error, or when it panics; its message is written for the LM to read and act on.
    pub async fn call(&self, args: Value) -> Result<Value, ToolError> {
        CatchPanic((self.body)(self.repaired(args))).await
    }

    /// Whether [`call`](Self::call) would take `args` (repaired as it repairs them), without
    /// running the tool: the agent checks a step's arguments against the tool it chose.
    pub(super) fn check(&self, args: &Value) -> Result<(), ToolError> {
        (self.check)(self.repaired(args.clone()))
    }

    /// `args` repaired against the schema where a careful reader would.
    fn repaired(&self, args: Value) -> Value {
        let field = FieldSpec::from_schema(&self.name, "", self.schema.clone());
        // Unrepairable arguments go through unchanged, so serde names what is wrong with them.
        coerce_field(&field, args.clone())
            .map(|(fixed, _)| fixed)
            .unwrap_or(args)
    }

    /// How the tool is listed in the agent's instructions (`n` is its 1-based position).
    pub(super) fn listing(&self, n: usize) -> String {
        format!(
            "({n}) {}, described as <desc>{}</desc>. It takes the arguments {}.",
            self.name,
            // One line per tool, as DSPy lists them.
            self.desc.replace('\n', "  "),
            self.args_text()
        )
    }

    /// The arguments as JSON, in declaration order, each schema with `type` first.
    pub(super) fn args_text(&self) -> String {
        let args: Vec<String> = self
            .args()
            .iter()
            .map(|(name, schema)| {
                let name = python_json(&Value::String(name.clone()), false);
                format!("{name}: {}", python_json(schema, true))
            })
            .collect();
        format!("{{{}}}", args.join(", "))
    }
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("desc", &self.desc)
            .field("args", &self.args())
            .finish_non_exhaustive()
    }
}

/// Why a tool call failed; the message is shown to the LM as the step's observation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments do not fit the tool's argument type.
    InvalidArgs(String),
    /// The tool ran and returned an error.
    Failed(String),
    /// The tool panicked.
    Panicked(String),
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolError::InvalidArgs(e) => write!(f, "invalid arguments: {e}"),
            ToolError::Failed(e) => f.write_str(e),
            ToolError::Panicked(e) => write!(f, "the tool panicked: {e}"),
        }
    }
}

impl std::error::Error for ToolError {}

fn deserialize_args<A: DeserializeOwned>(args: Value) -> Result<A, ToolError> {
    let empty = args.as_object().is_some_and(Map::is_empty);
    serde_json::from_value::<A>(args).or_else(|e| {
        // `()` and unit structs take no arguments but deserialize from null, not `{}`.
        if empty {
            serde_json::from_value::<A>(Value::Null)
                .map_err(|_| ToolError::InvalidArgs(e.to_string()))
        } else {
            Err(ToolError::InvalidArgs(e.to_string()))
        }
    })
}

/// Turns a panic inside a tool into an error, so one broken tool call ends as an observation
/// (as an exception does in DSPy) rather than taking the agent down.
struct CatchPanic(BoxFuture<'static, Result<Value, ToolError>>);

impl Future for CatchPanic {
    type Output = Result<Value, ToolError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future is dropped after a panic and never polled again, so no broken state is seen.
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(ToolError::Panicked(panic_message(&*payload)))),
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, JsonSchema)]
    struct Query {
        /// What to look for.
        query: String,
        /// How many results.
        #[serde(default)]
        k: Option<u32>,
    }

    fn search() -> Tool {
        Tool::new("search", "Search.\nFast.", |q: Query| async move {
            if q.query.is_empty() {
                Err("empty query".to_string())
            } else {
                Ok(format!("{} x{}", q.query, q.k.unwrap_or(1)))
            }
        })
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn runs_on_typed_args() {
        let out = block_on(search().call(json!({"query": "rust", "k": "2"})));
        assert_eq!(out, Ok(json!("rust x2")));
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let missing = block_on(search().call(json!({"k": 2})));
        assert!(
            matches!(&missing, Err(ToolError::InvalidArgs(m)) if m.contains("missing field `query`")),
            "{missing:?}"
        );
        let failed = block_on(search().call(json!({"query": ""})));
        assert_eq!(failed, Err(ToolError::Failed("empty query".into())));
        let not_object = block_on(search().call(json!("rust")));
        assert!(matches!(not_object, Err(ToolError::InvalidArgs(_))));
    }

    #[test]
    fn check_says_whether_call_would_take_the_arguments() {
        assert_eq!(search().check(&json!({"query": "rust", "k": "2"})), Ok(()));
        let missing = search().check(&json!({"k": 2}));
        assert!(
            matches!(&missing, Err(ToolError::InvalidArgs(m)) if m.contains("missing field `query`")),
            "{missing:?}"
        );
        assert!(search().check(&json!("rust")).is_err());
        let now = Tool::new("now", "The time.", |(): ()| async { Ok::<_, String>(12) });
        assert_eq!(now.check(&json!({})), Ok(()));
    }

    #[test]
    fn no_argument_tools_take_an_empty_object() {
        let now = Tool::new("now", "The time.", |(): ()| async { Ok::<_, String>(12) });
        assert_eq!(block_on(now.call(json!({}))), Ok(json!(12)));
        assert!(now.args().is_empty());
    }

    #[test]
    fn panics_become_errors() {
        let boom = Tool::new("boom", "Panics.", |(): ()| async {
            if true {
                panic!("kaboom");
            }
            Ok::<u8, String>(0)
        });
        let out = block_on(boom.call(json!({})));
        assert_eq!(out, Err(ToolError::Panicked("kaboom".into())));
    }

    #[test]
    fn listing_shows_name_desc_and_arg_schemas() {
        let line = search().listing(2);
        assert!(
            line.starts_with("(2) search, described as <desc>Search.  Fast.</desc>."),
            "{line}"
        );
        assert!(
            line.contains(r#""query": {"type": "string", "description": "What to look for."}"#),
            "{line}"
        );
    }
}

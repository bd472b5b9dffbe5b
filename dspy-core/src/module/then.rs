//! Composition: `a.then(b)` runs `b` on an input wired by name from `a`'s input and output;
//! `a.map(f)` transforms `a`'s output.

use super::module_state::ModuleState;
use super::{DynPredictor, Module, Parameters, child_name};
use crate::Result;
use crate::signature::fields::WireFrom;
use std::fmt;

/// `then` and `map` for every [`Module`]; in the prelude.
///
/// ```
/// use dspy_core::{DummyLm, LM, Module, ModuleExt, Parameters, Predict};
/// # use dspy_macros::Signature;
/// /// Write a search query for the question.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Rewrite { #[input] question: String, #[output] query: String }
///
/// /// Answer the question, using the query that was searched for.
/// #[derive(Signature, Clone, Debug)]
/// # #[dspy(crate = "dspy_core")]
/// struct Answer { #[input] question: String, #[input] query: String, #[output] answer: String }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let lm = LM::new(DummyLm::new([
///     serde_json::json!({"query": "Galileo biography"}),
///     serde_json::json!({"answer": "an astronomer"}),
/// ]));
/// // `question` comes from the first step's input, `query` from its output.
/// let pipeline = Predict::<Rewrite>::new().then(Predict::<Answer>::new());
/// assert_eq!(pipeline.predictor_names(), ["0", "1"]);
/// let out = dspy_core::with_lm(lm, pipeline.call(RewriteInput { question: "Who was Galileo?".into() }))
///     .await
///     .unwrap();
/// assert_eq!(out.answer, "an astronomer");
/// # });
/// ```
pub trait ModuleExt: Module + Sized {
    /// A module that runs `self`, then `next` on an input filled field by field from `self`'s
    /// input and output: each field of `next`'s input is taken from the field of the same name
    /// and type, wherever it is. Checked at compile time: a field that neither side has, or has
    /// with another type, is an error naming it; a field both sides have is ambiguous and also
    /// an error (see [`fields`](crate::signature::fields)). Use [`map`](ModuleExt::map) to wire
    /// by hand instead.
    ///
    /// Its predictors are named `0.*` (self's) and `1.*` (next's).
    fn then<B, W>(self, next: B) -> Then<Self, B>
    where
        B: Module,
        B::Input: WireFrom<Self::Input, Self::Output, W>,
        Self::Input: Clone,
    {
        Then(
            self,
            next,
            Wiring::ByName {
                keep: Clone::clone,
                wire: <B::Input as WireFrom<Self::Input, Self::Output, W>>::wire,
            },
        )
    }

    /// A module that runs `self`, then `f` on its output: `a.map(|out| BInput { .. })` builds
    /// the next module's input by hand. `a.map(f).then(b)` passes `f`'s result to `b` as is, so
    /// it must be exactly `b`'s input (see [`Map::then`]).
    ///
    /// Its predictors are `self`'s, under the same names.
    ///
    /// ```
    /// use dspy_core::{DummyLm, LM, Module, ModuleExt, Predict};
    /// # use dspy_macros::Signature;
    /// /// Find the key entity of the question.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Extract { #[input] question: String, #[output] entity: String }
    ///
    /// /// Describe the topic.
    /// #[derive(Signature, Clone, Debug)]
    /// # #[dspy(crate = "dspy_core")]
    /// struct Describe { #[input] topic: String, #[output] description: String }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lm = LM::new(DummyLm::new([
    ///     serde_json::json!({"entity": "Galileo"}),
    ///     serde_json::json!({"description": "an astronomer"}),
    /// ]));
    /// let pipeline = Predict::<Extract>::new()
    ///     .map(|out| DescribeInput { topic: out.entity })
    ///     .then(Predict::<Describe>::new());
    /// let out = dspy_core::with_lm(lm, pipeline.call(ExtractInput { question: "Who was Galileo?".into() }))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(out.description, "an astronomer");
    /// # });
    /// ```
    fn map<F, T>(self, f: F) -> Map<Self, F>
    where
        F: Fn(Self::Output) -> T + Send + Sync,
        T: Send,
    {
        Map { module: self, f }
    }
}

impl<M: Module> ModuleExt for M {}

/// How [`Then`] makes the second module's input.
enum Wiring<I, O, T> {
    /// Field by field from the first module's input (kept by `keep` before the call) and output.
    ByName {
        keep: fn(&I) -> I,
        wire: fn(&I, &O) -> T,
    },
    /// The first module's output is the second's input.
    Output(fn(O) -> T),
}

impl<I, O, T> Clone for Wiring<I, O, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, O, T> Copy for Wiring<I, O, T> {}

/// Two modules in sequence, made by [`ModuleExt::then`] or [`Map::then`]. Its input is the
/// first's input, its output the second's output; its predictors are named `0.*` and `1.*`,
/// as the fields of a tuple struct would be.
///
/// Its type can be written out, so a program can hold one:
/// `Then<Predict<Rewrite>, ChainOfThought<Answer>>`.
pub struct Then<A: Module, B: Module>(
    /// The first module.
    pub A,
    /// The second module.
    pub B,
    Wiring<A::Input, A::Output, B::Input>,
);

impl<A: Module, B: Module> Module for Then<A, B> {
    type Input = A::Input;
    type Output = B::Output;

    async fn call(&self, input: A::Input) -> Result<B::Output> {
        let next = match self.2 {
            Wiring::ByName { keep, wire } => {
                // The first module consumes its input; the wiring may still need its fields.
                let kept = keep(&input);
                let output = self.0.call(input).await?;
                wire(&kept, &output)
            }
            Wiring::Output(pass) => pass(self.0.call(input).await?),
        };
        self.1.call(next).await
    }
}

impl<A: Module + Parameters, B: Module + Parameters> Parameters for Then<A, B> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.0.visit_predictors(&child_name(prefix, "0"), visit);
        self.1.visit_predictors(&child_name(prefix, "1"), visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.0.visit_predictors_mut(&child_name(prefix, "0"), visit);
        self.1.visit_predictors_mut(&child_name(prefix, "1"), visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.0.visit_module_states(&child_name(prefix, "0"), visit);
        self.1.visit_module_states(&child_name(prefix, "1"), visit);
    }
}

impl<A: Module + Clone, B: Module + Clone> Clone for Then<A, B> {
    fn clone(&self) -> Self {
        Then(self.0.clone(), self.1.clone(), self.2)
    }
}

impl<A: Module + fmt::Debug, B: Module + fmt::Debug> fmt::Debug for Then<A, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wiring = match self.2 {
            Wiring::ByName { .. } => "by name",
            Wiring::Output(_) => "output",
        };
        f.debug_tuple("Then")
            .field(&self.0)
            .field(&self.1)
            .field(&wiring)
            .finish()
    }
}

/// A module followed by a function of its output, made by [`ModuleExt::map`]. Its predictors
/// are the module's, under the same names.
#[derive(Clone)]
pub struct Map<A, F> {
    /// The module whose output is mapped.
    pub module: A,
    f: F,
}

impl<A, F, T> Map<A, F>
where
    A: Module,
    F: Fn(A::Output) -> T + Send + Sync,
    T: Send,
{
    /// Runs `next` on the mapped value itself: `a.map(|out| BInput { .. }).then(b)`.
    ///
    /// This inherent method takes precedence over [`ModuleExt::then`], which would wire the
    /// mapped value's fields by name together with the input's; call
    /// `ModuleExt::then(mapped, b)` for that.
    pub fn then<B: Module<Input = T>>(self, next: B) -> Then<Self, B> {
        Then(self, next, Wiring::Output(std::convert::identity))
    }
}

impl<A, F, T> Module for Map<A, F>
where
    A: Module,
    F: Fn(A::Output) -> T + Send + Sync,
    T: Send,
{
    type Input = A::Input;
    type Output = T;

    async fn call(&self, input: A::Input) -> Result<T> {
        let output = self.module.call(input).await?;
        Ok((self.f)(output))
    }
}

impl<A: Parameters, F> Parameters for Map<A, F> {
    fn visit_predictors<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn DynPredictor),
    ) {
        self.module.visit_predictors(prefix, visit);
    }

    fn visit_predictors_mut<'a>(
        &'a mut self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a mut dyn DynPredictor),
    ) {
        self.module.visit_predictors_mut(prefix, visit);
    }

    fn visit_module_states<'a>(
        &'a self,
        prefix: &str,
        visit: &mut dyn FnMut(String, &'a dyn ModuleState),
    ) {
        self.module.visit_module_states(prefix, visit);
    }
}

impl<A: fmt::Debug, F> fmt::Debug for Map<A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

//! Collects every error of one derive, so a user fixes them all in one compile instead of one
//! per compile.

/// A growing set of spanned errors.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds one error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Keeps the value of `result`, recording its error if it failed.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Ok(value)` when no error was recorded, else every error at once, with `value` as far
    /// as it could be read.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, Failed<T>> {
        match self.0 {
            Some(error) => Err(Failed {
                error,
                partial: Box::new(value),
            }),
            None => Ok(value),
        }
    }
}

/// A derive input that did not pass its checks: every error, and the model as far as it could be
/// read, from which the derive still emits the items the user's code names (see `dummy`).
pub(crate) struct Failed<T> {
    pub error: syn::Error,
    /// Boxed: the model is large, and an `Err` is the rare case.
    pub partial: Box<T>,
}

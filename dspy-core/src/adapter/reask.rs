//! The re-ask turn: after an answer that could not be read, the answer and what was wrong with
//! it are added to a chat prompt, and the model is asked again.

use super::{Formatted, Message, Prompt};

/// How a re-ask message starts. Test doubles look for it to tell a re-ask from a new input.
pub(crate) const REASK_PREFIX: &str = "Your answer could not be read:";

/// Adds the unreadable `answer` and the reason (the last of `reasons`) to a chat prompt, to ask
/// again; `false` for a completion prompt (which has no turns to add).
pub(crate) fn reask(
    formatted: &mut Formatted,
    answer: String,
    field: &str,
    reasons: &[String],
) -> bool {
    let Prompt::Chat(messages) = &mut formatted.prompt else {
        return false;
    };
    messages.push(Message::assistant(answer));
    messages.push(Message::user(format!(
        "{REASK_PREFIX} field `{field}`: {}. Answer again, following exactly the \
         structure described above.",
        reasons.last().map(String::as_str).unwrap_or("unreadable")
    )));
    true
}

//! Unions (`anyOf`, `oneOf`, `"type": [..]`): nullable values, and the first branch that fits.

use super::context::{Cx, Path, snip};
use super::scalar::{is_null_word, unwrap_text};
use super::shape::{Kind, branches, names_exactly};
use serde_json::Value;

/// Whether the union allows null.
pub(super) fn allows_null<'s>(cx: &Cx<'s>, schema: &'s Value, kind: Kind<'s>) -> bool {
    branches(cx.root, schema, kind).any(|(_, k)| k == Kind::Null)
}

/// Whether a null-like answer (`None`, `N/A`, empty) should be read as null: the union allows
/// null, and no enum branch has that answer as one of its choices.
pub(super) fn reads_as_null<'s>(
    cx: &Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    text: &str,
) -> bool {
    is_null_word(text)
        && allows_null(cx, schema, kind)
        && !branches(cx.root, schema, kind)
            .any(|(_, k)| names_exactly(k, text) || names_exactly(k, unwrap_text(text)))
}

/// Records that a null-like answer was read as null.
pub(super) fn fix_null(cx: &mut Cx<'_>, path: &Path<'_>, text: &str) {
    if text.trim().is_empty() {
        cx.fix(path, "read an empty answer as null");
    } else {
        cx.fix(path, format!("read {} as null", snip(text.trim(), 40)));
    }
}

/// Tries the union's non-null branches in order. The first that fits without any fix wins;
/// otherwise the first that fits at all, with its fixes. Fails with every branch's reasons.
///
/// `try_branch` gets the branch's schema and kind, and whether it is the last one tried (so a
/// value can be moved into it rather than cloned).
pub(super) fn first_fit<'s>(
    cx: &mut Cx<'s>,
    schema: &'s Value,
    kind: Kind<'s>,
    path: &Path<'_>,
    mut try_branch: impl FnMut(&mut Cx<'s>, &'s Value, Kind<'s>, bool) -> Result<Value, Vec<String>>,
) -> Result<Value, Vec<String>> {
    // A branch that is the union itself (`{"anyOf": [{"$ref": "#"}, ...]}`) can only loop.
    let mut options = branches(cx.root, schema, kind)
        .filter(|(b, k)| *k != Kind::Null && !(std::ptr::eq(*b, schema) && *k == kind))
        .peekable();
    let mut errors = Vec::new();
    let mut fallback = None;
    while let Some((branch, branch_kind)) = options.next() {
        let last = options.peek().is_none();
        let before = cx.fixes.len();
        match cx.nested(path, |cx| try_branch(cx, branch, branch_kind, last)) {
            Ok(value) if cx.fixes.len() == before => return Ok(value),
            Ok(value) => {
                let fixes = cx.fixes.split_off(before);
                if fallback.is_none() {
                    fallback = Some((value, fixes));
                }
            }
            Err(reasons) => {
                cx.fixes.truncate(before);
                errors.extend(reasons);
            }
        }
    }
    match fallback {
        Some((value, fixes)) => {
            cx.fixes.extend(fixes);
            Ok(value)
        }
        None if errors.is_empty() => Err(vec![super::context::at(path, "expected null")]),
        None => Err(errors),
    }
}

//! Escaped text and trusted markup: the one way text gets into a page.

use std::fmt;

/// A piece of markup that is safe to put in a page: either escaped text ([`Html::text`]) or
/// markup built by this module's helpers ([`Html::markup`]).
///
/// Everything a page shows from data (example text, outputs, errors, labels) goes through
/// [`Html::text`] or [`escape`], so arbitrary text cannot break the page.
///
/// ```
/// use dspy_core::evaluate::html::Html;
/// let cell = Html::text("a < b & \"c\"");
/// assert_eq!(cell.as_str(), "a &lt; b &amp; &quot;c&quot;");
/// let bold = Html::markup(format!("<b>{}</b>", cell));
/// assert_eq!(bold.as_str(), "<b>a &lt; b &amp; &quot;c&quot;</b>");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// `text`, escaped.
    pub fn text(text: &str) -> Html {
        Html(escape(text))
    }

    /// Markup taken as it is: every piece of text inside it must already be escaped.
    pub fn markup(markup: impl Into<String>) -> Html {
        Html(markup.into())
    }

    /// Nothing.
    pub fn empty() -> Html {
        Html(String::new())
    }

    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The markup, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// `<tag class="class">inner</tag>` (no class attribute when `class` is empty).
    pub fn tag(tag: &str, class: &str, inner: Html) -> Html {
        if class.is_empty() {
            Html(format!("<{tag}>{inner}</{tag}>"))
        } else {
            Html(format!(
                "<{tag} class=\"{}\">{inner}</{tag}>",
                escape(class)
            ))
        }
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromIterator<Html> for Html {
    fn from_iter<I: IntoIterator<Item = Html>>(iter: I) -> Html {
        Html(iter.into_iter().map(|h| h.0).collect())
    }
}

/// `text` escaped for HTML text and attribute values (`&`, `<`, `>`, `"`, `'`). Control
/// characters other than tab and newline are dropped: they are not allowed in a document.
///
/// ```
/// assert_eq!(dspy_core::evaluate::html::escape("<i>'x'</i>"), "&lt;i&gt;&#39;x&#39;&lt;/i&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters_and_drops_controls() {
        assert_eq!(
            escape("<script>alert('x&y')</script>\u{0}\u{7}ok\n"),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;ok\n"
        );
        assert_eq!(escape("héllo — ✓"), "héllo — ✓");
    }
}

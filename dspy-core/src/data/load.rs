//! Reading typed examples from JSONL, JSON and CSV files.
//!
//! Every loader is all-or-nothing: the first bad record is an [`Error::Data`] naming the file,
//! the line and the field, and no examples are returned.

use crate::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Loads one example per line of a JSON Lines file. Blank lines are skipped.
///
/// ```
/// use serde::Deserialize;
/// #[derive(Debug, Deserialize)]
/// struct Row { question: String, label: String }
///
/// let dir = std::env::temp_dir().join(format!("dspy-doc-jsonl-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("rows.jsonl");
/// std::fs::write(&path, "{\"question\": \"Who?\", \"label\": \"human\"}\n\n{\"question\": \"Where?\", \"label\": 3}\n").unwrap();
///
/// let err = dspy_core::data::load_jsonl::<Row>(&path).unwrap_err();
/// assert!(err.to_string().contains("rows.jsonl:3"));     // file and line
/// assert!(err.to_string().contains("`label`"));          // and the field
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_jsonl<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    let path = path.as_ref();
    parse_jsonl(&read(path)?, path)
}

/// Parses JSON Lines text; `origin` names it in errors.
///
/// ```
/// let rows: Vec<serde_json::Value> = dspy_core::data::parse_jsonl("{\"a\": 1}\n{\"a\": 2}\n", "inline").unwrap();
/// assert_eq!(rows.len(), 2);
/// ```
pub fn parse_jsonl<T: DeserializeOwned>(text: &str, origin: impl AsRef<Path>) -> Result<Vec<T>> {
    let mut examples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let example = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| json_error(origin.as_ref(), Some(index + 1), e))?;
        examples.push(example);
    }
    Ok(examples)
}

/// Loads a file holding one JSON array of examples.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dspy-doc-json-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("rows.json");
/// std::fs::write(&path, "[{\"n\": 1}, {\"n\": 2}]").unwrap();
/// #[derive(serde::Deserialize)]
/// struct Row { n: u32 }
/// let rows: Vec<Row> = dspy_core::data::load_json(&path).unwrap();
/// assert_eq!(rows[1].n, 2);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_json<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    let path = path.as_ref();
    let text = read(path)?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize::<_, Vec<T>>(&mut de).map_err(|e| {
        let line = e.inner().line();
        json_error(path, (line > 0).then_some(line), e)
    })
}

/// Loads a CSV file with a header row; columns are matched to fields by name.
///
/// Line numbers in errors count the header as line 1.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("dspy-doc-csv-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("rows.csv");
/// std::fs::write(&path, "question,label\n\"Who was Galileo, really ?\",human\n").unwrap();
/// #[derive(serde::Deserialize)]
/// struct Row { question: String, label: String }
/// let rows: Vec<Row> = dspy_core::data::load_csv(&path).unwrap();
/// assert_eq!(rows[0].question, "Who was Galileo, really ?");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn load_csv<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    let path = path.as_ref();
    parse_csv(&read(path)?, path)
}

/// Parses CSV text with a header row; `origin` names it in errors.
///
/// Each cell is read as JSON when it is a number, a boolean, `null`, an array or an object, as
/// `null` when empty, and as text otherwise; when a field wants text where a cell looked like a number, the text is used.
pub fn parse_csv<T: DeserializeOwned>(text: &str, origin: impl AsRef<Path>) -> Result<Vec<T>> {
    let origin = origin.as_ref();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::data_caused_by(origin, Some(1), format!("unreadable header row: {e}"), e)
        })?
        .clone();
    let mut examples = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            Error::data_caused_by(origin, line, e.to_string(), e)
        })?;
        let line = record.position().map(|p| p.line() as usize);
        let example = csv_row(&headers, &record).map_err(|m| Error::data(origin, line, m))?;
        examples.push(example);
    }
    Ok(examples)
}

/// One CSV row as `T`, through a JSON object so errors carry the field's name.
fn csv_row<T: DeserializeOwned>(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> std::result::Result<T, String> {
    let mut row = serde_json::Map::new();
    for (name, cell) in headers.iter().zip(record.iter()) {
        let value = match serde_json::from_str::<serde_json::Value>(cell) {
            // An empty cell is "no value" for an optional field, and "" for a text one.
            _ if cell.is_empty() => serde_json::Value::Null,
            Ok(value) if !value.is_string() => value,
            _ => serde_json::Value::String(cell.to_string()),
        };
        row.insert(name.to_string(), value);
    }
    // Each retry turns one guessed cell back into text, so this ends within one pass per column.
    loop {
        let value = serde_json::Value::Object(row.clone());
        let error = match serde_path_to_error::deserialize(value) {
            Ok(example) => return Ok(example),
            Err(error) => error,
        };
        let field = error.path().to_string();
        let cell = headers
            .iter()
            .position(|h| h == field)
            .and_then(|i| record.get(i));
        match (row.get_mut(&field), cell) {
            (Some(value), Some(cell)) if !value.is_string() => {
                *value = serde_json::Value::String(cell.to_string());
            }
            _ => return Err(describe_json(&error)),
        }
    }
}

/// The file's text: UTF-8 (a byte-order mark dropped), or an error naming the line and column
/// of the first byte that is not; a file with nothing in it is an error too, since an empty
/// dev set silently scores 0.
fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (check the path; relative paths start from the current directory)"
        } else {
            ""
        };
        Error::data_caused_by(path, None, format!("cannot read the file: {e}{hint}"), e)
    })?;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = position(&bytes[..e.valid_up_to()]);
        let message = format!(
            "the file is not UTF-8 text: byte {} (line {line}, column {column}) is not; save it \
             as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            e.valid_up_to() + 1
        );
        Error::data_caused_by(path, Some(line), message, e)
    })?;
    if text.trim().is_empty() {
        return Err(Error::data(
            path,
            None,
            "the file is empty: it holds no examples",
        ));
    }
    Ok(text.to_string())
}

/// The 1-based line and column just after `prefix`.
fn position(prefix: &[u8]) -> (usize, usize) {
    let line = 1 + prefix.iter().filter(|b| **b == b'\n').count();
    let start = prefix
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, prefix.len() - start + 1)
}

/// A JSON record that does not fit: the message names the field, the parser's error is the
/// source.
fn json_error(
    file: &Path,
    line: Option<usize>,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> Error {
    Error::data_caused_by(file, line, describe_json(&e), e.into_inner())
}

fn describe_json(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    let inner = e.inner();
    // serde_json appends " at line L column C"; the line is reported separately.
    let message = inner.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head)
        .to_string();
    if path == "." || path == "?" || path.is_empty() {
        // At the top level: a missing or unknown field already names itself.
        message
    } else {
        format!("field `{path}`: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_data_file_that_cannot_be_read_keeps_the_io_error() {
        let missing =
            std::env::temp_dir().join(format!("dspy-no-such-{}.jsonl", std::process::id()));
        let err = load_jsonl::<serde_json::Value>(&missing).unwrap_err();
        assert!(matches!(&err, Error::Data { file, line: None, .. } if *file == missing));
        let io = err
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(err.to_string().contains("cannot read the file"), "{err}");

        // A record that does not parse keeps the parser's error, line and all.
        let err = parse_jsonl::<serde_json::Value>("{}\n{oops\n", "rows.jsonl").unwrap_err();
        let json = err
            .source()
            .unwrap()
            .downcast_ref::<serde_json::Error>()
            .unwrap();
        assert!(json.is_syntax(), "{json}");
        assert!(err.to_string().starts_with("rows.jsonl:2: "), "{err}");
    }
}

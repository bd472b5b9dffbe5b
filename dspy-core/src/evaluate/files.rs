//! Report files: written whole or not at all.

use crate::util::write_atomic;
use crate::{Error, Result};
use std::path::Path;

/// Writes a report file atomically; a failure names the file.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes)
        .map_err(|e| Error::data_caused_by(path, None, format!("cannot write the report: {e}"), e))
}

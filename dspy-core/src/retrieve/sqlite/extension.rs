//! The sqlite-vec extension, linked in and registered with SQLite once per process.

use crate::{Error, Result};
use std::sync::OnceLock;

/// The C signature SQLite calls an extension's entry point with.
type EntryPoint = unsafe extern "C" fn(
    *mut rusqlite::ffi::sqlite3,
    *mut *mut std::os::raw::c_char,
    *const rusqlite::ffi::sqlite3_api_routines,
) -> std::os::raw::c_int;

/// Registers sqlite-vec as an auto-extension, so every connection opened after it has the
/// `vec0` table module; later calls return the first call's outcome.
pub(super) fn register() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(register_once)
        .clone()
        .map_err(|e| Error::config(format!("could not load the sqlite-vec extension: {e}")))
}

// The one unsafe block of the workspace: SQLite's C API takes the extension's entry point as a
// raw function pointer.
#[allow(unsafe_code)]
fn register_once() -> std::result::Result<(), String> {
    // SAFETY: `sqlite3_vec_init` is sqlite-vec's extension entry point, compiled with
    // SQLITE_CORE against the SQLite rusqlite bundles, so it has exactly the `EntryPoint`
    // signature; the crate declares it without arguments only because Rust need not call it.
    // The pointer is to a static function, valid for the whole process, as SQLite requires.
    let rc = unsafe {
        let entry: EntryPoint =
            std::mem::transmute::<unsafe extern "C" fn(), EntryPoint>(sqlite_vec::sqlite3_vec_init);
        rusqlite::ffi::sqlite3_auto_extension(Some(entry))
    };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("sqlite3_auto_extension returned {rc}"))
    }
}

//! One test in a process of its own, for the few that change process-wide state (the default
//! LM, a tracing subscriber's callsite interest) and so cannot share their binary's process with
//! the tests running beside them. The test re-runs its own binary, filtered to itself.

use std::process::Command;

/// Set in the child to the name of the test it runs.
const CHILD: &str = "DSPY_TEST_OWN_PROCESS";

/// The name the test harness knows a test by: its module path without the crate, then its name.
/// `module` is the caller's `module_path!()`.
pub(crate) fn test_name(module: &str, test: &str) -> String {
    match module.split_once("::") {
        Some((_, path)) => format!("{path}::{test}"),
        None => test.to_string(),
    }
}

/// Whether the caller runs in a process of its own: true in the child this starts for it (run
/// the test's body), false in the harness's process once the child has run the test and passed.
///
/// ```ignore
/// if !support::alone::in_own_process(module_path!(), "my_test") {
///     return;
/// }
/// ```
pub(crate) fn in_own_process(module: &str, test: &str) -> bool {
    in_own_process_with_env(module, test, &[])
}

/// [`in_own_process`], with environment variables set in the child (for tests of what the
/// environment configures, which must not leak into the tests beside them).
pub(crate) fn in_own_process_with_env(module: &str, test: &str, vars: &[(&str, &str)]) -> bool {
    let name = test_name(module, test);
    if std::env::var_os(CHILD).is_some_and(|child| child == name.as_str()) {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--test-threads=1"])
        .env(CHILD, &name)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`{name}` failed in its own process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "`{name}` did not run in its own process:\n{stdout}\n{stderr}"
    );
    false
}

//! Running a Node.js script that drives a real client against a server of the test.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Runs `node <script> <args…>`, prints what it printed (stdout, then stderr), and fails the
/// test, naming `what`, unless it exits with 0. Check [`Prerequisites`](super::Prerequisites)
/// first (`node()`, `npm_package(..)`).
///
/// ```no_run
/// nestgate::testing::node_script(
///     "tests/node/recovery.mjs",
///     ["http://127.0.0.1:3000"],
///     "the recovery script",
/// );
/// ```
pub fn node_script<I, A>(script: impl AsRef<Path>, args: I, what: &str)
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let output = Command::new("node")
        .arg(script.as_ref())
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("node does not start for {what}: {err}"));
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "{what} failed ({}); its output is above",
        output.status
    );
}

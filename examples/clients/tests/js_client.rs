//! The TypeScript client (`clients/js`) against this example's server: `npm test` there checks
//! that the committed `dist/` is what `tsc` makes of `src/` now, builds it, checks its typed
//! events (`tsc --noEmit` over `@ts-expect-error` lines), and runs its `node --test` suite,
//! which starts this server (the binary cargo built for this test) and restarts it on the same
//! port.
//!
//! Needs `node` and `npm ci --prefix clients/js`. Without them the test is skipped with a loud
//! line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::Prerequisites;
use std::path::Path;
use std::process::Command;

#[test]
fn the_typescript_client_passes_its_suite_against_this_server() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js");
    let ready = Prerequisites::new(
        "the TypeScript client's tests",
        "npm ci --prefix clients/js",
    )
    .node()
    .npm_package(&package, "typescript")
    .npm_package(&package, "ws")
    .ready();
    if !ready {
        return;
    }
    let status = Command::new("npm")
        .arg("test")
        .current_dir(&package)
        .env("NESTGATE_CLIENTS_SERVER", env!("CARGO_BIN_EXE_clients"))
        .status()
        .expect("npm starts");
    assert!(
        status.success(),
        "`npm test` in clients/js failed: {status}"
    );
}

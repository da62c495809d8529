//! The TypeScript client (`clients/js`) against this example's server: `npm test` there builds
//! it with `tsc`, checks its typed events (`tsc --noEmit` over `@ts-expect-error` lines), and
//! runs its `node --test` suite, which starts this server (the binary cargo built for this
//! test) and restarts it on the same port.
//!
//! Needs `node` and `npm ci --prefix clients/js`. Without them the test is skipped with a loud
//! line on stderr, unless `CI=true`, where it fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str = "npm ci --prefix clients/js";

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js")
}

fn missing_prerequisites(package: &Path) -> Option<String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Some("`node` is not on PATH".to_owned());
    }
    let tsc = package.join("node_modules/typescript/package.json");
    (!tsc.exists()).then(|| format!("{} is missing", tsc.display()))
}

#[test]
fn the_typescript_client_passes_its_suite_against_this_server() {
    let package = package_dir();
    if let Some(missing) = missing_prerequisites(&package) {
        let on_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            !on_ci,
            "the TypeScript client's tests cannot run on CI: {missing}; install with `{INSTALL}`"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n=== SKIPPED: the TypeScript client's tests did not run: {missing}. \
             Install with `{INSTALL}` (with CI=true this is a failure). ===\n"
        );
        return;
    }
    let status = Command::new("npm")
        .arg("test")
        .current_dir(&package)
        .env("NESTGATE_CLIENTS_SERVER", env!("CARGO_BIN_EXE_clients"))
        .status()
        .expect("npm starts");
    assert!(status.success(), "`npm test` in clients/js failed: {status}");
}

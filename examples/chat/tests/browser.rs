//! Loads the chat page in headless Chromium, twice, and sees a message go from one page to the
//! other: the script `tests/browser/chat-roundtrip.mjs` drives the pages with `playwright-core`.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`) and `npm ci` in `tests/browser`. Without them
//! the test is skipped with a loud line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::ChildServer;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// How to install what the test needs, for the messages below.
const INSTALL: &str = "apt-get install -y chromium && npm ci --prefix examples/chat/tests/browser";

/// What is missing to run the browser test, if anything.
fn missing_prerequisites(script_dir: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is not installed"));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        return Some("`node` is not on PATH".to_owned());
    }
    let playwright = script_dir.join("node_modules/playwright-core/package.json");
    if !playwright.exists() {
        return Some(format!("{} is missing", playwright.display()));
    }
    None
}

#[test]
fn a_message_goes_from_one_page_to_another_in_chromium() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Some(missing) = missing_prerequisites(&script_dir) {
        let on_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            !on_ci,
            "the browser test cannot run on CI: {missing}; install it with `{INSTALL}`"
        );
        // Written to the real stderr: the test harness would swallow `eprintln!` of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n=== SKIPPED: the chat browser test did not run: {missing}. \
             Install it with `{INSTALL}` (with CI=true this is a failure). ===\n"
        );
        return;
    }

    let server =
        ChildServer::start(env!("CARGO_BIN_EXE_chat"), &[]).expect("the chat example starts");
    // Cargo's scratch directory for integration tests, kept after the run for a look.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chat-browser");
    std::fs::create_dir_all(&shots).unwrap();

    let output = Command::new("node")
        .arg(script_dir.join("chat-roundtrip.mjs"))
        .arg(server.http_url(""))
        .arg(&shots)
        .output()
        .expect("node starts");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the browser script failed ({}); its output is above",
        output.status
    );
    assert!(
        shots.join("chat-alice.png").exists(),
        "the script took a screenshot"
    );
}

//! Loads the chat page in headless Chromium, twice, and sees a message go from one page to the
//! other, then the messages one page missed during a network blip (a TCP proxy in the script
//! drops its connection) come back once each when it recovers, then messages go again after the
//! server restarted (not recovered: the pages join again): the script
//! `tests/browser/chat-roundtrip.mjs` drives the pages with `playwright-core`. It also starts the chat binary cargo built for this
//! test, since it terminates it in the middle and starts it again on the same port.
//!
//! A second test drives the Socket.IO Admin UI (`@socket.io/admin-ui`'s built files, installed
//! by `npm ci` and never committed) against the chat started with `ADMIN_PASSWORD`:
//! `tests/browser/admin-ui.mjs`.
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium`) and `npm ci` in `tests/browser`. Without them
//! the test is skipped with a loud line on stderr, unless `CI=true`, where it fails.

use nestgate::testing::Prerequisites;
use std::path::{Path, PathBuf};

const CHROMIUM: &str = "/usr/bin/chromium";

/// How to install what the test needs, for the messages of `Prerequisites`.
const INSTALL: &str = "apt-get install -y chromium && npm ci --prefix examples/chat/tests/browser";

#[test]
fn a_message_goes_from_one_page_to_another_in_chromium_and_again_after_a_restart() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Prerequisites::new("the chat browser test", INSTALL)
        .file(CHROMIUM)
        .node()
        .npm_package(&script_dir, "playwright-core")
        .ready();
    if !ready {
        return;
    }

    // Cargo's scratch directory for integration tests, kept after the run for a look.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chat-browser");
    std::fs::create_dir_all(&shots).expect("the screenshot directory can be made");

    nestgate::testing::node_script(
        script_dir.join("chat-roundtrip.mjs"),
        [
            std::ffi::OsStr::new(env!("CARGO_BIN_EXE_chat")),
            std::ffi::OsStr::new(&shots),
        ],
        "the browser script",
    );
    assert!(
        shots.join("chat-alice.png").exists(),
        "the script took a screenshot"
    );
}

#[test]
fn the_socket_io_admin_ui_lists_and_disconnects_sockets_in_chromium() {
    let script_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let ready = Prerequisites::new("the Admin UI browser test", INSTALL)
        .file(CHROMIUM)
        .node()
        .npm_package(&script_dir, "playwright-core")
        .npm_package(&script_dir, "@socket.io/admin-ui")
        .ready();
    if !ready {
        return;
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chat-admin-ui");
    std::fs::create_dir_all(&shots).expect("the screenshot directory can be made");
    nestgate::testing::node_script(
        script_dir.join("admin-ui.mjs"),
        [
            std::ffi::OsStr::new(env!("CARGO_BIN_EXE_chat")),
            std::ffi::OsStr::new(&shots),
        ],
        "the Admin UI script",
    );
    assert!(
        shots.join("admin-sockets.png").exists(),
        "the script took a screenshot"
    );
}

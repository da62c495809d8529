//! What a test of a component nobody here wrote (Chromium, an npm client, Node) needs before it
//! can run, checked in one place: such a test is skipped with a loud line where the tools are
//! missing, and fails under `CI=true`, where a skipped test of a real component is a failure.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// The prerequisites of one test, checked in the order they were named; the first missing one
/// is reported.
///
/// ```no_run
/// use nestgate::testing::Prerequisites;
/// use std::path::Path;
///
/// #[test]
/// fn the_page_works_in_chromium() {
///     let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
///     let ready = Prerequisites::new("the browser test", "npm ci --prefix tests/browser")
///         .file("/usr/bin/chromium")
///         .node()
///         .npm_package(&scripts, "playwright-core")
///         .ready();
///     if !ready {
///         return;
///     }
///     // ... start the server, run the script ...
/// }
/// ```
#[derive(Debug)]
#[must_use = "call `ready()`: it is what skips the test or fails it under CI"]
pub struct Prerequisites {
    test: String,
    install: String,
    missing: Option<String>,
}

impl Prerequisites {
    /// `test` names the test in the messages; `install` is the command that installs what it
    /// needs.
    pub fn new(test: impl Into<String>, install: impl Into<String>) -> Self {
        Prerequisites {
            test: test.into(),
            install: install.into(),
            missing: None,
        }
    }

    fn check(mut self, missing: impl FnOnce() -> Option<String>) -> Self {
        if self.missing.is_none() {
            self.missing = missing();
        }
        self
    }

    /// A file that must exist (a browser's binary, say).
    pub fn file(self, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        self.check(|| (!path.exists()).then(|| format!("{} is not installed", path.display())))
    }

    /// `node` on the `PATH`.
    pub fn node(self) -> Self {
        self.check(|| {
            let node = Command::new("node").arg("--version").output();
            (!node.is_ok_and(|output| output.status.success()))
                .then(|| "`node` is not on PATH".to_owned())
        })
    }

    /// The npm package `package` installed in `dir`'s `node_modules`.
    pub fn npm_package(self, dir: &Path, package: &str) -> Self {
        let manifest = dir.join("node_modules").join(package).join("package.json");
        self.check(|| (!manifest.exists()).then(|| format!("{} is missing", manifest.display())))
    }

    /// Whether everything is there. When something is missing: panics under `CI=true` (or
    /// `CI=1`), and otherwise writes a `SKIPPED` line to the real stderr (the test harness would
    /// swallow `eprintln!` of a passing test) and returns `false`: the test returns then.
    pub fn ready(self) -> bool {
        let Some(missing) = self.missing else {
            return true;
        };
        let (test, install) = (&self.test, &self.install);
        let on_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            !on_ci,
            "{test} cannot run on CI: {missing}; install it with `{install}`"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n=== SKIPPED: {test} did not run: {missing}. \
             Install it with `{install}` (with CI=true this is a failure). ===\n"
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::Prerequisites;

    #[test]
    fn the_first_missing_prerequisite_is_the_one_reported() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let checked = Prerequisites::new("a test", "nothing")
            .file(here.join("Cargo.toml"))
            .file(here.join("no-such-file"))
            .npm_package(here, "no-such-package");
        let missing = checked.missing.as_deref().unwrap_or_default();
        assert!(
            missing.ends_with("no-such-file is not installed"),
            "{missing}"
        );
        let present = Prerequisites::new("a test", "nothing").file(here.join("Cargo.toml"));
        assert!(present.missing.is_none());
        assert!(present.ready());
    }
}

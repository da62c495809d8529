//! A project made by `nestgate new`, with a gateway from every template added by
//! `nestgate generate`, builds offline against this workspace and passes its tests: each
//! template's test as rendered, and the project's own test that starts its binary. So does a
//! plain binary project that `generate` adds a gateway to.
//!
//! The generated projects share this workspace's target directory and lock file, so each
//! compiles only itself and the dependencies whose features differ from the workspace's
//! (seconds when warm; a cold build of everything a generated project needs took 2m17s on
//! one job of a busy 2-core machine, the bound when nothing can be reused).

use nestgate_cli::templates::TEMPLATES;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs `nestgate ARGS` in `dir` and expects success.
#[track_caller]
fn nestgate(dir: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_nestgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the nestgate binary runs");
    assert!(
        output.status.success(),
        "nestgate {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_new_project_with_every_template_builds_and_passes_its_tests() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace exists");
    // `CARGO_TARGET_TMPDIR` is `<target dir>/tmp`: the generated project builds in the
    // workspace's own target directory, reusing what is compiled there.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the temporary directory is in the target directory")
        .to_path_buf();
    // Outside the workspace, or Cargo would take the project for a member that is not listed.
    let scratch: PathBuf =
        std::env::temp_dir().join(format!("nestgate-cli-generated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("the temporary directory is writable");

    let nestgate_crate = workspace.join("crates/nestgate");
    let nestgate_path = nestgate_crate
        .to_str()
        .expect("the workspace path is UTF-8");
    let app = "nestgate-cli-generated";
    nestgate(&scratch, &["new", app, "--nestgate-path", nestgate_path]);
    let project = scratch.join(app);
    for template in TEMPLATES {
        let name = format!("{}-demo", template.name);
        nestgate(
            &project,
            &["generate", "gateway", &name, "--template", template.name],
        );
    }
    let started = Instant::now();
    let passed = cargo_test(&workspace, &project, &target);
    // At least one test per template, the first gateway's and the binary's.
    assert!(passed >= TEMPLATES.len() + 2, "only {passed} tests ran");

    // A plain binary project, as `cargo new` makes it: `generate` adds `mod chat;` to
    // src/main.rs and every dependency the gateway and its test need.
    let plain = scratch.join("plain");
    std::fs::create_dir_all(plain.join("src")).expect("the scratch directory is writable");
    std::fs::write(
        plain.join("Cargo.toml"),
        "[package]\nname = \"nestgate-cli-plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n",
    )
    .expect("the scratch directory is writable");
    std::fs::write(plain.join("src/main.rs"), "fn main() {}\n")
        .expect("the scratch directory is writable");
    nestgate(
        &plain,
        &[
            "generate",
            "gateway",
            "chat",
            "--template",
            "chat",
            "--nestgate-path",
            nestgate_path,
        ],
    );
    assert_eq!(
        cargo_test(&workspace, &plain, &target),
        2,
        "the chat template's two tests"
    );

    eprintln!(
        "the generated projects built and passed their tests in {:.1?}",
        started.elapsed()
    );
    std::fs::remove_dir_all(&scratch).expect("the scratch directory is removed");
}

/// Runs `cargo test --offline` in `project`, with the workspace's lock file and `target` as
/// its target directory; returns how many tests passed.
#[track_caller]
fn cargo_test(workspace: &Path, project: &Path, target: &Path) -> usize {
    std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock"))
        .expect("the workspace's lock file is copied");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--offline", "--quiet"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the generated project in {} fails:\n{stdout}\n{stderr}",
        project.display()
    );
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum()
}

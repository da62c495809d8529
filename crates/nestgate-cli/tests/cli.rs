//! The `nestgate` binary as users meet it: what it writes, and for bad input a clear message,
//! a non-zero exit and nothing written.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh, empty directory for one test, outside any Cargo workspace.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nestgate-cli-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("the temporary directory is writable");
    dir
}

/// Runs `nestgate ARGS` in `dir`.
fn nestgate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nestgate"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the nestgate binary runs")
}

/// Runs `nestgate ARGS` in `dir` and expects success; returns stdout.
#[track_caller]
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = nestgate(dir, args);
    assert!(
        output.status.success(),
        "nestgate {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the output is UTF-8")
}

/// Runs `nestgate ARGS` in `dir`, expects exit code 1 with an error, and that nothing in
/// `dir` changed; returns stderr.
#[track_caller]
fn fails(dir: &Path, args: &[&str]) -> String {
    let before = snapshot(dir);
    let output = nestgate(dir, args);
    let stderr = String::from_utf8(output.stderr).expect("the error is UTF-8");
    assert_eq!(output.status.code(), Some(1), "nestgate {args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "nestgate {args:?} printed to stdout"
    );
    assert!(
        snapshot(dir) == before,
        "nestgate {args:?} changed files: {stderr}"
    );
    stderr
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("the directory is readable") {
            let path = entry.expect("the entry is readable").path();
            if path.is_dir() {
                files.insert(path.clone(), Vec::new());
                pending.push(path);
            } else {
                files.insert(path.clone(), fs::read(&path).expect("the file is readable"));
            }
        }
    }
    files
}

/// A project made by `nestgate new shop` in a scratch directory; returns the project's path.
fn project(test: &str) -> PathBuf {
    let dir = scratch(test);
    ok(&dir, &["new", "shop"]);
    dir.join("shop")
}

#[test]
fn new_writes_a_project_and_says_what_next() {
    let dir = scratch("new");
    let out = ok(&dir, &["new", "my-app"]);
    for file in [
        "Cargo.toml",
        "README.md",
        ".gitignore",
        "src/lib.rs",
        "src/main.rs",
        "tests/app.rs",
        "src/events.rs",
        "src/events/tests.rs",
    ] {
        assert!(
            out.contains(&format!("CREATE my-app/{file} (")),
            "{file}: {out}"
        );
        assert!(dir.join("my-app").join(file).is_file(), "{file}");
    }
    assert!(out.contains("cd my-app"), "{out}");
    let main = fs::read_to_string(dir.join("my-app/src/main.rs")).unwrap(); // just written
    assert!(main.contains("my_app::app()"), "{main}");
    fs::remove_dir_all(dir).unwrap(); // the test's own directory
}

#[test]
fn generate_adds_the_gateway_its_test_the_mod_line_and_missing_dependencies() {
    let shop = project("generate");
    let out = ok(
        &shop,
        &[
            "generate",
            "gateway",
            "ChatRoom",
            "--template",
            "auth",
            "--path",
            "/api/chat",
        ],
    );
    assert_eq!(
        out.lines()
            .filter(|line| line.starts_with("CREATE") || line.starts_with("UPDATE"))
            .map(|line| line.split(" (").next().unwrap_or_default())
            .collect::<Vec<_>>(),
        [
            "CREATE src/chat_room.rs",
            "CREATE src/chat_room/tests.rs",
            "CREATE src/auth.rs",
            "UPDATE src/lib.rs",
            "UPDATE Cargo.toml"
        ]
    );
    // A second `auth` gateway uses the same src/auth.rs: the same keys, claims and secret.
    let out = ok(
        &shop,
        &["generate", "gateway", "admin", "--template", "auth"],
    );
    assert!(!out.contains("src/auth.rs"), "{out}");
    let admin = fs::read_to_string(shop.join("src/admin.rs")).unwrap(); // just written
    assert!(admin.contains("use crate::auth::{"), "{admin}");
    assert!(!admin.contains("DEVELOPMENT_SECRET"), "{admin}");
    let gateway = fs::read_to_string(shop.join("src/chat_room.rs")).unwrap(); // just written
    assert!(gateway.contains("pub struct ChatRoomGateway;"));
    assert!(gateway.contains(r#"path = "/api/chat""#));
    let lib = fs::read_to_string(shop.join("src/lib.rs")).unwrap(); // written by `new`
    assert!(
        lib.contains("pub mod events;\npub mod chat_room;\npub mod auth;\npub mod admin;\n"),
        "{lib}"
    );
    let manifest = fs::read_to_string(shop.join("Cargo.toml")).unwrap(); // written by `new`
    assert!(manifest.contains("jsonwebtoken = "), "{manifest}");
    assert!(manifest.contains("validator = "), "{manifest}");

    // From a subdirectory too, as cargo finds its project; `g`, `ga` and `res` are aliases.
    ok(&shop.join("src"), &["g", "ga", "lobby", "-t", "rooms"]);
    ok(&shop, &["generate", "res", "users"]);
    let users = fs::read_to_string(shop.join("src/users.rs")).expect("just written");
    assert!(
        users.contains(r#"#[subscribe_message("find_all")]"#),
        "{users}"
    );
    let lib = fs::read_to_string(shop.join("src/lib.rs")).unwrap(); // written by `new`
    assert!(
        lib.contains("pub mod admin;\npub mod lobby;\npub mod users;\n"),
        "{lib}"
    );
    fs::remove_dir_all(shop.parent().unwrap()).unwrap(); // the test's own directory
}

#[test]
fn generate_works_in_a_plain_cargo_binary_project() {
    let dir = scratch("plain");
    fs::create_dir_all(dir.join("src")).expect("the scratch dir is writable");
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n",
    )
    .expect("the scratch dir is writable");
    fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("the scratch dir is writable");
    let out = ok(&dir, &["generate", "gateway", "chat", "--template", "chat"]);
    assert!(out.contains("UPDATE src/main.rs"), "{out}");
    let main = fs::read_to_string(dir.join("src/main.rs")).expect("just written");
    assert_eq!(main, "mod chat;\n\nfn main() {}\n");
    let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("just written");
    let (dependencies, dev) = manifest
        .split_once("[dev-dependencies]")
        .expect("dev-dependencies were added");
    for needed in ["nestgate = {", "serde = {"] {
        assert!(dependencies.contains(needed), "{needed}: {manifest}");
    }
    for needed in ["serde_json = ", "tokio = {", "features = [\"testing\"]"] {
        assert!(dev.contains(needed), "{needed}: {manifest}");
    }
    fs::remove_dir_all(dir).expect("the test's own directory");
}

#[test]
fn generate_guard_jwt_writes_the_shared_guard_once() {
    let shop = project("guard");
    let out = ok(&shop, &["generate", "guard", "jwt"]);
    assert!(out.contains("CREATE src/auth.rs"), "{out}");
    let guard = fs::read_to_string(shop.join("src/auth.rs")).unwrap(); // just written
    for reads in [
        ".auth()",
        "query(\"token\")",
        "bearer_token()",
        "cookie(\"token\")",
    ] {
        assert!(guard.contains(reads), "the guard reads {reads}");
    }
    let lib = fs::read_to_string(shop.join("src/lib.rs")).unwrap(); // written by `new`
    assert!(lib.contains("pub mod auth;"), "{lib}");
    let manifest = fs::read_to_string(shop.join("Cargo.toml")).unwrap(); // written by `new`
    assert!(manifest.contains("jsonwebtoken = "), "{manifest}");
    // Once: a second time is refused, and an `auth` gateway uses it as it is.
    let err = fails(&shop, &["generate", "guard", "jwt"]);
    assert!(err.contains("src/auth.rs already exists"), "{err}");
    let out = ok(&shop, &["generate", "gateway", "bids", "-t", "auth"]);
    assert!(!out.contains("src/auth.rs"), "{out}");
    let err = fails(&shop, &["generate", "guard", "oauth"]);
    assert!(
        err.contains("unknown guard `oauth`: choose one of jwt"),
        "{err}"
    );
    // A gateway of the auth template cannot take the guard's file.
    let err = fails(&shop, &["generate", "gateway", "auth", "-t", "auth"]);
    assert!(err.contains("the project's shared jwt guard"), "{err}");
}

#[test]
fn invalid_names_are_refused() {
    let dir = scratch("names");
    for (name, reason) in [
        ("", "a name cannot be empty"),
        ("type", "is a Rust keyword"),
        ("2fast", "starts with a letter"),
        ("my app", "` ` is not allowed"),
        ("a--b", "twice in a row"),
        ("serde", "would clash with a crate"),
    ] {
        let stderr = fails(&dir, &["new", name]);
        assert!(
            stderr.contains(&format!("invalid name `{name}`")),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{name}: {stderr}");
    }
    let shop = project("gateway-names");
    for name in ["", "fn", "chat.room", "9lives", "main"] {
        let stderr = fails(&shop, &["generate", "gateway", name]);
        assert!(stderr.contains("invalid name"), "{name}: {stderr}");
    }
    let stderr = fails(&shop, &["generate", "resource", "store"]);
    assert!(stderr.contains("choose another name"), "{stderr}");
    fs::remove_dir_all(dir).unwrap(); // the test's own directory
    fs::remove_dir_all(shop.parent().unwrap()).unwrap(); // the test's own directory
}

#[test]
fn existing_files_are_refused_unless_forced() {
    let shop = project("force");
    ok(
        &shop,
        &["generate", "gateway", "chat", "--template", "chat"],
    );
    let stderr = fails(&shop, &["generate", "gateway", "chat"]);
    assert!(
        stderr.contains("chat.rs already exists (pass --force to overwrite it)"),
        "{stderr}"
    );

    // A module declared by hand counts too.
    let lib = fs::read_to_string(shop.join("src/lib.rs")).unwrap(); // written by `new`
    fs::write(shop.join("src/lib.rs"), lib + "pub mod orders;\n").unwrap(); // the project is ours
    let stderr = fails(&shop, &["generate", "gateway", "orders"]);
    assert!(
        stderr.contains("already declares a module `orders`"),
        "{stderr}"
    );

    let out = ok(&shop, &["generate", "gateway", "chat", "--force"]);
    assert!(out.contains("OVERWRITE src/chat.rs"), "{out}");
    assert!(!out.contains("UPDATE src/lib.rs"), "{out}");
    let gateway = fs::read_to_string(shop.join("src/chat.rs")).unwrap(); // just written
    assert!(
        gateway.contains(r#"#[subscribe_message("echo")]"#),
        "the echo template replaced the chat one"
    );
    fs::remove_dir_all(shop.parent().unwrap()).unwrap(); // the test's own directory

    let dir = scratch("new-exists");
    fs::create_dir(dir.join("taken")).unwrap(); // the scratch dir is writable
    let stderr = fails(&dir, &["new", "taken"]);
    assert!(stderr.contains("taken already exists"), "{stderr}");
    fs::remove_dir_all(dir).unwrap(); // the test's own directory
}

#[test]
fn outside_a_project_unknown_templates_and_bad_paths_are_refused() {
    let dir = scratch("outside");
    let stderr = fails(&dir, &["generate", "gateway", "chat"]);
    assert!(stderr.contains("not inside a Cargo project"), "{stderr}");
    // A workspace's virtual manifest is not a project.
    fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap(); // the scratch dir is writable
    let stderr = fails(&dir, &["generate", "gateway", "chat"]);
    assert!(stderr.contains("not inside a Cargo project"), "{stderr}");

    let shop = project("unknown");
    let stderr = fails(
        &shop,
        &["generate", "gateway", "chat", "--template", "graphql"],
    );
    assert!(
        stderr.contains("unknown template `graphql`: choose one of echo, chat, rooms, auth, crud"),
        "{stderr}"
    );
    let stderr = fails(&dir, &["new", "app", "--template", "graphql"]);
    assert!(stderr.contains("unknown template `graphql`"), "{stderr}");
    for path in ["chat", "/chat room", "/a//b"] {
        let stderr = fails(&shop, &["generate", "gateway", "chat", "--path", path]);
        assert!(
            stderr.contains(&format!("invalid path `{path}`")),
            "{stderr}"
        );
    }
    fs::remove_dir_all(dir).unwrap(); // the test's own directory
    fs::remove_dir_all(shop.parent().unwrap()).unwrap(); // the test's own directory
}

#[test]
fn dry_run_prints_everything_and_writes_nothing() {
    let shop = project("dry-run");
    let before = snapshot(&shop);
    let out = ok(
        &shop,
        &[
            "generate",
            "gateway",
            "secure",
            "--template",
            "auth",
            "--dry-run",
        ],
    );
    assert!(snapshot(&shop) == before, "--dry-run wrote files");
    assert!(out.starts_with("--dry-run: nothing is written."), "{out}");
    assert!(
        out.contains("==> src/secure.rs <==\n//! `SecureGateway`, at `/secure`"),
        "{out}"
    );
    assert!(
        out.contains("==> src/lib.rs (lines added) <==\n+ pub mod secure;\n"),
        "{out}"
    );
    assert!(out.contains("+ jsonwebtoken = "), "{out}");

    let dir = shop.parent().unwrap().to_path_buf(); // the project is in a scratch directory
    let out = ok(&dir, &["new", "other", "--dry-run"]);
    assert!(out.contains("CREATE other/Cargo.toml"), "{out}");
    assert!(!dir.join("other").exists());
    fs::remove_dir_all(dir).unwrap(); // the test's own directory
}

#[test]
fn list_shows_each_template_on_one_line() {
    let out = ok(&std::env::temp_dir(), &["generate", "--list"]);
    let names: Vec<&str> = out
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(names, ["echo", "chat", "rooms", "auth", "crud"], "{out}");
}

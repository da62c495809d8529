//! Golden files: the rendered output of `nestgate new` and of every template, compared with
//! `tests/golden/`. After an intended change, regenerate them with
//! `NESTGATE_BLESS=1 cargo test -p nestgate-cli --test golden` and review the diff.
//!
//! `nestgate new` and `generate` format the Rust files they write with `rustfmt` (as CI's
//! toolchain has it); the golden `.rs` files are those of the `new` project and the files of
//! `src/` that `generate` writes.

use nestgate_cli::deps::NestgateSource;
use nestgate_cli::names::{Name, PackageName};
use nestgate_cli::new::{NewOptions, new_project};
use nestgate_cli::project::gateway_files;
use nestgate_cli::templates::{self, TEMPLATES};
use std::fs;
use std::path::{Path, PathBuf};

/// Compares `files` with the directory `golden/<case>`, or writes them there when blessing.
fn check(case: &str, files: &[(PathBuf, String)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case);
    if std::env::var_os("NESTGATE_BLESS").is_some() {
        let _ = fs::remove_dir_all(&dir);
        for (path, contents) in files {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().expect("a file has a parent"))
                .expect("the golden directory is writable");
            fs::write(&path, contents).expect("the golden file is writable");
        }
        return;
    }
    for (path, contents) in files {
        let expected = fs::read_to_string(dir.join(path)).unwrap_or_else(|err| {
            panic!(
                "{case}/{}: {err} (NESTGATE_BLESS=1 writes the golden files)",
                path.display()
            )
        });
        assert!(
            *contents == expected,
            "{case}/{} differs from its golden file (NESTGATE_BLESS=1 rewrites them; review the diff):\n{contents}",
            path.display()
        );
    }
    let mut golden = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).expect("the golden directory is readable") {
            let path = entry.expect("the entry is readable").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                golden.push(
                    path.strip_prefix(&dir)
                        .expect("under the golden directory")
                        .to_path_buf(),
                );
            }
        }
    }
    golden.sort();
    let mut rendered: Vec<PathBuf> = files.iter().map(|(path, _)| path.clone()).collect();
    rendered.sort();
    assert_eq!(
        golden, rendered,
        "{case}: the golden files are not the rendered ones"
    );
}

#[test]
fn the_new_project() {
    let options = NewOptions {
        dir: PathBuf::from("shop"),
        package: PackageName::parse("shop").expect("a valid package name"),
        gateway: Name::parse("events").expect("a valid name"),
        template: templates::find("echo").expect("the echo template exists"),
        path: None,
        nestgate: NestgateSource::Path("../nestgate".to_owned()),
    };
    let plan = new_project(&options).expect("the project renders");
    let files: Vec<(PathBuf, String)> = plan
        .files
        .iter()
        .map(|file| (file.path.clone(), file.contents.clone()))
        .collect();
    check("new", &files);
}

#[test]
fn every_template_rendered() {
    let name = Name::parse("order-item").expect("a valid name");
    for template in TEMPLATES {
        let files = gateway_files(&name, template, None).expect("the template renders");
        check(&format!("templates/{}", template.name), &files);
    }
}

#[test]
fn every_guard_rendered() {
    for guard in templates::GUARDS {
        let path = PathBuf::from(format!("src/{}.rs", guard.module));
        let contents = nestgate_cli::format::rust(guard.source);
        check(&format!("guards/{}", guard.kind), &[(path, contents)]);
    }
}

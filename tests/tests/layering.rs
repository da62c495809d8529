//! The core crate's layering rules (docs/ARCHITECTURE.md, "Architecture invariants"), checked by
//! reading its sources: the cheap stand-in for the crate borders rust-analyzer uses to hold
//! its invariants. A failure names the file, the line and the import that breaks a rule.
//!
//! What counts as an import: any `crate::<module>` path outside comments and outside the
//! file's `#[cfg(test)]` module (a `use crate::{a, b}` group names each of `a` and `b`).

use std::path::{Path, PathBuf};

/// Modules that import nothing above them: only each other.
const LEAVES: &[&str] = &[
    "ack",
    "close",
    "config",
    "error",
    "handshake",
    "host",
    "metrics",
    "origin",
    "pattern",
    "protocol",
    "state",
    "util",
];

/// One rule: files under `scope` (a file or a folder of `src/`) may import only `allowed`
/// (their own top-level module is always allowed).
struct Rule {
    scope: &'static str,
    allowed: Allowed,
    why: &'static str,
}

enum Allowed {
    Only(&'static [&'static str]),
    AllBut(&'static [&'static str]),
}

fn rules() -> Vec<Rule> {
    let mut rules: Vec<Rule> = LEAVES
        .iter()
        .map(|leaf| Rule {
            scope: leaf,
            allowed: Allowed::Only(LEAVES),
            why: "a leaf imports only other leaves",
        })
        .collect();
    rules.push(Rule {
        scope: "util",
        allowed: Allowed::Only(&[]),
        why: "util/ imports nothing of the crate outside util/",
    });
    rules.push(Rule {
        scope: "engineio",
        allowed: Allowed::Only(&["util", "handshake", "origin", "close", "metrics"]),
        why: "the Engine.IO transport knows nothing of sockets, namespaces or Socket.IO (a crate in waiting)",
    });
    rules.push(Rule {
        scope: "recovery",
        allowed: Allowed::Only(&[
            "adapter", "ack", "close", "config", "error", "handshake", "host", "origin",
            "pattern", "protocol", "state", "util",
        ]),
        why: "recovery (the log and the sessions) knows rooms and frames, not sockets or connections",
    });
    rules.push(Rule {
        scope: "connection",
        allowed: Allowed::AllBut(&["engineio", "socketio", "ws"]),
        why: "the connection driver is shared by both wire modes and knows no engine type",
    });
    rules
}

/// Every breach of `rules` in the crate whose `src` is `root`: `file:line: ...` lines.
fn breaches(root: &Path, rules: &[Rule]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(root) {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let own = top_module(&relative);
        let text = std::fs::read_to_string(&file).unwrap();
        for rule in rules {
            if own != rule.scope {
                continue;
            }
            for (line, module) in imports(&text) {
                let ok = module == own
                    || match &rule.allowed {
                        Allowed::Only(allowed) => allowed.contains(&module.as_str()),
                        Allowed::AllBut(denied) => !denied.contains(&module.as_str()),
                    };
                if !ok {
                    found.push(format!(
                        "crates/nestgate/src/{relative}:{line}: imports crate::{module} ({})",
                        rule.why
                    ));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// `engineio/session.rs` → `engineio`, `error.rs` → `error`.
fn top_module(relative: &str) -> String {
    let first = relative.split('/').next().unwrap_or(relative);
    first.trim_end_matches(".rs").to_owned()
}

/// The top-level modules a file's code names through `crate::`, with their line numbers.
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut group: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.starts_with("#[cfg(test)]") {
            // The unit tests sit at the end of the file, after everything they test.
            let rest: String = text.lines().skip(index + 1).take(1).collect();
            if rest.trim_start().starts_with("mod tests") {
                break;
            }
        }
        let code = match line.find("//") {
            Some(0) => continue,
            Some(at) => &line[..at],
            None => line,
        };
        // Inside `use crate::{ ... }` spread over several lines.
        if let Some(start) = group {
            for name in code.split([',', '{', '}', ';']) {
                let name = name.trim();
                let head = name.split("::").next().unwrap_or("").trim();
                if is_module_name(head) && head != "self" {
                    found.push((start, head.to_owned()));
                }
            }
            if code.contains('}') {
                group = None;
            }
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(inner) = after.strip_prefix('{') {
                let end = inner.find('}');
                let names = &inner[..end.unwrap_or(inner.len())];
                for name in names.split(',') {
                    let head = name.trim().split("::").next().unwrap_or("").trim();
                    if is_module_name(head) && head != "self" {
                        found.push((index + 1, head.to_owned()));
                    }
                }
                if end.is_none() {
                    group = Some(index + 1);
                    break;
                }
            } else {
                let head: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                // `crate::Socket`: a re-export at the root, which names the module behind it
                // only through `lib.rs`; lowercase names are modules.
                if is_module_name(&head) {
                    found.push((index + 1, head));
                }
            }
            rest = after;
        }
    }
    found
}

fn is_module_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

fn crate_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/nestgate/src")
}

#[test]
fn the_core_crate_keeps_its_layers() {
    let root = crate_src();
    assert!(
        root.join("lib.rs").exists(),
        "no sources at {}",
        root.display()
    );
    let found = breaches(&root, &rules());
    assert!(
        found.is_empty(),
        "layering rules broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_each_kind_of_import() {
    let dir = std::env::temp_dir().join(format!("nestgate-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("engineio")).unwrap();
    std::fs::write(
        dir.join("engineio/session.rs"),
        "//! [`Socket`](crate::socket::Socket) in a comment is no import.\n\
         use crate::util::id::new_id;\n\
         use crate::{handshake::Handshake, socket::Socket};\n\
         use crate::{\n    origin::OriginPolicy,\n    guard::Guard,\n};\n\
         fn f() { crate::runtime::spawn(); } // crate::app in a comment\n\
         #[cfg(test)]\nmod tests {\n    use crate::app::App;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("error.rs"),
        "use crate::close;\nuse crate::socket::SendError;\n",
    )
    .unwrap();
    let found = breaches(&dir, &rules());
    let _ = std::fs::remove_dir_all(&dir);
    let names: Vec<&str> = found
        .iter()
        .map(|line| {
            line.split(": imports ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "crate::socket",
            "crate::guard",
            "crate::runtime",
            "crate::socket"
        ],
        "{found:#?}"
    );
    assert!(
        found[0].starts_with("crates/nestgate/src/engineio/session.rs:3:"),
        "{found:#?}"
    );
    assert!(
        found[3].starts_with("crates/nestgate/src/error.rs:2:"),
        "{found:#?}"
    );
}

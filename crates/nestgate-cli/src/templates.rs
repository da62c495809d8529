//! The gateway templates: the files of `examples/templates`, embedded, and their rendering.

use crate::Error;
use crate::deps::{self, Dependency};
use crate::names::Name;
use std::collections::BTreeSet;

/// A gateway template: a gateway file and its test, written with the placeholder name
/// `SampleName` (`sample_name`, `sample-name`, `SAMPLE_NAME`, `sample name`) at `/sample-name`.
#[derive(Debug)]
pub struct Template {
    /// What `--template` takes.
    pub name: &'static str,
    /// One line for `nestgate generate --list`.
    pub summary: &'static str,
    /// `src/NAME.rs`.
    gateway: &'static str,
    /// `src/NAME/tests.rs`.
    test: &'static str,
    /// What the gateway file uses, besides `nestgate` and what its test needs.
    pub dependencies: &'static [Dependency],
    /// The project's shared modules the gateway uses (the JWT guard), written with the first
    /// gateway that needs them and kept after.
    pub shared: &'static [&'static Shared],
}

/// A module written once per project and shared by its gateways: `nestgate generate guard jwt`
/// writes `src/auth.rs`, which every gateway of the `auth` template uses, so that a token one
/// gateway accepts every other accepts.
#[derive(Debug)]
pub struct Shared {
    /// What `nestgate generate guard` takes.
    pub kind: &'static str,
    /// One line for `--help` and the summary.
    pub summary: &'static str,
    /// The module's name: `src/MODULE.rs`.
    pub module: &'static str,
    /// Its source, as it is (it names nothing after the gateway).
    pub source: &'static str,
    /// What it uses, besides `nestgate`.
    pub dependencies: &'static [Dependency],
}

/// The JWT guard (`src/auth.rs`): `Claims`, `Keys` (from `JWT_SECRET`), `JwtGuard` (the token
/// from the Socket.IO `auth` payload, the query, the `Authorization` header or a cookie) and
/// `RoleGuard`.
pub const JWT_GUARD: Shared = Shared {
    kind: "jwt",
    summary: "src/auth.rs: Claims, Keys (JWT_SECRET), JwtGuard (Socket.IO auth payload, ?token=, Bearer, cookie) and RoleGuard",
    module: "auth",
    source: include_str!("../../../examples/templates/src/auth.rs"),
    dependencies: &[deps::SERDE, deps::TRACING, deps::JSONWEBTOKEN],
};

/// Every shared module `nestgate generate guard` writes.
pub const GUARDS: &[&Shared] = &[&JWT_GUARD];

/// The guard called `kind`.
pub fn find_guard(kind: &str) -> Result<&'static Shared, Error> {
    GUARDS
        .iter()
        .copied()
        .find(|guard| guard.kind == kind)
        .ok_or_else(|| Error::UnknownGuard {
            kind: kind.to_owned(),
            known: GUARDS
                .iter()
                .map(|guard| guard.kind)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Every template, in the order `--list` shows them.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "echo",
        summary: "`echo` answers the sender, `broadcast` reaches every client (the default)",
        gateway: include_str!("../../../examples/templates/src/echo.rs"),
        test: include_str!("../../../examples/templates/src/echo/tests.rs"),
        dependencies: &[deps::SERDE_JSON],
        shared: &[],
    },
    Template {
        name: "chat",
        summary: "clients `join` with a name and send `message`s to everyone; `left` when they go",
        gateway: include_str!("../../../examples/templates/src/chat.rs"),
        test: include_str!("../../../examples/templates/src/chat/tests.rs"),
        dependencies: &[deps::SERDE],
        shared: &[],
    },
    Template {
        name: "rooms",
        summary: "clients `join` and `leave` rooms and send `message`s to a room's other members",
        gateway: include_str!("../../../examples/templates/src/rooms.rs"),
        test: include_str!("../../../examples/templates/src/rooms/tests.rs"),
        dependencies: &[deps::SERDE],
        shared: &[],
    },
    Template {
        name: "auth",
        summary: "a JWT on the handshake (401 without one; the project's src/auth.rs, written once), a role guard and validated data",
        gateway: include_str!("../../../examples/templates/src/authenticated.rs"),
        test: include_str!("../../../examples/templates/src/authenticated/tests.rs"),
        dependencies: &[deps::SERDE, deps::VALIDATOR],
        shared: &[&JWT_GUARD],
    },
    Template {
        name: "crud",
        summary: "`create`, `find_all`, `find_one`, `update`, `remove` over an in-memory store (`nest g resource`)",
        gateway: include_str!("../../../examples/templates/src/crud.rs"),
        test: include_str!("../../../examples/templates/src/crud/tests.rs"),
        dependencies: &[deps::SERDE],
        shared: &[],
    },
];

/// The template called `name`.
pub fn find(name: &str) -> Result<&'static Template, Error> {
    TEMPLATES
        .iter()
        .find(|template| template.name == name)
        .ok_or_else(|| Error::UnknownTemplate {
            name: name.to_owned(),
            known: TEMPLATES
                .iter()
                .map(|template| template.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A template with the names filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The gateway file, `src/NAME.rs`.
    pub gateway: String,
    /// Its test, `src/NAME/tests.rs`.
    pub test: String,
}

impl Template {
    /// Replaces the placeholder with `name` (`path` is the gateway's path) in the gateway file
    /// and its test. Refuses a name whose identifiers would clash with the template's own (a
    /// `crud` resource called `store` would shadow its store) or be keywords.
    pub fn render(&self, name: &Name, path: &str) -> Result<Rendered, Error> {
        crate::names::check_path(path)?;
        let mut ours = BTreeSet::new();
        let mut placeholders = BTreeSet::new();
        for source in [self.gateway, self.test] {
            for ident in identifiers(source) {
                if is_placeholder(ident) {
                    placeholders.insert(ident);
                } else {
                    ours.insert(ident);
                }
            }
        }
        for placeholder in placeholders {
            let rendered = substitute(placeholder, name, path);
            if ours.contains(rendered.as_str()) || crate::names::is_keyword(&rendered) {
                return Err(Error::InvalidName {
                    name: name.kebab(),
                    reason: format!(
                        "the {} template would name something `{rendered}`, which it already uses or which is a keyword; choose another name",
                        self.name
                    ),
                });
            }
        }
        Ok(Rendered {
            gateway: substitute(self.gateway, name, path),
            test: substitute(self.test, name, path),
        })
    }
}

/// Whether an identifier comes from the placeholder name.
fn is_placeholder(ident: &str) -> bool {
    ["SampleName", "sample_name", "SAMPLE_NAME"]
        .iter()
        .any(|placeholder| ident.contains(placeholder))
}

/// The source with every spelling of the placeholder replaced.
fn substitute(source: &str, name: &Name, path: &str) -> String {
    source
        .replace("/sample-name", path)
        .replace("SampleName", &name.pascal())
        .replace("SAMPLE_NAME", &name.screaming())
        .replace("sample_name", &name.snake())
        .replace("sample-name", &name.kebab())
        .replace("sample name", &name.prose())
}

/// The identifiers of Rust source, outside comments and string literals.
fn identifiers(source: &str) -> Vec<&str> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                found.push(&source[start..i]);
            }
            b if b.is_ascii_digit() => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(input: &str) -> Name {
        Name::parse(input).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn no_placeholder_survives_rendering() {
        for template in TEMPLATES {
            let rendered = template
                .render(&name("order-item"), "/orders")
                .unwrap_or_else(|err| panic!("{}: {err}", template.name));
            for file in [&rendered.gateway, &rendered.test] {
                assert!(
                    !file.to_lowercase().contains("sample"),
                    "{}: {file}",
                    template.name
                );
            }
            assert!(
                rendered.gateway.contains("OrderItemGateway"),
                "{}",
                template.name
            );
            assert!(
                rendered.gateway.contains(r#"path = "/orders""#),
                "{}",
                template.name
            );
        }
    }

    #[test]
    fn names_that_clash_with_a_template_are_refused() {
        let crud = find("crud").unwrap(); // crud is in TEMPLATES
        for clash in ["store", "mutex", "id", "a"] {
            let err = crud.render(&name(clash), "/x").unwrap_err();
            assert!(
                err.to_string().contains("choose another name"),
                "{clash}: {err}"
            );
        }
        // The same names are fine where nothing clashes.
        assert!(
            find("echo")
                .expect("echo is in TEMPLATES")
                .render(&name("store"), "/x")
                .is_ok()
        );
    }

    #[test]
    fn unknown_templates_list_the_known_ones() {
        let err = find("graphql").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown template `graphql`: choose one of echo, chat, rooms, auth, crud (see `nestgate generate --list`)"
        );
    }

    #[test]
    fn identifiers_skip_comments_and_strings() {
        let source = "// a comment\nfn main() { let x = \"not \\\" this\"; 'a: loop {} }";
        assert_eq!(identifiers(source), ["fn", "main", "let", "x", "a", "loop"]);
    }
}

//! An existing Cargo project, `nestgate generate gateway` (the gateway file, its test, the
//! shared modules it uses, the `mod` lines and any missing dependencies) and `nestgate generate
//! guard`.

use crate::Error;
use crate::deps::{self, Dependency, NestgateSource};
use crate::names::Name;
use crate::plan::{Action, FileChange, Plan};
use crate::templates::{Shared, Template};
use std::fs;
use std::path::{Path, PathBuf};

/// A Cargo package on disk: its directory, its manifest, and the file that declares its
/// modules (`src/lib.rs` if it has one, else `src/main.rs`).
#[derive(Debug, Clone)]
pub struct Project {
    /// The directory of `Cargo.toml`.
    pub root: PathBuf,
    manifest_text: String,
    manifest: toml::Table,
    /// `src/lib.rs` or `src/main.rs`.
    pub module_file: PathBuf,
    module_text: String,
}

impl Project {
    /// The package whose `Cargo.toml` is in `start` or the nearest directory above it that has
    /// one with a `[package]` (a workspace's virtual manifest is passed over, as Cargo does).
    pub fn find(start: &Path) -> Result<Project, Error> {
        let not_found = || Error::NotInProject {
            dir: start.to_path_buf(),
        };
        let start = fs::canonicalize(start).map_err(|_| not_found())?;
        for dir in start.ancestors() {
            let manifest_path = dir.join("Cargo.toml");
            let Ok(manifest_text) = fs::read_to_string(&manifest_path) else {
                continue;
            };
            let manifest: toml::Table = manifest_text.parse().map_err(|err| Error::Project {
                path: manifest_path.clone(),
                reason: format!("not valid TOML: {err}"),
            })?;
            if !manifest.contains_key("package") {
                continue;
            }
            let module_file = ["src/lib.rs", "src/main.rs"]
                .into_iter()
                .map(PathBuf::from)
                .find(|file| dir.join(file).is_file())
                .ok_or_else(|| Error::Project {
                    path: dir.to_path_buf(),
                    reason: "the package has neither src/lib.rs nor src/main.rs".to_owned(),
                })?;
            let module_text = fs::read_to_string(dir.join(&module_file))
                .map_err(Error::io(dir.join(&module_file)))?;
            return Ok(Project {
                root: dir.to_path_buf(),
                manifest_text,
                manifest,
                module_file,
                module_text,
            });
        }
        Err(not_found())
    }

    /// Whether `[table]` (`dependencies`, `dev-dependencies`) names `dependency`.
    fn has(&self, table: &str, dependency: &str) -> bool {
        self.manifest
            .get(table)
            .and_then(toml::Value::as_table)
            .is_some_and(|table| table.contains_key(dependency))
    }
}

/// What `nestgate generate gateway` was asked for.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The gateway's name.
    pub name: Name,
    /// Its template.
    pub template: &'static Template,
    /// Its WebSocket path; `/` and the name in kebab case when not given.
    pub path: Option<String>,
    /// Overwrite the gateway's files if they exist.
    pub force: bool,
    /// Where `nestgate` comes from, if the project does not depend on it yet.
    pub nestgate: NestgateSource,
}

/// The gateway's path: the one asked for, or `/` and the name in kebab case.
pub(crate) fn gateway_path(name: &Name, path: Option<&str>) -> String {
    path.map_or_else(|| format!("/{}", name.kebab()), str::to_owned)
}

/// The gateway file and its test, as written into a project: `src/NAME.rs` and
/// `src/NAME/tests.rs`, rendered for `path` (`/` and the name in kebab case when `None`) and
/// formatted.
pub fn gateway_files(
    name: &Name,
    template: &Template,
    path: Option<&str>,
) -> Result<[(PathBuf, String); 2], Error> {
    let snake = name.snake();
    if ["main", "lib"].contains(&snake.as_str()) {
        return Err(Error::InvalidName {
            name: name.kebab(),
            reason: format!("the gateway's file would be src/{snake}.rs, the crate's root"),
        });
    }
    if let Some(shared) = template.shared.iter().find(|shared| shared.module == snake) {
        return Err(Error::InvalidName {
            name: name.kebab(),
            reason: format!(
                "the gateway's file would be src/{snake}.rs, the project's shared {} guard; choose another name",
                shared.kind
            ),
        });
    }
    let rendered = template.render(name, &gateway_path(name, path))?;
    Ok([
        (
            PathBuf::from(format!("src/{snake}.rs")),
            crate::format::rust(&rendered.gateway),
        ),
        (
            PathBuf::from(format!("src/{snake}/tests.rs")),
            crate::format::rust(&rendered.test),
        ),
    ])
}

/// Plans `nestgate generate gateway` in `project`: the gateway file and its test (refused if
/// they exist, unless `force`), the shared modules its template uses that the project lacks
/// (the JWT guard's `src/auth.rs`, kept when it exists), their `mod` lines, and the dependencies
/// they need that the manifest lacks.
pub fn generate_gateway(project: &Project, options: &GenerateOptions) -> Result<Plan, Error> {
    let snake = options.name.snake();
    let mut files = Vec::new();
    for (path, contents) in gateway_files(&options.name, options.template, options.path.as_deref())?
    {
        files.push(new_file(project, path, contents, options.force)?);
    }
    if declares_module(&project.module_text, &snake) && !options.force {
        return Err(Error::Project {
            path: project.root.join(&project.module_file),
            reason: format!(
                "already declares a module `{snake}` (pass --force to overwrite its files)"
            ),
        });
    }
    let mut modules = vec![snake];
    let mut dependencies: Vec<Dependency> = options.template.dependencies.to_vec();
    for shared in options.template.shared {
        let path = PathBuf::from(format!("src/{}.rs", shared.module));
        if !project.root.join(&path).exists() {
            files.push(FileChange {
                path,
                contents: crate::format::rust(shared.source),
                action: Action::Create,
                added: Vec::new(),
            });
        }
        modules.push(shared.module.to_owned());
        dependencies.extend_from_slice(shared.dependencies);
    }
    files.extend(module_change(project, &modules));
    if let Some(manifest) = manifest_change(project, &dependencies, &options.nestgate)? {
        files.push(manifest);
    }
    Ok(Plan {
        root: project.root.clone(),
        creates_root: false,
        files,
    })
}

/// Plans `nestgate generate guard KIND` in `project`: the shared module (refused if it exists,
/// unless `force`), its `mod` line and its dependencies.
pub fn generate_guard(
    project: &Project,
    guard: &'static Shared,
    force: bool,
    nestgate: &NestgateSource,
) -> Result<Plan, Error> {
    let path = PathBuf::from(format!("src/{}.rs", guard.module));
    let mut files = vec![new_file(
        project,
        path,
        crate::format::rust(guard.source),
        force,
    )?];
    files.extend(module_change(project, &[guard.module.to_owned()]));
    if let Some(manifest) = manifest_change(project, guard.dependencies, nestgate)? {
        files.push(manifest);
    }
    Ok(Plan {
        root: project.root.clone(),
        creates_root: false,
        files,
    })
}

/// A file the command writes: created, or overwritten when it exists and `force` says so
/// (refused otherwise).
fn new_file(
    project: &Project,
    path: PathBuf,
    contents: String,
    force: bool,
) -> Result<FileChange, Error> {
    let exists = project.root.join(&path).exists();
    if exists && !force {
        return Err(Error::Exists {
            path: project.root.join(path),
        });
    }
    Ok(FileChange {
        path,
        contents,
        action: if exists {
            Action::Overwrite
        } else {
            Action::Create
        },
        added: Vec::new(),
    })
}

/// The module file with a `mod` line for each of `modules` it does not declare yet, if any.
fn module_change(project: &Project, modules: &[String]) -> Option<FileChange> {
    let visibility = if project.module_file.ends_with("lib.rs") {
        "pub "
    } else {
        ""
    };
    let mut text = project.module_text.clone();
    let mut added = Vec::new();
    for module in modules {
        if declares_module(&text, module) {
            continue;
        }
        let line = format!("{visibility}mod {module};");
        text = insert_module(&text, &line);
        added.push(line);
    }
    (!added.is_empty()).then(|| FileChange {
        path: project.module_file.clone(),
        contents: text,
        action: Action::Update,
        added,
    })
}

/// `Cargo.toml` with the dependencies the gateway and its test need, if any is missing.
fn manifest_change(
    project: &Project,
    needed: &[Dependency],
    nestgate: &NestgateSource,
) -> Result<Option<FileChange>, Error> {
    let mut normal: Vec<String> = Vec::new();
    let mut dev: Vec<String> = Vec::new();
    if !project.has("dependencies", "nestgate") {
        normal.push(format!("nestgate = {}", nestgate.spec(&[])));
    }
    for dependency in needed {
        if !project.has("dependencies", dependency.name) && !normal.contains(&dependency.line()) {
            normal.push(dependency.line());
        }
    }
    for dependency in deps::FOR_TESTS {
        let added = needed.iter().any(|needed| needed.name == dependency.name);
        if !added
            && !project.has("dependencies", dependency.name)
            && !project.has("dev-dependencies", dependency.name)
        {
            dev.push(dependency.line());
        }
    }
    if !project.has("dev-dependencies", "nestgate") {
        let spec = match project
            .manifest
            .get("dependencies")
            .and_then(|table| table.get("nestgate"))
        {
            Some(existing) => with_testing(existing),
            None => nestgate.spec(&["testing"]),
        };
        dev.push(format!("nestgate = {spec}"));
    }
    if normal.is_empty() && dev.is_empty() {
        return Ok(None);
    }
    let mut text = project.manifest_text.clone();
    if !normal.is_empty() {
        text = add_to_table(&text, "dependencies", &normal);
    }
    if !dev.is_empty() {
        text = add_to_table(&text, "dev-dependencies", &dev);
    }
    let path = PathBuf::from("Cargo.toml");
    let reparsed: Result<toml::Table, _> = text.parse();
    if let Err(err) = reparsed {
        return Err(Error::Project {
            path: project.root.join(path),
            reason: format!("could not add the dependencies {normal:?} and {dev:?}: {err}"),
        });
    }
    Ok(Some(FileChange {
        path,
        contents: text,
        action: Action::Update,
        added: normal.into_iter().chain(dev).collect(),
    }))
}

/// The project's own `nestgate` dependency with the `testing` feature, for `[dev-dependencies]`.
fn with_testing(existing: &toml::Value) -> String {
    let mut parts = Vec::new();
    match existing {
        toml::Value::Table(table) => {
            for key in [
                "workspace",
                "version",
                "path",
                "git",
                "branch",
                "tag",
                "rev",
                "registry",
            ] {
                if let Some(value) = table.get(key) {
                    parts.push(format!("{key} = {value}"));
                }
            }
        }
        version => parts.push(format!("version = {version}")),
    }
    parts.push(r#"features = ["testing"]"#.to_owned());
    format!("{{ {} }}", parts.join(", "))
}

/// Whether `source` declares a top-level module `name` (`mod name;`, `pub mod name {`, ...).
fn declares_module(source: &str, name: &str) -> bool {
    source
        .lines()
        .any(|line| module_name(line).is_some_and(|declared| declared == name))
}

/// The module a top-level line declares, if it is a `mod` item.
fn module_name(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("pub mod ")
        .or_else(|| line.strip_prefix("pub(crate) mod "))
        .or_else(|| line.strip_prefix("mod "))?;
    let rest = rest.strip_prefix("r#").unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `source` with `line` after its last top-level `mod x;` declaration that has no attribute
/// (so not after `#[cfg(test)] mod tests;`), or else after its inner docs and attributes.
fn insert_module(source: &str, line: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let last_module = (0..lines.len()).rev().find(|&i| {
        module_name(lines[i]).is_some()
            && lines[i].trim_end().ends_with(';')
            && (i == 0 || !lines[i - 1].trim_start().starts_with("#["))
    });
    let mut out: Vec<String> = lines.iter().map(|line| (*line).to_owned()).collect();
    match last_module {
        Some(i) => out.insert(i + 1, line.to_owned()),
        None => {
            let header = lines
                .iter()
                .take_while(|line| {
                    let line = line.trim_start();
                    line.starts_with("//!") || line.starts_with("#![") || line.is_empty()
                })
                .count();
            // Keep the header's trailing blank lines after the new line.
            let mut at = header;
            while at > 0 && lines[at - 1].trim().is_empty() {
                at -= 1;
            }
            let mut block = Vec::new();
            if at > 0 {
                block.push(String::new());
            }
            block.push(line.to_owned());
            if lines.get(at).is_none_or(|next| !next.trim().is_empty()) && at < lines.len() {
                block.push(String::new());
            }
            out.splice(at..at, block);
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// `manifest` with `lines` at the end of its `[table]`, which is added if missing.
fn add_to_table(manifest: &str, table: &str, lines: &[String]) -> String {
    let header = format!("[{table}]");
    let all: Vec<&str> = manifest.lines().collect();
    let mut out: Vec<String> = all.iter().map(|line| (*line).to_owned()).collect();
    let start = all
        .iter()
        .position(|line| line.split('#').next().unwrap_or_default().trim() == header);
    match start {
        Some(start) => {
            let end = (start + 1..all.len())
                .find(|&i| all[i].trim_start().starts_with('['))
                .unwrap_or(all.len());
            // After the table's last entry, before the blank lines and comments that end it.
            let mut at = end;
            while at > start + 1 && {
                let line = all[at - 1].trim();
                line.is_empty() || line.starts_with('#')
            } {
                at -= 1;
            }
            out.splice(at..at, lines.iter().cloned());
        }
        None => {
            if out.last().is_some_and(|line| !line.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(header);
            out.extend(lines.iter().cloned());
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_lines_go_after_the_last_module() {
        let lib = "//! Docs.\n\npub mod events;\n\n/// The app.\npub fn app() {}\n";
        assert_eq!(
            insert_module(lib, "pub mod chat;"),
            "//! Docs.\n\npub mod events;\npub mod chat;\n\n/// The app.\npub fn app() {}\n"
        );
        let main = "//! Docs.\n#![allow(x)]\n\nfn main() {}\n\n#[cfg(test)]\nmod tests;\n";
        assert_eq!(
            insert_module(main, "mod chat;"),
            "//! Docs.\n#![allow(x)]\n\nmod chat;\n\nfn main() {}\n\n#[cfg(test)]\nmod tests;\n"
        );
        assert_eq!(
            insert_module("fn main() {}\n", "mod chat;"),
            "mod chat;\n\nfn main() {}\n"
        );
        assert_eq!(insert_module("", "mod chat;"), "mod chat;\n");
    }

    #[test]
    fn declared_modules_are_found() {
        let source = "pub mod chat;\nmod r#type;\npub(crate) mod inner {\n    mod nested;\n}\n";
        assert!(declares_module(source, "chat"));
        assert!(declares_module(source, "type"));
        assert!(declares_module(source, "inner"));
        assert!(
            !declares_module(source, "nested"),
            "only top-level modules count"
        );
        assert!(!declares_module(source, "cha"));
    }

    #[test]
    fn dependencies_go_at_the_end_of_their_table() {
        let manifest =
            "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\n# later\n\n[features]\n";
        assert_eq!(
            add_to_table(manifest, "dependencies", &["a = \"1\"".to_owned()]),
            "[package]\nname = \"x\"\n\n[dependencies]\nserde = \"1\"\na = \"1\"\n# later\n\n[features]\n"
        );
        assert_eq!(
            add_to_table(
                "[package]\nname = \"x\"\n",
                "dev-dependencies",
                &["a = \"1\"".to_owned()]
            ),
            "[package]\nname = \"x\"\n\n[dev-dependencies]\na = \"1\"\n"
        );
    }

    #[test]
    fn the_dev_dependency_follows_the_projects_own_nestgate() {
        let table = |text: &str| -> toml::Value {
            let parsed: toml::Table = format!("x = {text}").parse().unwrap(); // test input is TOML
            parsed["x"].clone()
        };
        assert_eq!(
            with_testing(&table(r#""0.1""#)),
            r#"{ version = "0.1", features = ["testing"] }"#
        );
        assert_eq!(
            with_testing(&table(r#"{ path = "../nestgate", features = ["macros"] }"#)),
            r#"{ path = "../nestgate", features = ["testing"] }"#
        );
        assert_eq!(
            with_testing(&table("{ workspace = true }")),
            r#"{ workspace = true, features = ["testing"] }"#
        );
    }
}

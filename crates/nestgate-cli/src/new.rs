//! `nestgate new`: a Cargo project with one gateway, its test and a README.

use crate::Error;
use crate::deps::{self, NestgateSource};
use crate::names::{Name, PackageName};
use crate::plan::{Action, FileChange, Plan};
use crate::project::{gateway_files, gateway_path};
use crate::templates::Template;
use std::path::PathBuf;

/// What `nestgate new` was asked for.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// The directory to create.
    pub dir: PathBuf,
    /// The package's name (the directory's last component unless given).
    pub package: PackageName,
    /// The first gateway's name.
    pub gateway: Name,
    /// Its template.
    pub template: &'static Template,
    /// Its WebSocket path; `/` and the gateway's name in kebab case when not given.
    pub path: Option<String>,
    /// Where `nestgate` comes from.
    pub nestgate: NestgateSource,
}

/// Plans the project: `Cargo.toml`, `README.md`, `.gitignore`, `src/lib.rs` (the gateway's
/// `pub mod` and `app()`), `src/main.rs` (serves `app()`), `tests/app.rs` (starts the binary
/// and connects), the gateway and its test.
pub fn new_project(options: &NewOptions) -> Result<Plan, Error> {
    let gateway_files = gateway_files(&options.gateway, options.template, options.path.as_deref())?;
    let mut dependencies = String::new();
    let mut all: Vec<deps::Dependency> = deps::BASE.to_vec();
    let shared_dependencies = options
        .template
        .shared
        .iter()
        .flat_map(|shared| shared.dependencies);
    for extra in options
        .template
        .dependencies
        .iter()
        .chain(shared_dependencies)
    {
        if !all.iter().any(|dependency| dependency.name == extra.name) {
            all.push(*extra);
        }
    }
    for dependency in all {
        dependencies.push_str(&dependency.line());
        dependencies.push('\n');
    }
    let mut modules = String::new();
    for shared in options.template.shared {
        modules.push_str(&format!("pub mod {};\n", shared.module));
    }
    modules.push_str(&format!("pub mod {};", options.gateway.snake()));
    let fill = |skeleton: &str| {
        skeleton
            .replace("{{package}}", options.package.package())
            .replace("{{crate}}", &options.package.crate_name())
            .replace("{{modules}}", &modules)
            .replace("{{gateway}}", &options.gateway.snake())
            .replace("{{Gateway}}", &options.gateway.pascal())
            .replace("{{template}}", options.template.name)
            .replace(
                "{{path}}",
                &gateway_path(&options.gateway, options.path.as_deref()),
            )
            .replace("{{nestgate}}", &options.nestgate.spec(&[]))
            .replace("{{nestgate_testing}}", &options.nestgate.spec(&["testing"]))
            .replace("{{dependencies}}", &dependencies)
    };
    let rust = |source: String| crate::format::rust(&source);
    let mut files = vec![
        (
            "Cargo.toml",
            fill(include_str!("../skeleton/Cargo.toml.in")),
        ),
        ("README.md", fill(include_str!("../skeleton/README.md.in"))),
        (".gitignore", fill(include_str!("../skeleton/gitignore.in"))),
        (
            "src/lib.rs",
            rust(fill(include_str!("../skeleton/lib.rs.in"))),
        ),
        (
            "src/main.rs",
            rust(fill(include_str!("../skeleton/main.rs.in"))),
        ),
        (
            "tests/app.rs",
            rust(fill(include_str!("../skeleton/app_test.rs.in"))),
        ),
    ]
    .into_iter()
    .map(|(path, contents)| (PathBuf::from(path), contents))
    .collect::<Vec<_>>();
    files.extend(gateway_files);
    for shared in options.template.shared {
        files.push((
            PathBuf::from(format!("src/{}.rs", shared.module)),
            rust(shared.source.to_owned()),
        ));
    }
    Ok(Plan {
        root: options.dir.clone(),
        creates_root: true,
        files: files
            .into_iter()
            .map(|(path, contents)| FileChange {
                path,
                contents,
                action: Action::Create,
                added: Vec::new(),
            })
            .collect(),
    })
}

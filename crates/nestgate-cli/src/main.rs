//! The `nestgate` command. See the crate docs of `nestgate_cli`, or `nestgate --help`.

use clap::{Args, Parser, Subcommand};
use nestgate_cli::deps::NestgateSource;
use nestgate_cli::names::{Name, PackageName};
use nestgate_cli::new::{NewOptions, new_project};
use nestgate_cli::plan::Plan;
use nestgate_cli::project::{GenerateOptions, Project, generate_gateway, generate_guard};
use nestgate_cli::{Error, templates};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// New nestgate projects and gateways from templates.
#[derive(Debug, Parser)]
#[command(
    name = "nestgate",
    version,
    after_help = "Examples:\n  nestgate new my-chat --gateway chat --template chat\n  nestgate generate gateway lobby --template rooms --path /lobby\n  nestgate generate resource users\n  nestgate generate --list\n\nGuide: docs/guide.md in the nestgate repository."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a Cargo project with one gateway, its test and a README.
    New(NewArgs),
    /// Add a gateway (and its test) to the project, from a template.
    #[command(
        visible_alias = "g",
        args_conflicts_with_subcommands = true,
        arg_required_else_help = true
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
struct NewArgs {
    /// The directory to create; its last component is the package name.
    dir: String,
    /// The package name, if not the directory's.
    #[arg(long)]
    name: Option<String>,
    /// The first gateway's name.
    #[arg(long, default_value = "events")]
    gateway: String,
    /// The first gateway's template (see `nestgate generate --list`).
    #[arg(long, short, default_value = "echo")]
    template: String,
    /// The first gateway's WebSocket path [default: / and its name in kebab case].
    #[arg(long)]
    path: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// List the templates, one line each.
    #[arg(long)]
    list: bool,
    #[command(subcommand)]
    what: Option<What>,
}

#[derive(Debug, Subcommand)]
enum What {
    /// A gateway: src/NAME.rs, its test src/NAME/tests.rs, and its `mod` line.
    #[command(visible_alias = "ga")]
    Gateway(GatewayArgs),
    /// A gateway with create/find_all/find_one/update/remove over an in-memory store (the crud
    /// template), as `nest g resource` does with the WebSockets transport.
    #[command(visible_alias = "res")]
    Resource(ResourceArgs),
    /// A guard shared by the project's gateways: `jwt` writes src/auth.rs (Claims, Keys from
    /// JWT_SECRET, JwtGuard reading the Socket.IO auth payload, ?token=, Bearer or a cookie, and
    /// RoleGuard), which every `auth` gateway uses.
    #[command(visible_alias = "gu")]
    Guard(GuardArgs),
}

#[derive(Debug, Args)]
struct GuardArgs {
    /// The kind of guard: `jwt`.
    kind: String,
    /// Overwrite the guard's file if it exists.
    #[arg(long)]
    force: bool,
    /// The project's directory (or any directory inside it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    project: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct GatewayArgs {
    /// The gateway's name: `chat`, `chat-room`, `ChatRoom` (the struct is NAMEGateway).
    name: String,
    /// The template (see `nestgate generate --list`).
    #[arg(long, short, default_value = "echo")]
    template: String,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Args)]
struct ResourceArgs {
    /// The resource's name, e.g. `users`.
    name: String,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Args)]
struct Target {
    /// The gateway's WebSocket path [default: / and its name in kebab case].
    #[arg(long)]
    path: Option<String>,
    /// Overwrite the gateway's files if they exist.
    #[arg(long)]
    force: bool,
    /// The project's directory (or any directory inside it).
    #[arg(long, value_name = "DIR", default_value = ".")]
    project: PathBuf,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct Common {
    /// Print what would be written, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Depend on the nestgate crate in this directory [default: the checkout this command
    /// was built from, if it is still there, else the crates.io version].
    #[arg(long, value_name = "DIR")]
    nestgate_path: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::New(args) => new(args),
        Command::Generate(GenerateArgs { list: true, .. }) => {
            print!("{}", nestgate_cli::template_list());
            Ok(())
        }
        Command::Generate(GenerateArgs {
            what: Some(What::Gateway(args)),
            ..
        }) => generate(&args.name, &args.template, args.target),
        Command::Generate(GenerateArgs {
            what: Some(What::Resource(args)),
            ..
        }) => generate(&args.name, "crud", args.target),
        Command::Generate(GenerateArgs {
            what: Some(What::Guard(args)),
            ..
        }) => guard(args),
        // clap prints the help for a bare `generate` (arg_required_else_help).
        Command::Generate(GenerateArgs { what: None, .. }) => Ok(()),
    }
}

fn new(args: NewArgs) -> Result<(), Error> {
    let package = match &args.name {
        Some(name) => name.clone(),
        None => Path::new(&args.dir)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let options = NewOptions {
        package: PackageName::parse(&package)?,
        gateway: Name::parse(&args.gateway)?,
        template: templates::find(&args.template)?,
        path: args.path,
        nestgate: nestgate_source(args.common.nestgate_path.as_deref())?,
        dir: PathBuf::from(&args.dir),
    };
    if options.dir.exists() {
        return Err(Error::DirectoryExists { path: options.dir });
    }
    let plan = new_project(&options)?;
    if finish(&plan, args.common.dry_run)? {
        match &options.nestgate {
            NestgateSource::Path(dir) => {
                println!("\nnestgate comes from {dir} (a path dependency).")
            }
            NestgateSource::Version(version) => {
                println!("\nnestgate comes from crates.io ({version}).")
            }
        }
        let path = options
            .path
            .unwrap_or_else(|| format!("/{}", options.gateway.kebab()));
        println!(
            "Next:\n  cd {}\n  cargo run     # serves ws://127.0.0.1:3000{path}\n  cargo test    # connects to it",
            options.dir.display()
        );
    }
    Ok(())
}

fn generate(name: &str, template: &str, target: Target) -> Result<(), Error> {
    let name = Name::parse(name)?;
    let template = templates::find(template)?;
    let project = Project::find(&target.project)?;
    let options = GenerateOptions {
        name,
        template,
        path: target.path,
        force: target.force,
        nestgate: nestgate_source(target.common.nestgate_path.as_deref())?,
    };
    let plan = generate_gateway(&project, &options)?;
    if finish(&plan, target.common.dry_run)? {
        println!("\nRun its test: cargo test {}::tests", options.name.snake());
    }
    Ok(())
}

fn guard(args: GuardArgs) -> Result<(), Error> {
    let guard = templates::find_guard(&args.kind)?;
    let project = Project::find(&args.project)?;
    let nestgate = nestgate_source(args.common.nestgate_path.as_deref())?;
    let plan = generate_guard(&project, guard, args.force, &nestgate)?;
    if finish(&plan, args.common.dry_run)? {
        println!(
            "\nUse it in a gateway: #[websocket_gateway(path = \"/p\", handshake_guards(crate::{}::JwtGuard::from_env()))]",
            guard.module
        );
    }
    Ok(())
}

/// Prints the plan (`--dry-run`) or writes it and prints what was written; true if written.
fn finish(plan: &Plan, dry_run: bool) -> Result<bool, Error> {
    if dry_run {
        print!("{}", plan.describe());
        return Ok(false);
    }
    plan.apply()?;
    print!("{}", plan.summary());
    Ok(true)
}

/// Where generated projects get `nestgate` from.
fn nestgate_source(path: Option<&Path>) -> Result<NestgateSource, Error> {
    let checkout = |dir: &Path| -> Option<PathBuf> {
        let dir = std::fs::canonicalize(dir).ok()?;
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let manifest: toml::Table = manifest.parse().ok()?;
        (manifest.get("package")?.get("name")?.as_str()? == "nestgate").then_some(dir)
    };
    if let Some(path) = path {
        return checkout(path)
            .map(|dir| NestgateSource::Path(dir.display().to_string()))
            .ok_or_else(|| Error::Project {
                path: path.to_path_buf(),
                reason: "--nestgate-path needs the directory of the nestgate crate (its Cargo.toml names `nestgate`)".to_owned(),
            });
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nestgate");
    Ok(match checkout(&built_from) {
        Some(dir) => NestgateSource::Path(dir.display().to_string()),
        None => NestgateSource::Version(env!("CARGO_PKG_VERSION").to_owned()),
    })
}

//! The `nestgate` command: new projects and gateways from templates, as `nest new` and
//! `nest g gateway` / `nest g resource` do for NestJS.
//!
//! ```text
//! nestgate new my-app                                   # a project with one gateway and its test
//! nestgate generate gateway chat --template chat        # src/chat.rs, src/chat/tests.rs, `pub mod chat;`
//! nestgate generate resource users                      # the crud template
//! nestgate generate --list                              # the templates, one line each
//! ```
//!
//! The templates are the gateways of `examples/templates`, compiled and tested in CI as they
//! are, embedded here and rendered by replacing their placeholder name (see
//! [`templates`]). Every command first plans what it writes ([`plan::Plan`]), checks all of it
//! (names, paths, existing files, the project), and only then writes, undoing everything if a
//! write fails. `--dry-run` prints the plan instead.

pub mod deps;
mod error;
pub mod format;
pub mod names;
pub mod new;
pub mod plan;
pub mod project;
pub mod templates;

pub use error::Error;

/// The templates as `nestgate generate --list` prints them: one line each.
pub fn template_list() -> String {
    let width = templates::TEMPLATES
        .iter()
        .map(|template| template.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for template in templates::TEMPLATES {
        out.push_str(&format!("{:width$}  {}\n", template.name, template.summary));
    }
    out
}

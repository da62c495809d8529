//! What can go wrong, each with a message that says what to do.

use std::path::PathBuf;

/// Why a command did nothing (it writes nothing unless everything it plans is valid).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A gateway or project name that cannot become Rust identifiers.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A WebSocket path that is not a plain absolute URL path.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A template that does not exist.
    #[error("unknown template `{name}`: choose one of {known} (see `nestgate generate --list`)")]
    UnknownTemplate {
        /// The name as given.
        name: String,
        /// The templates there are, comma-separated.
        known: String,
    },
    /// A guard kind that does not exist.
    #[error("unknown guard `{kind}`: choose one of {known}")]
    UnknownGuard {
        /// The kind as given.
        kind: String,
        /// The kinds there are, comma-separated.
        known: String,
    },
    /// No `Cargo.toml` with a `[package]` in the directory or above it.
    #[error(
        "not inside a Cargo project: no Cargo.toml with a [package] in {} or above it (create one with `nestgate new NAME`)",
        dir.display()
    )]
    NotInProject {
        /// Where the search started.
        dir: PathBuf,
    },
    /// A file that would be overwritten.
    #[error("{} already exists (pass --force to overwrite it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The directory of a new project exists already.
    #[error("{} already exists: `nestgate new` creates a new directory", path.display())]
    DirectoryExists {
        /// The directory.
        path: PathBuf,
    },
    /// A project file that cannot be read or understood.
    #[error("{}: {reason}", path.display())]
    Project {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing failed; anything written before was undone.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

//! What a command will write, checked as a whole before anything is written, and written so
//! that a failure part-way leaves the files as they were.

use crate::Error;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One file a command writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Relative to [`Plan::root`].
    pub path: PathBuf,
    /// Its whole new contents.
    pub contents: String,
    /// Whether it is new, replaces a file (`--force`) or is edited.
    pub action: Action,
    /// For an edit, the lines it adds.
    pub added: Vec<String>,
}

/// What happens to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new file.
    Create,
    /// A file that exists, replaced whole (only with `--force`).
    Overwrite,
    /// A file that exists, with lines added.
    Update,
}

/// The files a command writes under one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The project directory.
    pub root: PathBuf,
    /// Whether the command creates `root` itself (`nestgate new`): then a failure removes it.
    pub creates_root: bool,
    /// The files, in the order they are written.
    pub files: Vec<FileChange>,
}

impl Plan {
    /// The file at `path` (relative to the root), if the plan writes it.
    pub fn file(&self, path: impl AsRef<Path>) -> Option<&FileChange> {
        self.files.iter().find(|file| file.path == path.as_ref())
    }

    /// One line per file, as `nest` prints them: `CREATE src/chat.rs (1530 bytes)`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let verb = match file.action {
                Action::Create => "CREATE",
                Action::Overwrite => "OVERWRITE",
                Action::Update => "UPDATE",
            };
            out.push_str(&format!(
                "{verb} {} ({} bytes)\n",
                self.shown(&file.path).display(),
                file.contents.len()
            ));
        }
        out
    }

    /// What `--dry-run` prints: each file, whole when new or replaced, its added lines when
    /// edited.
    pub fn describe(&self) -> String {
        let mut out = String::from("--dry-run: nothing is written. The command would write:\n\n");
        out.push_str(&self.summary());
        for file in &self.files {
            let path = self.shown(&file.path);
            match file.action {
                Action::Create | Action::Overwrite => {
                    out.push_str(&format!("\n==> {} <==\n{}", path.display(), file.contents));
                    if !file.contents.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Action::Update => {
                    out.push_str(&format!("\n==> {} (lines added) <==\n", path.display()));
                    for line in &file.added {
                        out.push_str(&format!("+ {line}\n"));
                    }
                }
            }
        }
        out
    }

    /// A path as the user sees it: under the new directory for `nestgate new`.
    fn shown(&self, path: &Path) -> PathBuf {
        if self.creates_root {
            self.root.join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// Writes every file. Checks first that the root does not exist (`nestgate new`) and that
    /// each file to create does not exist; if anything fails on the way, removes what was
    /// created and restores what was changed, so nothing is left half-written.
    pub fn apply(&self) -> Result<(), Error> {
        if self.creates_root && self.root.exists() {
            return Err(Error::DirectoryExists {
                path: self.root.clone(),
            });
        }
        for file in &self.files {
            let path = self.root.join(&file.path);
            if file.action == Action::Create && path.exists() {
                return Err(Error::Exists { path });
            }
        }
        let mut undo = Undo {
            root: self.creates_root.then(|| self.root.clone()),
            ..Undo::default()
        };
        for file in &self.files {
            if let Err(err) = undo.write(&self.root.join(&file.path), &file.contents) {
                undo.rollback();
                return Err(err);
            }
        }
        Ok(())
    }
}

/// What was done so far, to undo it.
#[derive(Debug, Default)]
struct Undo {
    /// A directory created by the plan, removed whole.
    root: Option<PathBuf>,
    /// Directories created, deepest last.
    dirs: Vec<PathBuf>,
    /// Files written, with their previous contents if they existed.
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Undo {
    /// Writes `contents` to a temporary file beside `path`, then renames it over `path`.
    fn write(&mut self, path: &Path, contents: &str) -> Result<(), Error> {
        if let Some(parent) = path.parent() {
            let mut missing = Vec::new();
            let mut dir = parent;
            while !dir.exists() {
                missing.push(dir.to_path_buf());
                match dir.parent() {
                    Some(up) => dir = up,
                    None => break,
                }
            }
            fs::create_dir_all(parent).map_err(Error::io(parent))?;
            self.dirs.extend(missing.into_iter().rev());
        }
        let previous = match fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(Error::io(path)(err)),
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".nestgate-tmp");
        let temporary = PathBuf::from(temporary);
        let written = fs::File::create(&temporary)
            .and_then(|mut file| {
                file.write_all(contents.as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| fs::rename(&temporary, path));
        if let Err(err) = written {
            let _ = fs::remove_file(&temporary);
            return Err(Error::io(path)(err));
        }
        self.files.push((path.to_path_buf(), previous));
        Ok(())
    }

    /// Puts everything back, as far as the file system lets it.
    fn rollback(self) {
        if let Some(root) = self.root {
            let _ = fs::remove_dir_all(root);
            return;
        }
        for (path, previous) in self.files.into_iter().rev() {
            let _ = match previous {
                Some(bytes) => fs::write(&path, bytes),
                None => fs::remove_file(&path),
            };
        }
        for dir in self.dirs.into_iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nestgate-cli-plan-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("the temporary directory is writable");
        dir
    }

    fn change(path: &str, contents: &str, action: Action) -> FileChange {
        FileChange {
            path: path.into(),
            contents: contents.to_owned(),
            action,
            added: Vec::new(),
        }
    }

    #[test]
    fn a_failure_part_way_undoes_everything() {
        let root = scratch("undo");
        fs::write(root.join("lib.rs"), "old").unwrap(); // the scratch dir is writable
        // The third file cannot be written: its parent is a file.
        let plan = Plan {
            root: root.clone(),
            creates_root: false,
            files: vec![
                change("lib.rs", "new", Action::Update),
                change("a/b/new.rs", "x", Action::Create),
                change("lib.rs/c.rs", "x", Action::Create),
            ],
        };
        assert!(matches!(plan.apply(), Err(Error::Io { .. })));
        assert_eq!(
            fs::read_to_string(root.join("lib.rs")).expect("written above"),
            "old"
        );
        assert!(!root.join("a").exists(), "created directories are removed");
        fs::remove_dir_all(root).expect("the test's own directory");
    }

    #[test]
    fn existing_files_are_refused_before_anything_is_written() {
        let root = scratch("exists");
        fs::write(root.join("b.rs"), "mine").unwrap(); // the scratch dir is writable
        let plan = Plan {
            root: root.clone(),
            creates_root: false,
            files: vec![
                change("a.rs", "x", Action::Create),
                change("b.rs", "x", Action::Create),
            ],
        };
        assert!(matches!(plan.apply(), Err(Error::Exists { .. })));
        assert!(!root.join("a.rs").exists());
        assert_eq!(
            fs::read_to_string(root.join("b.rs")).expect("written above"),
            "mine"
        );
        fs::remove_dir_all(root).expect("the test's own directory");
    }
}

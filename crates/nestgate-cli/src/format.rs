//! Generated Rust files as `cargo fmt` leaves them: a name longer or shorter than the
//! template's placeholder moves line breaks.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// `source` formatted by `rustfmt` (edition 2024, default style), or unchanged if `rustfmt`
/// is not installed or fails.
pub fn rust(source: &str) -> String {
    let child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return source.to_owned();
    };
    // Writing from another thread: rustfmt may start printing before it has read everything.
    let input = source.to_owned();
    let stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(input.as_bytes());
        }
    });
    let output = child.wait_with_output();
    let _ = writer.join();
    match output {
        Ok(output) if output.status.success() && !output.stdout.is_empty() => {
            String::from_utf8(output.stdout).unwrap_or_else(|_| source.to_owned())
        }
        _ => source.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_or_leaves_alone() {
        let formatted = super::rust("fn  main( ) {}\n");
        assert!(formatted == "fn main() {}\n" || formatted == "fn  main( ) {}\n");
        // Source rustfmt cannot parse comes back as it was.
        assert_eq!(super::rust("fn {"), "fn {");
    }
}

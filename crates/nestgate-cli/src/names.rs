//! Names: what a user types (`chat-room`, `chat_room`, `ChatRoom`) split into words, checked,
//! and spelled in each case the templates need.

use crate::Error;

/// Rust's keywords in edition 2024, strict and reserved: none can name a module or a crate.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Whether `word` is a Rust keyword (edition 2024).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// A checked name, as lowercase words.
///
/// ```
/// use nestgate_cli::names::Name;
///
/// let name = Name::parse("chatRoom").unwrap(); // a valid name parses
/// assert_eq!(name.snake(), "chat_room");
/// assert_eq!(name.pascal(), "ChatRoom");
/// assert_eq!(name.kebab(), "chat-room");
/// assert!(Name::parse("type").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    words: Vec<String>,
}

impl Name {
    /// Splits `input` into words at `-`, `_` and case changes (`HTTPServer` is `http server`),
    /// and refuses what cannot become an identifier in every case: an empty name, a character
    /// other than ASCII letters, digits, `-` and `_`, a first character that is not a letter,
    /// an empty word (`a--b`, `chat-`) and a Rust keyword.
    pub fn parse(input: &str) -> Result<Name, Error> {
        let invalid = |reason: &str| Error::InvalidName {
            name: input.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(first) = input.chars().next() else {
            return Err(invalid("a name cannot be empty"));
        };
        if let Some(bad) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(invalid(&format!(
                "`{}` is not allowed: use ASCII letters, digits, `-` and `_`",
                bad.escape_default()
            )));
        }
        if !first.is_ascii_alphabetic() {
            return Err(invalid("a name starts with a letter"));
        }
        let mut words = Vec::new();
        for part in input.split(['-', '_']) {
            if part.is_empty() {
                return Err(invalid(
                    "`-` and `_` separate words: not at the end, not twice in a row",
                ));
            }
            words.extend(split_case(part));
        }
        let name = Name { words };
        if KEYWORDS.contains(&name.snake().as_str()) {
            return Err(invalid(&format!(
                "`{}` is a Rust keyword; choose another name",
                name.snake()
            )));
        }
        Ok(name)
    }

    /// `chat_room`.
    pub fn snake(&self) -> String {
        self.words.join("_")
    }

    /// `CHAT_ROOM`.
    pub fn screaming(&self) -> String {
        self.snake().to_ascii_uppercase()
    }

    /// `chat-room`.
    pub fn kebab(&self) -> String {
        self.words.join("-")
    }

    /// `chat room`, for prose.
    pub fn prose(&self) -> String {
        self.words.join(" ")
    }

    /// `ChatRoom`.
    pub fn pascal(&self) -> String {
        self.words
            .iter()
            .map(|word| {
                let mut chars = word.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect()
    }
}

/// `chatRoom` → `chat`, `room`; `HTTPServer` → `http`, `server`; `room2` stays one word.
fn split_case(part: &str) -> Vec<String> {
    let chars: Vec<char> = part.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let starts_word = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || (chars[i - 1].is_ascii_uppercase()
                    && chars.get(i + 1).is_some_and(char::is_ascii_lowercase)));
        if starts_word {
            words.push(std::mem::take(&mut word));
        }
        word.push(c.to_ascii_lowercase());
    }
    words.push(word);
    words
}

/// A Cargo package name for `nestgate new`: a [`Name`]'s rules, kept as typed (Cargo keeps
/// `my-app` and `my_app` apart), minus the crates a generated project depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageName {
    package: String,
}

/// Crates that a project cannot be named after: Rust's own, and those it depends on.
const TAKEN_CRATE_NAMES: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "nestgate",
    "nestgate_macros",
    "serde",
    "serde_json",
    "tokio",
    "tracing",
    "tracing_subscriber",
    "jsonwebtoken",
    "validator",
];

impl PackageName {
    /// Checks `input` as a [`Name`] and as a crate name.
    pub fn parse(input: &str) -> Result<PackageName, Error> {
        let name = Name::parse(input)?;
        let package = PackageName {
            package: input.to_owned(),
        };
        if TAKEN_CRATE_NAMES.contains(&package.crate_name().as_str()) {
            return Err(Error::InvalidName {
                name: input.to_owned(),
                reason: format!(
                    "the crate `{}` would clash with a crate of that name; choose another name",
                    package.crate_name()
                ),
            });
        }
        debug_assert!(!name.words.is_empty(), "a parsed name has a word");
        Ok(package)
    }

    /// The package name, as typed: `my-app`.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// The library's crate name, as code names it: `my_app`.
    pub fn crate_name(&self) -> String {
        self.package.replace('-', "_")
    }
}

/// Checks a gateway's WebSocket path: absolute, and only URL characters that need no escaping
/// in a Rust string or a URL (letters, digits, `-`, `.`, `_`, `~`, `/`).
pub fn check_path(path: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Error::InvalidPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(invalid("a gateway path starts with `/`, as in `/chat`"));
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/".contains(*c)))
    {
        return Err(invalid(&format!(
            "`{}` is not allowed: use ASCII letters, digits, `-`, `.`, `_`, `~` and `/`",
            bad.escape_default()
        )));
    }
    if path.contains("//") {
        return Err(invalid("a gateway path has no empty segment (`//`)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn cases(input: &str) -> [String; 5] {
        let name = Name::parse(input).unwrap_or_else(|err| panic!("{input}: {err}"));
        [
            name.snake(),
            name.pascal(),
            name.kebab(),
            name.screaming(),
            name.prose(),
        ]
    }

    #[test]
    fn every_spelling_of_a_name_gives_the_same_words() {
        let expected = [
            "chat_room",
            "ChatRoom",
            "chat-room",
            "CHAT_ROOM",
            "chat room",
        ];
        for input in [
            "chat_room",
            "chat-room",
            "ChatRoom",
            "chatRoom",
            "CHAT_ROOM",
        ] {
            assert_eq!(cases(input), expected, "{input}");
        }
        assert_eq!(cases("chat")[1], "Chat");
        assert_eq!(cases("HTTPServer")[0], "http_server");
        assert_eq!(cases("room2")[1], "Room2");
        assert_eq!(cases("v2-api")[0], "v2_api");
    }

    #[test]
    fn invalid_names_say_why() {
        let reason = |input: &str| match Name::parse(input) {
            Err(Error::InvalidName { reason, .. }) => reason,
            other => panic!("{input}: expected an invalid name, got {other:?}"),
        };
        assert!(reason("").contains("empty"));
        assert!(reason("type").contains("keyword"));
        assert!(reason("Self").contains("keyword"));
        assert!(reason("gen").contains("keyword"));
        assert!(reason("2fast").contains("starts with a letter"));
        assert!(reason("_chat").contains("starts with a letter"));
        assert!(reason("chat room").contains("` ` is not allowed"));
        assert!(reason("chät").contains("not allowed"));
        assert!(reason("chat--room").contains("twice in a row"));
        assert!(reason("chat-").contains("not at the end"));
    }

    #[test]
    fn package_names_keep_their_spelling_and_avoid_taken_crates() {
        let package = PackageName::parse("my-app").unwrap(); // a valid name parses
        assert_eq!(package.package(), "my-app");
        assert_eq!(package.crate_name(), "my_app");
        for taken in ["std", "nestgate", "serde-json", "tokio"] {
            assert!(PackageName::parse(taken).is_err(), "{taken}");
        }
        assert!(PackageName::parse("async").is_err());
    }

    #[test]
    fn paths() {
        for good in ["/", "/chat", "/api/v1/chat-room", "/a.b_c~d"] {
            check_path(good).unwrap_or_else(|err| panic!("{good}: {err}"));
        }
        for bad in ["", "chat", "/chat room", "/chat\"", "/a//b", "/ü", "/a?b"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}

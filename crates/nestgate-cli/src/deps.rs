//! The dependencies a generated project needs, with the versions this workspace uses.

/// A dependency as a line of `Cargo.toml`: `name = spec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    /// The crate's name.
    pub name: &'static str,
    /// Its TOML value: a version string or an inline table.
    pub spec: &'static str,
}

impl Dependency {
    /// The `Cargo.toml` line.
    pub fn line(&self) -> String {
        format!("{} = {}", self.name, self.spec)
    }
}

/// `serde`, with derive.
pub const SERDE: Dependency = Dependency {
    name: "serde",
    spec: r#"{ version = "1.0.210", features = ["derive"] }"#,
};
/// `serde_json`.
pub const SERDE_JSON: Dependency = Dependency {
    name: "serde_json",
    spec: r#""1.0.128""#,
};
/// `tokio`, with the multi-threaded runtime and `#[tokio::main]` / `#[tokio::test]`.
pub const TOKIO: Dependency = Dependency {
    name: "tokio",
    spec: r#"{ version = "1.40", features = ["rt-multi-thread", "macros"] }"#,
};
/// `tracing`.
pub const TRACING: Dependency = Dependency {
    name: "tracing",
    spec: r#""0.1.40""#,
};
/// `tracing-subscriber`, for the log lines of `main`.
pub const TRACING_SUBSCRIBER: Dependency = Dependency {
    name: "tracing-subscriber",
    spec: r#"{ version = "0.3.18", features = ["env-filter", "fmt"] }"#,
};
/// `jsonwebtoken`, with its pure-Rust crypto.
pub const JSONWEBTOKEN: Dependency = Dependency {
    name: "jsonwebtoken",
    spec: r#"{ version = "11", default-features = false, features = ["rust_crypto"] }"#,
};
/// `validator`, with derive.
pub const VALIDATOR: Dependency = Dependency {
    name: "validator",
    spec: r#"{ version = "0.21", default-features = false, features = ["derive"] }"#,
};

/// What every project made by `nestgate new` depends on, besides `nestgate`.
pub const BASE: &[Dependency] = &[SERDE, SERDE_JSON, TOKIO, TRACING, TRACING_SUBSCRIBER];

/// What every template's test needs, as a normal or a dev-dependency, besides `nestgate` with
/// its `testing` feature.
pub const FOR_TESTS: &[Dependency] = &[SERDE_JSON, TOKIO];

/// Where the `nestgate` dependency of a generated project comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestgateSource {
    /// A version on crates.io.
    Version(String),
    /// A local checkout of the `nestgate` crate (its directory, as it will appear in
    /// `Cargo.toml`).
    Path(String),
}

impl NestgateSource {
    /// The TOML value for `[dependencies]`, with `features` if any.
    pub fn spec(&self, features: &[&str]) -> String {
        let source = match self {
            NestgateSource::Version(version) => format!("version = {}", quote(version)),
            NestgateSource::Path(path) => format!("path = {}", quote(path)),
        };
        if features.is_empty() {
            format!("{{ {source} }}")
        } else {
            let features: Vec<String> = features.iter().map(|feature| quote(feature)).collect();
            format!("{{ {source}, features = [{}] }}", features.join(", "))
        }
    }
}

/// A TOML basic string.
pub(crate) fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions here are the workspace's, so generated projects build with what CI tests.
    #[test]
    fn versions_match_the_workspace() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let manifest: toml::Table = std::fs::read_to_string(root)
            .expect("the workspace manifest is readable")
            .parse()
            .expect("the workspace manifest is TOML");
        let workspace = &manifest["workspace"]["dependencies"];
        let all = [
            SERDE,
            SERDE_JSON,
            TOKIO,
            TRACING,
            TRACING_SUBSCRIBER,
            JSONWEBTOKEN,
            VALIDATOR,
        ];
        for dependency in all {
            let ours: toml::Table = format!("x = {}", dependency.spec)
                .parse()
                .expect("the spec is TOML");
            let version = |value: &toml::Value| match value {
                toml::Value::String(version) => version.clone(),
                other => other["version"].as_str().unwrap_or_default().to_owned(),
            };
            assert_eq!(
                version(&ours["x"]),
                version(&workspace[dependency.name]),
                "{}",
                dependency.name
            );
        }
    }

    #[test]
    fn nestgate_specs() {
        let path = NestgateSource::Path("../a \"b\"".to_owned());
        assert_eq!(path.spec(&[]), r#"{ path = "../a \"b\"" }"#);
        let version = NestgateSource::Version("0.1.0".to_owned());
        assert_eq!(
            version.spec(&["testing"]),
            r#"{ version = "0.1.0", features = ["testing"] }"#
        );
    }
}

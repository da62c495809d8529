//! Gateway paths with parameters — `/tenant/{id}` — whose namespaces are created on demand, one
//! per concrete path (socket.io's dynamic namespaces).

/// A path pattern: literal segments and `{name}` segments that match any one non-empty segment.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    path: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param,
}

impl Pattern {
    /// The pattern of `path`, if it has a `{param}` segment.
    pub(crate) fn parse(path: &str) -> Option<Pattern> {
        if !path.contains('{') {
            return None;
        }
        let segments = path
            .split('/')
            .skip(1)
            .map(|segment| {
                if segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2 {
                    Segment::Param
                } else {
                    Segment::Literal(segment.to_owned())
                }
            })
            .collect();
        Some(Pattern {
            path: path.to_owned(),
            segments,
        })
    }

    /// The pattern as written (`/tenant/{id}`), which is also axum's route syntax.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Whether a concrete path matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for segment in &self.segments {
            let Some(part) = parts.next() else {
                return false;
            };
            match segment {
                Segment::Literal(literal) if literal != part => return false,
                Segment::Param if part.is_empty() => return false,
                _ => {}
            }
        }
        parts.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_segments() {
        let pattern = Pattern::parse("/tenant/{id}/chat").unwrap();
        assert!(pattern.matches("/tenant/42/chat"));
        assert!(!pattern.matches("/tenant//chat"));
        assert!(!pattern.matches("/tenant/42"));
        assert!(!pattern.matches("/tenant/42/chat/x"));
        assert!(!pattern.matches("/other/42/chat"));
        assert!(Pattern::parse("/static").is_none());
    }
}

//! [`Error`]: why a node or an emitter could not start, or an emitter could not publish.

/// Why connecting or publishing to Redis failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis could not be reached (or the URL is invalid).
    #[error("cannot use Redis at {url}: {source}")]
    Redis {
        /// The configured URL.
        url: String,
        /// What the `redis` crate said.
        source: redis::RedisError,
    },
    /// The data could not be serialized.
    #[error("cannot serialize the data: {0}")]
    Serialize(#[from] serde_json::Error),
}

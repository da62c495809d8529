//! Leaves: small pieces that know nothing of sockets, namespaces or wire modes, used across the
//! crate. Nothing here imports anything of the crate outside `util` (`tests/tests/layering.rs`).

pub(crate) mod caps;
pub(crate) mod id;
pub(crate) mod join;
pub(crate) mod linger;
pub(crate) mod queue;
pub(crate) mod rate;
pub(crate) mod signal;
pub(crate) mod sync;
pub(crate) mod text;
pub(crate) mod websocket;

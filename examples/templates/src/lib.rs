//! The gateway templates of the `nestgate` CLI, as real, compiled and tested gateways.
//!
//! `nestgate generate gateway NAME --template T` renders `src/T.rs` and its test `src/T/tests.rs`
//! into a project, with the placeholder name replaced by `NAME`: `SampleName` in Pascal case,
//! `sample_name` in snake case, `sample-name` in kebab case, `SAMPLE_NAME` in screaming snake
//! case and `sample name` in prose; `/sample-name` (the gateway's path) becomes `--path`.
//! Nothing else changes, so what CI tests here is what users get.
//!
//! `auth.rs` is not a gateway: it is the JWT guard that `nestgate generate guard jwt` writes
//! into a project as `src/auth.rs` once, used by every gateway of the `auth` template
//! (`authenticated.rs` here).
//!
//! Every template names its gateway `SampleNameGateway` at `/sample-name`, so this crate never
//! serves them together: each test builds an app with only its own gateway (`App::bare`).

pub mod auth;
pub mod authenticated;
pub mod chat;
pub mod crud;
pub mod echo;
pub mod rooms;

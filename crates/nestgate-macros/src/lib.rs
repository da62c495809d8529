//! Procedural macros for [nestgate](https://docs.rs/nestgate).
//!
//! Users depend on `nestgate` and import these through `nestgate::prelude`; the generated code
//! names only public items of `::nestgate`, never this crate's dependencies.
//!
//! The crate is split by stage, as thiserror's `impl` crate is:
//! [`attr`] parses attribute arguments, [`ast`] builds the checked model of a gateway,
//! [`expand`] generates code, and [`fallback`] keeps the user's item when there are errors.
//! Set `NESTGATE_MACROS_DEBUG=1` to print every expansion to stderr while compiling.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod inject;

use proc_macro::TokenStream;

/// Declares a gateway (on a struct) and collects its handlers (on the struct's `impl` block).
///
/// On the struct it takes the options: `path = "/chat"` (default `/`). On the `impl` block it takes
/// no options and turns each `#[subscribe_message("event")]` method into a handler, and each
/// `#[after_init]`, `#[on_connection]` and `#[on_disconnect]` method into a lifecycle hook.
/// See the `nestgate` crate documentation for the full story.
#[proc_macro_attribute]
pub fn websocket_gateway(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::debug(
        "websocket_gateway",
        expand::websocket_gateway(args.into(), input.into()),
    )
    .into()
}

/// Builds a struct from the app's provided state: each `#[inject]` field is a clone of the
/// provided value of its type, every other field `Default::default()`. For services given to
/// `App::provider` (a gateway struct takes `#[inject]` fields without the derive).
#[proc_macro_derive(FromAppState, attributes(inject))]
pub fn derive_from_app_state(input: TokenStream) -> TokenStream {
    expand::debug("derive(FromAppState)", inject::derive(input.into())).into()
}

/// Marks a gateway method as the handler of one event: `#[subscribe_message("join")]`.
///
/// It is read by the enclosing `#[websocket_gateway]` impl block; on its own it is an error.
#[proc_macro_attribute]
pub fn subscribe_message(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("subscribe_message", input.into()).into()
}

/// Marks a gateway method as the hook that runs once the server is ready: `fn(&self, Server)`.
#[proc_macro_attribute]
pub fn after_init(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("after_init", input.into()).into()
}

/// Marks a gateway method as the hook that runs for each new connection and may reject it.
#[proc_macro_attribute]
pub fn on_connection(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("on_connection", input.into()).into()
}

/// Marks a gateway method as the hook that runs when a connection ends, with the reason.
#[proc_macro_attribute]
pub fn on_disconnect(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("on_disconnect", input.into()).into()
}

/// Guards a handler, or every handler of a gateway (on its impl block, below
/// `#[websocket_gateway]`): `#[use_guards(AuthGuard, Roles::any(["admin"]))]`. Each value
/// implements `nestgate::guard::Guard`; they run in order before the handler and its extractors.
#[proc_macro_attribute]
pub fn use_guards(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("use_guards", input.into()).into()
}

/// Wraps a handler, or every handler of a gateway (on its impl block, below
/// `#[websocket_gateway]`), in tower layers: `#[use_layers(TimeoutLayer::new(..))]`. The first
/// listed is the outermost.
#[proc_macro_attribute]
pub fn use_layers(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("use_layers", input.into()).into()
}

/// Adds exception filters to a handler, or to every handler and the connection hook of a
/// gateway (on its impl block, below `#[websocket_gateway]`): `#[use_filters(my_filter)]`.
/// Each value implements `nestgate::filter::ExceptionFilter<E>` for one error type `E`.
#[proc_macro_attribute]
pub fn use_filters(_args: TokenStream, input: TokenStream) -> TokenStream {
    fallback::outside_gateway("use_filters", input.into()).into()
}

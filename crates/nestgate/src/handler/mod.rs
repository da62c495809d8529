//! The handler pipeline: a handler erased ([`BoxedHandler`]), one event's [`Route`] in a
//! namespace's dispatch table, and a gateway instance as its lifecycle hooks ([`GatewayHooks`]).
//! [`pipeline`] builds them from a gateway (guards, layers, filters); [`reply`] is what a handler
//! answers.

pub(crate) mod pipeline;
pub(crate) mod reply;

use crate::extract::Message;
use crate::filter::{BoxedFilter, Failure};
use crate::gateway::{GatewayHandlers, GatewayMeta};
use crate::server::Server;
use crate::socket::{DisconnectReason, Socket};
use futures_util::future::BoxFuture;
use reply::Reply;
use std::sync::Arc;

/// A handler, erased: takes the message, returns the reply.
pub(crate) type BoxedHandler = Box<dyn Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync>;

/// One event's handler in the dispatch table.
pub(crate) struct Route {
    /// The event name (the key, kept `'static` for the `Event` extractor).
    pub(crate) event: &'static str,
    /// `Gateway::method`, for errors and logs.
    pub(crate) handler_name: String,
    pub(crate) call: BoxedHandler,
    /// The handler's filters, then its gateway's.
    pub(crate) filters: Vec<BoxedFilter>,
    /// What the handler's extractors need, checked when the app is built.
    pub(crate) needs: crate::extract::Needs,
}

/// The lifecycle hooks of a gateway instance, without its type.
pub(crate) trait GatewayHooks: Send + Sync {
    fn name(&self) -> &'static str;
    fn filters(&self) -> &[BoxedFilter];
    fn after_init(&self, server: Server) -> BoxFuture<'static, ()>;
    fn on_connection(
        &self,
        socket: Socket,
    ) -> BoxFuture<'static, Result<(), Failure<crate::Reject>>>;
    fn on_disconnect(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<'static, ()>;
}

/// The hooks of one gateway instance, and its filters (which the connection hook's errors go
/// through).
pub(crate) struct TypedHooks<G> {
    pub(crate) gateway: Arc<G>,
    pub(crate) filters: Vec<BoxedFilter>,
}

impl<G: GatewayMeta + GatewayHandlers> GatewayHooks for TypedHooks<G> {
    fn name(&self) -> &'static str {
        G::NAME
    }

    fn filters(&self) -> &[BoxedFilter] {
        &self.filters
    }

    fn after_init(&self, server: Server) -> BoxFuture<'static, ()> {
        G::after_init(self.gateway.clone(), server)
    }

    fn on_connection(
        &self,
        socket: Socket,
    ) -> BoxFuture<'static, Result<(), Failure<crate::Reject>>> {
        G::on_connection(self.gateway.clone(), socket)
    }

    fn on_disconnect(&self, socket: Socket, reason: DisconnectReason) -> BoxFuture<'static, ()> {
        G::on_disconnect(self.gateway.clone(), socket, reason)
    }
}

//! The composition of a message's pipeline, done once when a gateway is built: its routes (guards,
//! then layers, then the handler; filters for its errors) and its hooks.

use super::reply::Reply;
use super::{BoxedHandler, GatewayHooks, Route, TypedHooks};
use crate::error::WsException;
use crate::extract::Message;
use crate::gateway::{GatewayHandlers, GatewayMeta, HandlerDef};
use crate::guard::{BoxedGuard, BoxedHandshakeGuard, GuardContext};
use crate::layer::{BoxError, HandlerService};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tower::util::BoxService;
use tower::{Layer, Service, ServiceExt as _};

/// A gateway instance with its routes, ready to be placed in a namespace.
pub(crate) struct BuiltGateway {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
    pub(crate) routes: Vec<Route>,
    pub(crate) hooks: Arc<dyn GatewayHooks>,
    pub(crate) handshake_guards: Vec<BoxedHandshakeGuard>,
}

impl std::fmt::Debug for BuiltGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltGateway")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish()
    }
}

/// The routes and hooks of one gateway instance.
///
/// A message goes through the gateway's guards, then the handler's, then the gateway's layers,
/// the handler's layers and the handler; its errors through the handler's filters, then the
/// gateway's (then the app's, when it is answered).
pub(crate) fn instance<G: GatewayMeta + GatewayHandlers>(gateway: Arc<G>) -> BuiltGateway {
    let gateway_guards = G::guards();
    let gateway_filters = G::filters();
    let routes = G::handlers()
        .into_iter()
        .map(|def| {
            let HandlerDef {
                event,
                method,
                call,
                guards,
                layers,
                filters,
                needs,
            } = G::layers(def);
            let instance = gateway.clone();
            let mut call: BoxedHandler = Box::new(move |message| call(instance.clone(), message));
            if !layers.is_empty() {
                let mut service = service(Arc::from(call));
                for wrap in layers {
                    service = wrap(service);
                }
                call = Box::new(drive(service));
            }
            let guards: Vec<BoxedGuard> = gateway_guards.iter().cloned().chain(guards).collect();
            let call = guarded(guards, call);
            Route {
                event,
                handler_name: format!("{}::{method}", G::NAME),
                call,
                filters: filters
                    .into_iter()
                    .chain(gateway_filters.iter().cloned())
                    .collect(),
                needs,
            }
        })
        .collect();
    BuiltGateway {
        name: G::NAME,
        path: G::PATH,
        routes,
        hooks: Arc::new(TypedHooks {
            gateway,
            filters: gateway_filters,
        }),
        handshake_guards: G::handshake_guards(),
    }
}

/// A handler behind `guards`: they run in order before it, and the first refusal answers.
pub(crate) fn guarded(guards: Vec<BoxedGuard>, call: BoxedHandler) -> BoxedHandler {
    if guards.is_empty() {
        return call;
    }
    let guards: Arc<[BoxedGuard]> = guards.into();
    let call: Arc<dyn Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync> = Arc::from(call);
    Box::new(move |message| {
        let (guards, call) = (guards.clone(), call.clone());
        Box::pin(async move {
            let context = GuardContext::of(&message);
            for guard in guards.iter() {
                if let Some(refusal) = guard.check(&context).await {
                    tracing::debug!(socket = %context.socket().id(), event = context.event(), "a guard refused the message");
                    return Reply::error(refusal);
                }
            }
            call(message).await
        })
    })
}

/// One layer, ready to wrap a handler service once the gateway instance exists.
pub(crate) type Wrap = Box<dyn FnOnce(HandlerService) -> HandlerService + Send + Sync>;

/// Erases a layer into a [`Wrap`].
pub(crate) fn wrap<L>(layer: L) -> Wrap
where
    L: Layer<HandlerService> + Send + Sync + 'static,
    L::Service: Service<Message, Response = Reply> + Send + 'static,
    <L::Service as Service<Message>>::Error: Into<BoxError>,
    <L::Service as Service<Message>>::Future: Send + 'static,
{
    Box::new(move |inner| BoxService::new(layer.layer(inner).map_err(Into::<BoxError>::into)))
}

/// A handler call as a service (it never fails: errors are replies).
pub(crate) fn service(
    call: Arc<dyn Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync>,
) -> HandlerService {
    BoxService::new(tower::service_fn(move |message| {
        let reply = call(message);
        async move { Ok::<_, BoxError>(reply.await) }
    }))
}

/// Drives a layered service for each message: readiness, then the call, in arrival order.
pub(crate) fn drive(
    service: HandlerService,
) -> impl Fn(Message) -> BoxFuture<'static, Reply> + Send + Sync {
    let service = Arc::new(tokio::sync::Mutex::new(service));
    move |message| {
        let service = service.clone();
        Box::pin(async move {
            let response = {
                let mut service = service.lock().await;
                match service.ready().await {
                    Ok(ready) => ready.call(message),
                    Err(err) => return Reply::error(layer_error(err)),
                }
            };
            response
                .await
                .unwrap_or_else(|err| Reply::error(layer_error(err)))
        })
    }
}

/// A layer's error as the client sees it.
fn layer_error(err: BoxError) -> WsException {
    match err.downcast::<WsException>() {
        Ok(exception) => *exception,
        Err(err) => WsException::new(err.to_string()),
    }
}

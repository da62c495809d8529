//! Turning an [`App`] into its [`Runtime`]: builds every gateway (explicit, then discovered),
//! assembles one namespace (or dynamic template) per path, and checks for duplicates.

use super::{App, Pending};
use crate::adapter::LocalStore;
use crate::error::{Error, Result};
use crate::gateway;
use crate::guard::BoxedHandshakeGuard;
use crate::handler::{GatewayHooks, Route};
use crate::metrics::PathMetrics;
use crate::namespace::{Namespace, Template};
use crate::pattern::Pattern;
use crate::runtime::Runtime;
use crate::state::AppState;
use std::any::TypeId;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

impl App {
    /// Builds the runtime for in-process tests (`#[after_init]` hooks do not run).
    #[cfg(feature = "testing")]
    pub(crate) fn build_for_tests(self) -> Result<Arc<Runtime>> {
        self.build()
    }

    /// Builds every gateway and the namespaces, checking for duplicate events.
    pub(super) fn build(self) -> Result<Arc<Runtime>> {
        let App {
            discover,
            mut state,
            providers,
            gateways: explicit,
            config,
            handle,
            routes: _,
            adapter: adapter_builder,
            pipeline,
            socket_io: _,
            custom_adapter,
        } = self;
        if let (Some(recovery), true) = (&config.recovery, custom_adapter) {
            if !adapter_builder.stores_recovery() {
                return Err(Error::Unsupported(
                    "connection-state recovery with a cluster adapter that does not store it (App::adapter): an in-memory log misses what other nodes send",
                ));
            }
            if recovery.skip_guards {
                return Err(Error::Unsupported(
                    "RecoveryConfig::skip_guards with a cluster adapter: a socket's extensions stay in the process that made them, so its guards must run again where it comes back",
                ));
            }
        }
        adapter_builder.metrics(&crate::metrics::Registry::new(&config.metrics));
        super::providers::build_all(&mut state, providers)?;
        let mut seen: Vec<TypeId> = Vec::new();
        let mut built = Vec::new();
        for pending in explicit {
            let type_id = pending.type_id();
            if seen.contains(&type_id) {
                let name = match &pending {
                    Pending::Type { name, .. } => name,
                    Pending::Instance { built, .. } => &built.name,
                };
                return Err(Error::DuplicateGateway(name));
            }
            seen.push(type_id);
            built.push(match pending {
                Pending::Type { build, .. } => build(&state)?,
                Pending::Instance { built, .. } => built,
            });
        }
        if discover {
            for registration in gateway::discovered() {
                if !seen.contains(&(registration.type_id)()) {
                    built.push((registration.build)(&state)?);
                }
            }
        }
        // inventory's order is unspecified: sort so that hooks run in a stable order.
        built.sort_by(|a, b| (a.path, a.name).cmp(&(b.path, b.name)));

        let mut paths: Vec<PathEntry> = Vec::new();
        for gateway in built {
            if paths.last().is_none_or(|entry| entry.path != gateway.path) {
                paths.push(PathEntry {
                    path: gateway.path,
                    routes: HashMap::new(),
                    hooks: Vec::new(),
                    handshake_guards: pipeline.handshake_guards.clone(),
                });
            }
            let Some(PathEntry {
                path,
                routes,
                hooks,
                handshake_guards,
            }) = paths.last_mut()
            else {
                unreachable!("an entry for this path was pushed just above")
            };
            handshake_guards.extend(gateway.handshake_guards);
            for mut route in gateway.routes {
                if !pipeline.guards.is_empty() {
                    route.call =
                        crate::handler::pipeline::guarded(pipeline.guards.clone(), route.call);
                }
                match routes.entry(route.event) {
                    Entry::Occupied(first) => {
                        return Err(Error::DuplicateEvent {
                            event: route.event.to_owned(),
                            path: (*path).to_owned(),
                            first: first.get().handler_name.clone(),
                            second: route.handler_name,
                        });
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(route);
                    }
                }
            }
            hooks.push(gateway.hooks);
        }
        let mut namespaces = HashMap::new();
        let mut dynamic = Vec::new();
        for mut entry in paths {
            for route in entry.routes.values() {
                check_needs(route, entry.path, &state, entry.handshake_guards.is_empty())?;
            }
            if !entry.handshake_guards.is_empty() {
                // Tokens the guards check may expire: the refresh event is answered on this path.
                let refresh = crate::refresh::route();
                if let Some(taken) = entry.routes.get(refresh.event) {
                    return Err(Error::DuplicateEvent {
                        event: refresh.event.to_owned(),
                        path: entry.path.to_owned(),
                        first: refresh.handler_name,
                        second: taken.handler_name.clone(),
                    });
                }
                entry.routes.insert(refresh.event, refresh);
            }
            let metrics =
                PathMetrics::new(&config.metrics, entry.path, entry.routes.keys().copied());
            let template = Template {
                routes: Arc::new(entry.routes),
                hooks: entry.hooks,
                handshake_guards: entry.handshake_guards,
                recovery: config.recovery,
                metrics,
            };
            if let Some(pattern) = Pattern::parse(entry.path) {
                dynamic.push((pattern, template));
                continue;
            }
            let store = Arc::new(LocalStore::new(entry.path, template.metrics.clone()));
            let adapter = adapter_builder.build(entry.path, store);
            let namespace = Namespace::new(entry.path, template, adapter);
            namespaces.insert(entry.path.into(), Arc::new(namespace));
        }
        let runtime = Arc::new(Runtime {
            namespaces,
            dynamic,
            children: Arc::default(),
            adapter_builder,
            state: Arc::new(state),
            config,
            shutdown: handle.shutdown.clone(),
            connections: handle.connections.clone(),
            last_ack_id: AtomicU64::new(0),
            filters: pipeline.filters,
            origins: pipeline.origins,
            observer: pipeline.observer,
        });
        let _ = handle.runtime.set(runtime.clone());
        Ok(runtime)
    }
}

/// The gateways of one path while the namespaces are assembled.
struct PathEntry {
    path: &'static str,
    routes: HashMap<&'static str, Route>,
    hooks: Vec<Arc<dyn GatewayHooks>>,
    handshake_guards: Vec<BoxedHandshakeGuard>,
}

/// Refuses a handler whose `State<T>` was never provided; warns about an `Extension<T>` read on a
/// path with no handshake guard (only a connection hook could have stored it).
fn check_needs(route: &Route, path: &str, state: &AppState, unguarded: bool) -> Result<()> {
    if let Some(missing) = route
        .needs
        .states
        .iter()
        .find(|need| !state.contains_id(need.type_id))
    {
        return Err(Error::MissingHandlerState {
            handler: route.handler_name.clone(),
            event: route.event.to_owned(),
            path: path.to_owned(),
            type_name: missing.type_name,
        });
    }
    if unguarded {
        for need in &route.needs.extensions {
            tracing::warn!(
                handler = %route.handler_name,
                path,
                type_name = need.type_name,
                "this handler reads Extension<T>, but no handshake guard runs on its path: unless a connection hook stores the value with Socket::insert_extension, every message is answered \"Unauthorized\""
            );
        }
    }
    Ok(())
}

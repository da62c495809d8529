//! [`RedisAdapter`]: one namespace's adapter, applying each operation to this process's sockets
//! and sending it to the other nodes.

use crate::cluster::Alive;
use crate::node::{Incoming, Node, PendingRequest};
use crate::recovery::RedisRecovery;
use crate::wire::{self, Body, Header, Op};
use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use nestgate::ack::{AckError, AckResponse, AckStream};
use nestgate::adapter::{
    Adapter, AdapterError, BroadcastOptions, Frame, LocalStore, Room, SocketInfo,
};
use nestgate::recovery::RecoveryConfig;
use nestgate::recovery::store::RecoveryStore;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

/// The adapter of one namespace (gateway path) of a [`RedisCluster`](crate::RedisCluster) node.
///
/// Built by the cluster for each path (`App::adapter(cluster)`); users never name it. Each
/// operation is applied to this process's sockets at once and, unless `local`, published to
/// the other nodes, which apply it to theirs: every client is connected to exactly one node, so
/// each broadcast reaches each client once.
pub struct RedisAdapter {
    node: Arc<Node>,
    store: Arc<LocalStore>,
    path: String,
    /// For the recovery store, which opens connections of its own.
    client: redis::Client,
    _alive: Arc<Alive>,
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        // Dynamic namespaces come and go: the node forgets this one's store with it.
        self.node.unregister(&self.path, &self.store);
    }
}

impl RedisAdapter {
    pub(crate) fn new(
        node: Arc<Node>,
        client: redis::Client,
        store: Arc<LocalStore>,
        alive: Arc<Alive>,
    ) -> Self {
        let path = store.path().to_owned();
        node.register(&path, store.clone());
        RedisAdapter {
            node,
            store,
            path,
            client,
            _alive: alive,
        }
    }

    /// Sends a request to the other nodes and waits for their answers.
    async fn ask(&self, op: Op) -> Result<Vec<Body>, AdapterError> {
        let (node, path) = (self.node.uid.clone(), self.path.clone());
        let answers = self
            .node
            .ask(
                |req| Header::Request {
                    node,
                    req: Some(req),
                    path,
                    op,
                },
                b"",
            )
            .await?;
        Ok(answers.into_iter().map(|answer| answer.body).collect())
    }

    /// Publishes a broadcast with acks and returns the stream of the other nodes' answers.
    fn remote_acks(
        &self,
        frame: &str,
        ack_id: u64,
        options: &BroadcastOptions,
        timeout: Duration,
    ) -> Result<BoxStream<'static, AckResponse<Box<RawValue>>>, AdapterError> {
        self.node.ensure_up()?;
        let Some(bare) = wire::strip_ack_id(frame, ack_id) else {
            return Err(AdapterError::Unavailable(
                "the frame does not end with its ack id".to_owned(),
            ));
        };
        let request = self.node.start_request(1024);
        let header = Header::BroadcastAck {
            node: self.node.uid.clone(),
            req: request.req,
            path: self.path.clone(),
            opts: options.clone(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        if !self.node.publish_all(&header, bare.as_bytes()) {
            return Err(AdapterError::Unavailable(
                "the broadcast could not be published".to_owned(),
            ));
        }
        // Each node reports its clients' timeouts itself after `timeout`; the request timeout
        // on top is for the transport, and for nodes that died meanwhile.
        let deadline = tokio::time::Instant::now() + timeout + self.node.config.request_timeout;
        let stream = futures_util::stream::unfold((request, deadline), next_remote_ack);
        Ok(stream.boxed())
    }
}

/// The next answer of a remote broadcast with acks, until every node said it is done, left, or
/// the deadline passed.
async fn next_remote_ack(
    (mut request, deadline): (PendingRequest, tokio::time::Instant),
) -> Option<(
    AckResponse<Box<RawValue>>,
    (PendingRequest, tokio::time::Instant),
)> {
    loop {
        if request.waiting.is_empty() {
            return None;
        }
        let incoming = tokio::time::timeout_at(deadline, request.receiver.recv())
            .await
            .ok()??;
        match incoming {
            Incoming::Response {
                body: Body::Ack { socket, error },
                payload,
                ..
            } => {
                let result = match error {
                    Some(failure) => Err(failure.into()),
                    None => String::from_utf8(payload)
                        .ok()
                        .and_then(|json| RawValue::from_string(json).ok())
                        .ok_or_else(|| AckError::Decode("the answer is not valid JSON".to_owned())),
                };
                return Some((AckResponse { socket, result }, (request, deadline)));
            }
            Incoming::Response {
                node,
                body: Body::AckDone,
                ..
            }
            | Incoming::Gone(node) => {
                request.waiting.remove(&node);
            }
            Incoming::Response { .. } => {}
        }
    }
}

impl Adapter for RedisAdapter {
    fn store(&self) -> &Arc<LocalStore> {
        &self.store
    }

    fn broadcast(&self, frame: Frame, options: &BroadcastOptions) -> Result<(), AdapterError> {
        self.store.broadcast(&frame, options);
        if !options.local {
            let message = wire::encode_broadcast(
                &self.node.uid,
                &self.path,
                options,
                frame.as_str().as_bytes(),
            );
            // Dropped (and counted) when Redis is unreachable: the local clients were served,
            // and a broadcast waits for nobody.
            self.node.publish_encoded(message);
        }
        Ok(())
    }

    fn broadcast_with_ack(
        &self,
        frame: Frame,
        ack_id: u64,
        options: BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<AckStream, AdapterError>> {
        Box::pin(async move {
            if options.local {
                return Ok(self
                    .store
                    .broadcast_with_ack(&frame, ack_id, &options, timeout));
            }
            let remote = self.remote_acks(frame.as_str(), ack_id, &options, timeout)?;
            let local = self
                .store
                .broadcast_with_ack(&frame, ack_id, &options, timeout);
            let both = futures_util::stream::select(local, remote);
            Ok(AckStream::new(both.boxed()))
        })
    }

    fn fetch_sockets(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        Box::pin(async move {
            if options.local {
                return Ok(self.store.fetch(&options));
            }
            let answers = self
                .ask(Op::Fetch {
                    opts: options.clone(),
                })
                .await?;
            let mut sockets = self.store.fetch(&options);
            for body in answers {
                if let Body::Sockets(remote) = body {
                    sockets.extend(remote);
                }
            }
            Ok(sockets)
        })
    }

    fn sockets_count(
        &self,
        options: BroadcastOptions,
    ) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move {
            if options.local {
                return Ok(self.store.count(&options));
            }
            let answers = self
                .ask(Op::Count {
                    opts: options.clone(),
                })
                .await?;
            let remote: usize = answers
                .into_iter()
                .map(|body| match body {
                    Body::Count(count) => count,
                    _ => 0,
                })
                .sum();
            Ok(self.store.count(&options) + remote)
        })
    }

    fn add_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.add_sockets(&options, &rooms);
        Box::pin(async move {
            if !options.local {
                self.ask(Op::Join {
                    opts: options,
                    rooms,
                })
                .await?;
            }
            Ok(())
        })
    }

    fn del_sockets(
        &self,
        options: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.del_sockets(&options, &rooms);
        Box::pin(async move {
            if !options.local {
                self.ask(Op::Leave {
                    opts: options,
                    rooms,
                })
                .await?;
            }
            Ok(())
        })
    }

    fn disconnect_sockets(
        &self,
        options: BroadcastOptions,
        code: u16,
        reason: String,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.store.disconnect(&options, code, &reason);
        Box::pin(async move {
            if !options.local {
                self.ask(Op::Disconnect {
                    opts: options,
                    code,
                    reason,
                })
                .await?;
            }
            Ok(())
        })
    }

    fn recovery(&self, config: &RecoveryConfig) -> Option<Arc<dyn RecoveryStore>> {
        Some(Arc::new(RedisRecovery::start(
            self.node.clone(),
            self.client.clone(),
            self.store.clone(),
            *config,
        )))
    }

    fn rooms(&self, local: bool) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>> {
        Box::pin(async move {
            let mut rooms = self.store.rooms();
            if !local {
                for body in self.ask(Op::Rooms).await? {
                    if let Body::Rooms(remote) = body {
                        rooms.extend(remote);
                    }
                }
                rooms.sort();
                rooms.dedup();
            }
            Ok(rooms)
        })
    }
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("path", &self.path)
            .field("node", &self.node.uid)
            .finish()
    }
}

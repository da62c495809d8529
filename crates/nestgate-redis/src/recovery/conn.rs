//! A Redis connection for recovery's commands, made again after a failure.

use crate::config::RedisConfig;
use crate::node::lock;
use redis::aio::MultiplexedConnection;
use std::sync::Mutex;
use std::time::Duration;

/// A shared command connection: cloned per command (it is multiplexed), dropped when a command
/// fails so that the next one connects again.
pub(crate) struct Conn {
    client: redis::Client,
    connect_timeout: Duration,
    command_timeout: Duration,
    current: Mutex<Option<MultiplexedConnection>>,
}

impl Conn {
    pub(crate) fn new(client: redis::Client, config: &RedisConfig) -> Self {
        Conn {
            client,
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            current: Mutex::new(None),
        }
    }

    /// A connection of its own (for a blocking read, which would stall the shared one). Its
    /// commands have no response timeout of the `redis` crate's (500 ms, shorter than a
    /// blocking read): each caller bounds its own.
    pub(crate) async fn dedicated(&self) -> redis::RedisResult<MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    async fn get(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(conn) = lock(&self.current).clone() {
            return Ok(conn);
        }
        let conn = self.dedicated().await?;
        *lock(&self.current) = Some(conn.clone());
        Ok(conn)
    }

    /// Runs a command within the command timeout; a failure drops the connection.
    pub(crate) async fn cmd<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        let mut conn = self.get().await?;
        let result = self.within(cmd.query_async(&mut conn)).await;
        self.check(result)
    }

    /// Runs a pipeline within the command timeout; a failure drops the connection.
    pub(crate) async fn pipe<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> redis::RedisResult<T> {
        let mut conn = self.get().await?;
        let result = self.within(pipe.query_async(&mut conn)).await;
        self.check(result)
    }

    async fn within<T>(
        &self,
        future: impl Future<Output = redis::RedisResult<T>>,
    ) -> redis::RedisResult<T> {
        match tokio::time::timeout(self.command_timeout, future).await {
            Ok(result) => result,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("Redis did not answer within {:?}", self.command_timeout),
            )
            .into()),
        }
    }

    fn check<T>(&self, result: redis::RedisResult<T>) -> redis::RedisResult<T> {
        if result.is_err() {
            *lock(&self.current) = None;
        }
        result
    }
}

//! The lingering close: after its last frame, a connection is half-closed (FIN) and what the
//! peer still sends is read and discarded, bounded in time and bytes, then dropped. Dropping a
//! TCP connection while unread data is arriving makes the kernel answer with a reset, and the
//! reset makes the peer drop what it had not read yet: the close frame or the 503 it was just
//! sent. A leaf: it imports nothing of the crate.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// How long and how much a closed connection keeps reading, in milliseconds and KiB: every
/// connection holds a copy, so it is kept to 8 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LingerLimits {
    timeout_ms: u32,
    max_kib: u32,
}

impl LingerLimits {
    pub(crate) fn new(timeout: Duration, max_bytes: usize) -> Self {
        LingerLimits {
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
            max_kib: u32::try_from(max_bytes.div_ceil(1024)).unwrap_or(u32::MAX),
        }
    }

    pub(crate) fn timeout(self) -> Duration {
        Duration::from_millis(self.timeout_ms.into())
    }

    pub(crate) fn max_bytes(self) -> usize {
        usize::try_from(u64::from(self.max_kib) * 1024).unwrap_or(usize::MAX)
    }
}

/// Half-closes `io`, then reads and discards until the peer closes too, an error, or a limit.
pub(crate) async fn linger<T: AsyncRead + AsyncWrite + Unpin>(mut io: T, limits: LingerLimits) {
    let max_bytes = limits.max_bytes();
    let drained = tokio::time::timeout(limits.timeout(), async {
        let _ = io.shutdown().await;
        let mut buf = vec![0; 4096];
        let mut read = 0usize;
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return read,
                Ok(n) => {
                    read += n;
                    if read >= max_bytes {
                        return read;
                    }
                }
            }
        }
    })
    .await;
    match drained {
        Ok(read) => tracing::trace!(read, "closed connection drained"),
        Err(_) => tracing::debug!("closed connection still sending after the linger timeout"),
    }
}

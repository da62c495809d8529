//! The TCP stream of a counted connection
//! ([`App::max_connections`](crate::App::max_connections),
//! [`App::max_connections_per_ip`](crate::App::max_connections_per_ip)).
//!
//! The accept loop takes a [`Permit`] of the app's [`Caps`](crate::util::caps::Caps) for each
//! connection; the permit travels inside the connection's I/O object ([`Counted`]), so it is
//! held exactly as long as the socket is open: through the HTTP exchange and, after an upgrade,
//! for the WebSocket's whole life.

use crate::util::caps::Permit;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream that holds its connection's permit (if any) until it is dropped.
#[derive(Debug)]
pub(crate) struct Counted {
    tcp: TcpStream,
    _permit: Option<Permit>,
}

impl Counted {
    pub(crate) fn new(tcp: TcpStream, permit: Option<Permit>) -> Self {
        Counted {
            tcp,
            _permit: permit,
        }
    }

    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

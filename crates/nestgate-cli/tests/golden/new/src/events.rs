//! `EventsGateway`, at `/events`: replies to the sender and broadcasts to everyone.
//!
//! - `{"event":"echo","data":X}` answers `{"event":"echo","data":X}` to the sender.
//! - `{"event":"broadcast","data":X}` sends `{"event":"broadcast","data":X}` to every client of
//!   `/events`, the sender included.

use nestgate::prelude::*;
use serde_json::Value;

/// The events gateway: one instance serves every client of its path.
#[websocket_gateway(path = "/events")]
#[derive(Debug, Default)]
pub struct EventsGateway;

#[websocket_gateway]
impl EventsGateway {
    /// Answers the sender with the data it sent.
    #[subscribe_message("echo")]
    fn echo(&self, Data(data): Data<Value>) -> WsResponse<Value> {
        WsResponse::new("echo", data)
    }

    /// Sends the data to every connected client, serialized once.
    #[subscribe_message("broadcast")]
    fn broadcast(&self, server: Server, Data(data): Data<Value>) -> Result<(), WsException> {
        server.emit("broadcast", &data)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

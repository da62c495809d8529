//! `SampleNameGateway`, at `/sample-name`: replies to the sender and broadcasts to everyone.
//!
//! - `{"event":"echo","data":X}` answers `{"event":"echo","data":X}` to the sender.
//! - `{"event":"broadcast","data":X}` sends `{"event":"broadcast","data":X}` to every client of
//!   `/sample-name`, the sender included.

use nestgate::prelude::*;
use serde_json::Value;

/// The sample name gateway: one instance serves every client of its path.
#[websocket_gateway(path = "/sample-name")]
#[derive(Debug, Default)]
pub struct SampleNameGateway;

#[websocket_gateway]
impl SampleNameGateway {
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

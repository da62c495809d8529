//! The acknowledgements the server waits for from one client: registered before an emit with
//! an ack id, resolved by the client's answer, failed when the client leaves.

use super::Socket;
use crate::ack::{AckError, AckResponse, AckSender};
use crate::util::sync::lock;
use serde_json::value::RawValue;

impl Socket {
    /// Registers where the answer to ack `id` goes.
    pub(crate) fn expect_ack(&self, id: u64, sender: AckSender) {
        lock(&self.inner.pending_acks).push((id, sender));
    }

    /// Stops waiting for ack `id`.
    pub(crate) fn forget_ack(&self, id: u64) {
        lock(&self.inner.pending_acks).retain(|(pending, _)| *pending != id);
    }

    /// Delivers the client's answer to ack `id`; returns whether anyone was waiting.
    pub(crate) fn resolve_ack(&self, id: u64, data: Box<RawValue>) -> bool {
        let sender = {
            let mut pending = lock(&self.inner.pending_acks);
            let Some(index) = pending.iter().position(|(pending, _)| *pending == id) else {
                return false;
            };
            pending.swap_remove(index).1
        };
        let answer = AckResponse {
            socket: self.id().to_owned(),
            result: Ok(data),
        };
        // The channel has room for one answer per socket it was given to.
        sender.try_send(answer).is_ok()
    }

    /// Tells everyone still waiting for an ack that the client is gone.
    pub(crate) fn fail_pending_acks(&self) {
        let pending = std::mem::take(&mut *lock(&self.inner.pending_acks));
        for (_, sender) in pending {
            let answer = AckResponse {
                socket: self.id().to_owned(),
                result: Err(AckError::Disconnected),
            };
            let _ = sender.try_send(answer);
        }
    }
}

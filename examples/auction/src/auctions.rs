//! The auctions service (NestJS's `AuctionsService`): the bids of every auction, locked inside
//! its methods so that handlers never hold a lock.

use nestgate::WsException;
use nestgate::extract::FieldError;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The most auctions one server keeps (a client names auctions: the map must have a bound).
pub const MAX_AUCTIONS: usize = 10_000;

/// Every auction's highest bid; cloned into each gateway that injects it (one shared map).
#[derive(Clone, Debug, Default)]
pub struct Auctions(Arc<Mutex<HashMap<String, Auction>>>);

/// One auction.
#[derive(Debug, Default)]
struct Auction {
    highest: Option<Bid>,
    closed: bool,
}

/// A bid, as the winner of a closed auction is announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bid {
    /// Who bid.
    pub bidder: String,
    /// How much.
    pub amount: u64,
}

impl Auctions {
    /// The highest bid of an auction, if it has any.
    pub fn highest(&self, auction: &str) -> Option<u64> {
        self.lock()
            .get(auction)
            .and_then(|a| a.highest.as_ref())
            .map(|bid| bid.amount)
    }

    /// Places a bid: refused (in the shape of a validation error, naming `amount`) when it is not
    /// above the highest, when the auction is closed, or when there are too many auctions.
    pub fn place(&self, auction: &str, bidder: &str, amount: u64) -> Result<(), WsException> {
        let mut auctions = self.lock();
        if !auctions.contains_key(auction) && auctions.len() >= MAX_AUCTIONS {
            return Err(WsException::new("too many auctions"));
        }
        let entry = auctions.entry(auction.to_owned()).or_default();
        if entry.closed {
            return Err(WsException::new(format!("auction {auction} is closed")));
        }
        let highest = entry.highest.as_ref().map_or(0, |bid| bid.amount);
        if amount <= highest {
            return Err(WsException::validation([FieldError::new(
                "amount",
                "above_highest",
                format!("amount must be more than the highest bid, {highest}"),
            )
            .with_param("min", highest + 1)]));
        }
        entry.highest = Some(Bid {
            bidder: bidder.to_owned(),
            amount,
        });
        Ok(())
    }

    /// Closes an auction: its winning bid, if any.
    pub fn close(&self, auction: &str) -> Option<Bid> {
        let mut auctions = self.lock();
        let entry = auctions.get_mut(auction)?;
        entry.closed = true;
        entry.highest.clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Auction>> {
        // No method panics while holding the lock; were one to, the map is still consistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

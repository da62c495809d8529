//! The live-auction gateway: rooms per auction, JWT on the handshake, validated bids, an admin
//! guard. docs/guide.md ("From NestJS") puts it beside its NestJS version.

use crate::auctions::Auctions;
use crate::auth::{Claims, JwtGuard, RoleGuard};
use nestgate::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use validator::Validate;

#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct JoinAuction {
    #[validate(length(min = 1))]
    auction_id: String,
}

#[derive(Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct PlaceBid {
    #[validate(length(min = 1))]
    auction_id: String,
    #[validate(range(min = 1))]
    amount: u64,
}

#[websocket_gateway(path = "/auction", handshake_guards(JwtGuard::from_env()))]
pub(crate) struct AuctionGateway {
    #[inject]
    auctions: Auctions,
}

#[websocket_gateway]
impl AuctionGateway {
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Valid(body): Valid<JoinAuction>) -> Option<u64> {
        socket.join(body.auction_id.clone());
        self.auctions.highest(&body.auction_id)
    }

    #[subscribe_message("bid")]
    fn bid(
        &self,
        server: Server,
        user: Extension<Claims>,
        Valid(body): Valid<PlaceBid>,
    ) -> Result<Value, WsException> {
        self.auctions
            .place(&body.auction_id, &user.sub, body.amount)?;
        let bid = json!({"bidder": &user.sub, "amount": body.amount});
        server.to(body.auction_id).emit("bid", &bid)?;
        Ok(json!({"accepted": true}))
    }

    #[subscribe_message("close")]
    #[use_guards(RoleGuard("admin"))]
    fn close(&self, server: Server, Valid(body): Valid<JoinAuction>) -> Result<(), WsException> {
        let winner = self.auctions.close(&body.auction_id);
        server.to(body.auction_id).emit("closed", &winner)?;
        Ok(())
    }
}

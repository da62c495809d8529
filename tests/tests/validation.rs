//! One shape for every rejected payload, over a real socket: data of the wrong type, broken
//! rules and a rule the handler checks itself all arrive as `errors: [{field, rule, message}]`,
//! the fields named as the client sent them (serde's `rename_all` followed), no Rust type on the
//! wire; and the test client keeps the frames that arrived before an answer.

use nestgate::App;
use nestgate::extract::{FieldError, Valid};
use nestgate::prelude::*;
use nestgate_tests::serve;
use serde_json::json;
use std::sync::{Arc, Mutex};
use validator::Validate;

#[derive(serde::Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct PlaceBid {
    #[validate(length(min = 1, max = 16))]
    auction_id: String,
    #[validate(range(min = 1))]
    amount: u64,
    #[validate(email)]
    notify_email: Option<String>,
    #[validate(nested)]
    #[serde(default)]
    bidder_notes: Vec<Note>,
}

#[derive(serde::Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct Note {
    #[validate(length(max = 4, message = "keep it short"))]
    note_text: String,
}

#[websocket_gateway(path = "/bids")]
#[derive(Default)]
struct BidsGateway {
    highest: Arc<Mutex<u64>>,
}

#[websocket_gateway]
impl BidsGateway {
    #[subscribe_message("bid")]
    fn bid(&self, socket: Socket, Valid(bid): Valid<PlaceBid>) -> Result<u64, WsException> {
        let mut highest = self.highest.lock().unwrap_or_else(|p| p.into_inner());
        if bid.amount <= *highest {
            // A rule that needs state, answered in the shape of the others.
            return Err(WsException::validation([FieldError::new(
                "amount",
                "above_highest",
                format!("amount must be more than {}", *highest),
            )
            .with_param("min", *highest + 1)]));
        }
        *highest = bid.amount;
        // The bidder's own broadcast goes out before the answer.
        let _ = socket.emit(
            "bid_placed",
            &json!({"auctionId": bid.auction_id, "amount": bid.amount}),
        );
        Ok(bid.amount)
    }
}

#[tokio::test]
async fn broken_rules_name_the_fields_as_the_client_sent_them() {
    let server = serve(App::bare().gateway::<BidsGateway>()).await;
    let mut client = server.client("/bids").await;
    let answer = client
        .request(
            1,
            "bid",
            json!({"auctionId": "", "amount": 0, "notifyEmail": "nope",
                   "bidderNotes": [{"noteText": "ok"}, {"noteText": "too long"}]}),
        )
        .await;
    assert_eq!(
        answer["error"],
        json!({"status": "error", "message": "Validation failed", "errors": [
            {"field": "amount", "rule": "range", "message": "amount must be at least 1",
             "params": {"min": 1, "value": 0}},
            {"field": "auctionId", "rule": "length", "message": "auctionId must be 1 to 16 characters long",
             "params": {"min": 1, "max": 16, "value": ""}},
            {"field": "bidderNotes[1].noteText", "rule": "length", "message": "keep it short",
             "params": {"max": 4, "value": "too long"}},
            {"field": "notifyEmail", "rule": "email", "message": "notifyEmail must be an email",
             "params": {"value": "nope"}},
        ]}),
        "{answer}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_of_the_wrong_type_arrives_in_the_same_shape_without_rust_names() {
    let server = serve(App::bare().gateway::<BidsGateway>()).await;
    let mut client = server.client("/bids").await;
    let cases = [
        (
            json!({"auctionId": 5, "amount": 1}),
            json!({"field": "auctionId", "rule": "type", "message": "auctionId must be a string"}),
        ),
        (
            json!({"amount": 1}),
            json!({"field": "auctionId", "rule": "required", "message": "auctionId is required"}),
        ),
        (
            json!({"auctionId": "a", "amount": -1}),
            json!({"field": "amount", "rule": "type", "message": "amount must be a non-negative integer"}),
        ),
        (
            json!("a bid"),
            json!({"field": "", "rule": "type", "message": "data must be an object"}),
        ),
        (
            json!({"auctionId": "a", "amount": 1, "bidderNotes": [{"noteText": []}]}),
            json!({"field": "bidderNotes[0].noteText", "rule": "type", "message": "noteText must be a string"}),
        ),
    ];
    for (id, (data, expected)) in (1..).zip(cases) {
        let answer = client.request(id, "bid", data.clone()).await;
        assert_eq!(
            answer["error"],
            json!({"status": "error", "message": "Validation failed", "errors": [expected]}),
            "{data}"
        );
        assert!(!answer.to_string().contains("PlaceBid"), "{answer}");
    }
    // Without an id: the same object as the exception frame's data.
    client.emit("bid", json!({"amount": 1})).await;
    let frame = client.recv().await;
    assert_eq!(frame["event"], "exception");
    assert_eq!(frame["data"]["errors"][0]["field"], "auctionId");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rule_that_needs_state_answers_in_the_same_shape_and_skipped_frames_are_kept() {
    let server = serve(App::bare().gateway::<BidsGateway>()).await;
    let mut client = server.client("/bids").await;
    let answer = client
        .request(1, "bid", json!({"auctionId": "a1", "amount": 120}))
        .await;
    assert_eq!(answer["data"], 120);
    // The broadcast arrived before the answer; `request` kept it for `recv`.
    assert_eq!(
        client.recv().await,
        json!({"event": "bid_placed", "data": {"auctionId": "a1", "amount": 120}})
    );
    let answer = client
        .request(2, "bid", json!({"auctionId": "a1", "amount": 100}))
        .await;
    assert_eq!(
        answer["error"],
        json!({"status": "error", "message": "Validation failed", "errors": [
            {"field": "amount", "rule": "above_highest", "message": "amount must be more than 120",
             "params": {"min": 121}},
        ]})
    );
    server.shutdown().await.unwrap();
}

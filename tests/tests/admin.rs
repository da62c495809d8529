//! The Socket.IO Admin UI's protocol on `/admin` (`App::admin_ui`), spoken by a Socket.IO
//! client as the UI speaks it: a wrong password refused, a login's session, the features, every
//! socket of both wire modes with its rooms, live events, the stats, and a disconnect the UI
//! asks for closing the socket.

use nestgate::App;
use nestgate::admin::AdminConfig;
use nestgate::prelude::*;
use nestgate::testing::{ConnectError, SocketIoClient, SocketIoEvent};
use nestgate_tests::{TestServer, serve};
use serde_json::{Value, json};
use std::time::Duration;

#[websocket_gateway(path = "/chat")]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    fn join(&self, socket: Socket, Data(room): Data<String>) -> String {
        socket.join(room.clone());
        room
    }
}

async fn app(config: AdminConfig) -> TestServer {
    serve(App::bare().gateway::<Chat>().admin_ui(config)).await
}

fn login(password: &str) -> Value {
    json!({"username": "admin", "password": password})
}

/// The next event named `name`, skipping others (the stats come every 2 s).
async fn next(client: &mut SocketIoClient, name: &str) -> SocketIoEvent {
    loop {
        let event = client.recv().await;
        if event.event == name {
            return event;
        }
    }
}

#[tokio::test]
async fn the_admin_namespace_speaks_the_admin_uis_protocol() {
    let hash = bcrypt::hash("changeit", 4).unwrap();
    let server = app(AdminConfig::basic("admin", hash).unwrap()).await;
    let admin_url = server.url("/admin");

    // A wrong password, and none, are refused as the UI's own server refuses them.
    match SocketIoClient::connect_with_auth(&admin_url, login("wrong")).await {
        Err(ConnectError::Refused(error)) => assert_eq!(error["message"], "invalid credentials"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(SocketIoClient::connect(&admin_url).await.is_err());

    // A ws-json socket in a room, and a Socket.IO one.
    let mut ann = server.client("/chat").await;
    ann.request(1, "join", json!("lobby")).await;
    let mut bob = server.socket_io("/chat").await;
    assert_eq!(
        bob.emit_with_ack("join", json!("lobby")).await,
        [json!("lobby")]
    );

    let mut ui = SocketIoClient::connect_with_auth(&admin_url, login("changeit"))
        .await
        .unwrap();
    let session = next(&mut ui, "session").await;
    let session = session.data().as_str().unwrap().to_owned();
    assert_eq!(session.len(), 16);
    let config = next(&mut ui, "config").await;
    let features = config.data()["supportedFeatures"]
        .as_array()
        .unwrap()
        .clone();
    for feature in [
        "EMIT",
        "JOIN",
        "LEAVE",
        "DISCONNECT",
        "MDISCONNECT",
        "AGGREGATED_EVENTS",
    ] {
        assert!(features.contains(&json!(feature)), "{features:?}");
    }
    let all = next(&mut ui, "all_sockets").await;
    let sockets = all.data().as_array().unwrap().clone();
    let in_chat: Vec<&Value> = sockets
        .iter()
        .filter(|socket| socket["nsp"] == "/chat")
        .collect();
    assert_eq!(in_chat.len(), 2, "{sockets:#?}");
    for socket in &in_chat {
        let rooms = socket["rooms"].as_array().unwrap();
        assert_eq!(rooms[0], socket["id"], "its own room first");
        assert!(rooms.contains(&json!("lobby")), "{socket}");
        assert!(socket["handshake"]["headers"].is_object());
        assert_eq!(socket["handshake"]["address"], "127.0.0.1");
    }
    // The UI's own socket is registered after its hooks: it is told of itself right after.
    let itself = next(&mut ui, "socket_connected").await;
    assert_eq!(itself.args[0]["nsp"], "/admin");

    // Live: a socket that connects and joins, as it happens.
    let mut cy = server.client("/chat").await;
    let connected = next(&mut ui, "socket_connected").await;
    assert_eq!(connected.args[0]["nsp"], "/chat");
    let cy_id = connected.args[0]["id"].as_str().unwrap().to_owned();
    assert!(connected.args[1].as_str().unwrap().ends_with('Z'), "a date");
    cy.request(1, "join", json!("den")).await;
    let joined = next(&mut ui, "room_joined").await;
    assert_eq!(
        joined.args[..3],
        [json!("/chat"), json!("den"), json!(cy_id)]
    );

    // The stats, every 2 s.
    let stats = next(&mut ui, "server_stats").await;
    let stats = stats.data();
    assert_eq!(stats["pid"], std::process::id());
    let chat = stats["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|namespace| namespace["name"] == "/chat")
        .unwrap()
        .clone();
    assert_eq!(chat["socketsCount"], 3);
    assert!(stats["aggregatedEvents"].is_array());

    // The UI disconnects cy: the socket is closed, and the UI is told.
    ui.emit_args(
        "_disconnect",
        vec![json!("/chat"), json!(true), json!(cy_id)],
    )
    .await;
    assert!(matches!(
        cy.closed().await,
        nestgate::testing::Closed::Frame(..)
    ));
    let gone = next(&mut ui, "socket_disconnected").await;
    assert_eq!(
        gone.args[..3],
        [
            json!("/chat"),
            json!(cy_id),
            json!("server namespace disconnect")
        ]
    );

    // The UI makes the room's members join another room, and emits to them.
    ui.emit_args("join", vec![json!("/chat"), json!("vip"), json!("lobby")])
        .await;
    ui.emit_args(
        "emit",
        vec![
            json!("/chat"),
            json!("vip"),
            json!("hello"),
            json!("from the UI"),
        ],
    )
    .await;
    let hello = ann.recv().await;
    assert_eq!(
        (&hello["event"], &hello["data"]),
        (&json!("hello"), &json!("from the UI"))
    );
    assert_eq!(next(&mut bob, "hello").await.args, [json!("from the UI")]);

    // The session lets the UI back in without the password.
    let again = SocketIoClient::connect_with_auth(&admin_url, json!({"sessionId": session})).await;
    assert!(again.is_ok());
    drop(ui);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn read_only_and_production_modes_change_nothing_and_say_less() {
    let server = app(AdminConfig::without_auth().readonly().production()).await;
    let mut ann = server.client("/chat").await;
    ann.request(1, "join", json!("lobby")).await;
    let mut ui = SocketIoClient::connect(&server.url("/admin"))
        .await
        .unwrap();
    let config = next(&mut ui, "config").await;
    assert_eq!(
        config.data()["supportedFeatures"],
        json!(["AGGREGATED_EVENTS"])
    );
    // Read-only: a disconnect asked for does nothing.
    ui.emit_args("_disconnect", vec![json!("/chat"), json!(true)])
        .await;
    // Production: no socket list, no per-socket events; the stats count connections.
    let _cy = server.client("/chat").await;
    let stats = next(&mut ui, "server_stats").await;
    let stats = stats.data().clone();
    let counted: u64 = stats["aggregatedEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "rawConnection")
        .map(|event| event["count"].as_u64().unwrap())
        .sum();
    assert!(counted >= 1, "{stats}");
    while let Some(event) = ui.try_recv(Duration::from_millis(300)).await {
        assert!(
            !["all_sockets", "socket_connected", "room_joined"].contains(&event.event.as_str()),
            "{event:?}"
        );
    }
    ann.request(2, "join", json!("still-here")).await;
    server.shutdown().await.unwrap();
}

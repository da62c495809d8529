//! Every supported handler shape compiles.

use futures_util::stream::{self, Stream};
use nestgate::extract::{Event, State};
use nestgate::prelude::*;
use nestgate::{DisconnectReason, Reject};

#[derive(Clone, Default)]
struct Store;

#[derive(Debug)]
struct MyError;

impl From<MyError> for WsException {
    fn from(_: MyError) -> Self {
        WsException::new("my error")
    }
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Message {
    text: String,
}

#[websocket_gateway(path = "/chat")]
#[derive(Default)]
struct Chat;

#[websocket_gateway]
impl Chat {
    #[after_init]
    async fn init(&self, _server: Server) {}

    #[on_connection]
    fn connected(&self, _socket: Socket) -> Result<(), Reject> {
        Ok(())
    }

    #[on_disconnect]
    async fn gone(&self, _socket: Socket, _reason: DisconnectReason) {}

    #[subscribe_message("unit")]
    async fn unit(&self) {}

    #[subscribe_message("value")]
    fn value(&self, Data(message): Data<Message>) -> Message {
        message
    }

    #[subscribe_message("response")]
    fn response(&self, Event(event): Event) -> WsResponse<&'static str> {
        WsResponse::new("response", event)
    }

    #[subscribe_message("option")]
    fn option(&self, _state: State<Store>) -> Option<u8> {
        None
    }

    #[subscribe_message("result")]
    async fn result(&self, _socket: Socket, _server: Server) -> Result<u8, MyError> {
        Err(MyError)
    }

    #[subscribe_message("stream")]
    fn stream(&self) -> impl Stream<Item = u32> + Send + use<> {
        stream::iter([1, 2, 3])
    }

    #[subscribe_message("associated")]
    fn associated(Data(n): Data<u8>) -> u8 {
        n
    }

    /// Not a handler: left alone.
    #[allow(dead_code)]
    fn helper(&self) {}
}

fn main() {
    let _app = nestgate::App::bare().provide(Store).gateway::<Chat>();
}

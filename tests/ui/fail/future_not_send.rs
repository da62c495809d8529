use nestgate::prelude::*;
use std::sync::Mutex;

#[websocket_gateway]
#[derive(Default)]
struct Chat {
    rooms: Mutex<Vec<String>>,
}

#[websocket_gateway]
impl Chat {
    #[subscribe_message("join")]
    async fn join(&self, Data(room): Data<String>) -> usize {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.push(room);
        tokio::task::yield_now().await;
        rooms.len()
    }
}

fn main() {}

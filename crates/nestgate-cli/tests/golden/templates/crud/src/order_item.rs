//! `OrderItemGateway`, at `/order-item`: create, read, update and delete order items over
//! WebSockets, kept in memory (what `nest g resource` makes with the WebSockets transport).
//!
//! Each event answers the sender; send an `id` with the frame to get the answer as an
//! acknowledgement, `{"ack": id, "data": ...}`.
//!
//! - `create` `{"name"}` → the new order item `{"id","name"}`.
//! - `find_all` → every order item, by id.
//! - `find_one` `{"id"}` → that order item.
//! - `update` `{"id","name"}` → the updated order item.
//! - `remove` `{"id"}` → the removed order item.
//!
//! An unknown id is answered with the exception `order item 7 not found`. Replace the
//! in-memory map with your database; the handlers may be `async`.

use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One order item, as stored and as sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// Given by the store on `create`.
    pub id: u64,
    /// What it is called.
    pub name: String,
}

/// The data of `create`.
#[derive(Debug, Deserialize)]
pub struct CreateOrderItem {
    /// What the new order item is called.
    pub name: String,
}

/// The data of `update`: the id and the fields to change.
#[derive(Debug, Deserialize)]
pub struct UpdateOrderItem {
    /// Which order item.
    pub id: u64,
    /// Its new name, if it changes.
    pub name: Option<String>,
}

/// The data of `find_one` and `remove`.
#[derive(Debug, Deserialize)]
pub struct OrderItemId {
    /// Which order item.
    pub id: u64,
}

/// The order items, in memory.
#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    order_items: BTreeMap<u64, OrderItem>,
}

/// The order item resource: one instance, and so one store, serves every client of its path.
#[websocket_gateway(path = "/order-item")]
#[derive(Debug, Default)]
pub struct OrderItemGateway {
    store: Mutex<Store>,
}

#[websocket_gateway]
impl OrderItemGateway {
    /// Stores a new order item and answers it, with its id.
    #[subscribe_message("create")]
    fn create(&self, Data(create): Data<CreateOrderItem>) -> OrderItem {
        let mut store = self.store();
        store.next_id += 1;
        let order_item = OrderItem {
            id: store.next_id,
            name: create.name,
        };
        store.order_items.insert(order_item.id, order_item.clone());
        order_item
    }

    /// Every order item, by id.
    #[subscribe_message("find_all")]
    fn find_all(&self) -> Vec<OrderItem> {
        self.store().order_items.values().cloned().collect()
    }

    /// One order item.
    #[subscribe_message("find_one")]
    fn find_one(
        &self,
        Data(OrderItemId { id }): Data<OrderItemId>,
    ) -> Result<OrderItem, WsException> {
        self.store()
            .order_items
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    /// Changes the fields that `update` carries and answers the result.
    #[subscribe_message("update")]
    fn update(&self, Data(update): Data<UpdateOrderItem>) -> Result<OrderItem, WsException> {
        let mut store = self.store();
        let order_item = store
            .order_items
            .get_mut(&update.id)
            .ok_or_else(|| not_found(update.id))?;
        if let Some(name) = update.name {
            order_item.name = name;
        }
        Ok(order_item.clone())
    }

    /// Removes a order item and answers what it was.
    #[subscribe_message("remove")]
    fn remove(
        &self,
        Data(OrderItemId { id }): Data<OrderItemId>,
    ) -> Result<OrderItem, WsException> {
        self.store()
            .order_items
            .remove(&id)
            .ok_or_else(|| not_found(id))
    }
}

impl OrderItemGateway {
    /// The store, locked. The lock is never held across an `.await`.
    fn store(&self) -> MutexGuard<'_, Store> {
        // Going on after a panic elsewhere is fine: each change to the map is a single step.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The exception for an unknown id.
fn not_found(id: u64) -> WsException {
    WsException::new(format!("order item {id} not found"))
}

#[cfg(test)]
mod tests;

//! `SampleNameGateway`, at `/sample-name`: create, read, update and delete sample names over
//! WebSockets, kept in memory (what `nest g resource` makes with the WebSockets transport).
//!
//! Each event answers the sender; send an `id` with the frame to get the answer as an
//! acknowledgement, `{"ack": id, "data": ...}`.
//!
//! - `create` `{"name"}` → the new sample name `{"id","name"}`.
//! - `find_all` → every sample name, by id.
//! - `find_one` `{"id"}` → that sample name.
//! - `update` `{"id","name"}` → the updated sample name.
//! - `remove` `{"id"}` → the removed sample name.
//!
//! An unknown id is answered with the exception `sample name 7 not found`. Replace the
//! in-memory map with your database; the handlers may be `async`.

use nestgate::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One sample name, as stored and as sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleName {
    /// Given by the store on `create`.
    pub id: u64,
    /// What it is called.
    pub name: String,
}

/// The data of `create`.
#[derive(Debug, Deserialize)]
pub struct CreateSampleName {
    /// What the new sample name is called.
    pub name: String,
}

/// The data of `update`: the id and the fields to change.
#[derive(Debug, Deserialize)]
pub struct UpdateSampleName {
    /// Which sample name.
    pub id: u64,
    /// Its new name, if it changes.
    pub name: Option<String>,
}

/// The data of `find_one` and `remove`.
#[derive(Debug, Deserialize)]
pub struct SampleNameId {
    /// Which sample name.
    pub id: u64,
}

/// The sample names, in memory.
#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    sample_names: BTreeMap<u64, SampleName>,
}

/// The sample name resource: one instance, and so one store, serves every client of its path.
#[websocket_gateway(path = "/sample-name")]
#[derive(Debug, Default)]
pub struct SampleNameGateway {
    store: Mutex<Store>,
}

#[websocket_gateway]
impl SampleNameGateway {
    /// Stores a new sample name and answers it, with its id.
    #[subscribe_message("create")]
    fn create(&self, Data(create): Data<CreateSampleName>) -> SampleName {
        let mut store = self.store();
        store.next_id += 1;
        let sample_name = SampleName {
            id: store.next_id,
            name: create.name,
        };
        store
            .sample_names
            .insert(sample_name.id, sample_name.clone());
        sample_name
    }

    /// Every sample name, by id.
    #[subscribe_message("find_all")]
    fn find_all(&self) -> Vec<SampleName> {
        self.store().sample_names.values().cloned().collect()
    }

    /// One sample name.
    #[subscribe_message("find_one")]
    fn find_one(
        &self,
        Data(SampleNameId { id }): Data<SampleNameId>,
    ) -> Result<SampleName, WsException> {
        self.store()
            .sample_names
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    /// Changes the fields that `update` carries and answers the result.
    #[subscribe_message("update")]
    fn update(&self, Data(update): Data<UpdateSampleName>) -> Result<SampleName, WsException> {
        let mut store = self.store();
        let sample_name = store
            .sample_names
            .get_mut(&update.id)
            .ok_or_else(|| not_found(update.id))?;
        if let Some(name) = update.name {
            sample_name.name = name;
        }
        Ok(sample_name.clone())
    }

    /// Removes a sample name and answers what it was.
    #[subscribe_message("remove")]
    fn remove(
        &self,
        Data(SampleNameId { id }): Data<SampleNameId>,
    ) -> Result<SampleName, WsException> {
        self.store()
            .sample_names
            .remove(&id)
            .ok_or_else(|| not_found(id))
    }
}

impl SampleNameGateway {
    /// The store, locked. The lock is never held across an `.await`.
    fn store(&self) -> MutexGuard<'_, Store> {
        // Going on after a panic elsewhere is fine: each change to the map is a single step.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The exception for an unknown id.
fn not_found(id: u64) -> WsException {
    WsException::new(format!("sample name {id} not found"))
}

#[cfg(test)]
mod tests;

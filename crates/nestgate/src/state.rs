//! Application state: values given to [`App::provide`](crate::App::provide), found by type.

use std::any::{Any, TypeId};
use std::collections::HashMap;

/// The values provided to the app, one per type, read by [`State<T>`](crate::extract::State) and
/// by [`FromAppState`](crate::gateway::FromAppState) when gateways are built.
#[derive(Default)]
pub struct AppState {
    values: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl AppState {
    pub(crate) fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A clone of the provided value of type `T`, if there is one.
    ///
    /// ```
    /// # fn check(state: &nestgate::AppState) {
    /// let pool: Option<std::sync::Arc<String>> = state.get();
    /// # }
    /// ```
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.values
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
            .cloned()
    }

    /// Whether a value of type `T` was provided.
    pub fn contains<T: 'static>(&self) -> bool {
        self.contains_id(TypeId::of::<T>())
    }

    pub(crate) fn contains_id(&self, type_id: TypeId) -> bool {
        self.values.contains_key(&type_id)
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("values", &self.values.len())
            .finish()
    }
}

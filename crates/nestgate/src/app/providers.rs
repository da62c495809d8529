//! Providers: state built from other state when the app starts ([`App::provider`]), in the order
//! their needs allow, a cycle refused naming its types.

use super::App;
use crate::error::{Error, Result};
use crate::gateway::FromAppState;
use crate::state::AppState;

/// A provider not yet built: its type's name and how to build it into the state.
pub(super) struct Provider {
    name: &'static str,
    build: fn(&mut AppState) -> Result<()>,
}

impl App {
    /// Provides state of type `T`, built from the other provided state when the app starts — a
    /// service that needs a repository, a repository that needs a pool — as NestJS builds its
    /// providers. `T` is built by [`FromAppState`] (`#[derive(FromAppState)]`, its `#[inject]`
    /// fields taken from the state); providers are built after every [`App::provide`]d value, in
    /// the order their needs allow. A need nobody provides, or providers that need each other,
    /// stop the app at [`bind`](App::bind), naming the types.
    ///
    /// ```
    /// use nestgate::gateway::FromAppState;
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[derive(Clone, Default)]
    /// struct Db(Arc<Mutex<Vec<u64>>>);
    ///
    /// /// A service built from the database, injected into gateways and other services.
    /// #[derive(Clone, FromAppState)]
    /// struct Bids {
    ///     #[inject]
    ///     db: Db,
    /// }
    ///
    /// impl Bids {
    ///     fn place(&self, amount: u64) -> usize {
    ///         let mut bids = self.db.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    ///         bids.push(amount);
    ///         bids.len()
    ///     }
    /// }
    ///
    /// let app = nestgate::App::bare().provider::<Bids>().provide(Db::default());
    /// # let _ = app;
    /// ```
    pub fn provider<T: FromAppState + Clone + Send + Sync + 'static>(mut self) -> Self {
        self.providers.push(Provider {
            name: std::any::type_name::<T>(),
            build: build::<T>,
        });
        self
    }
}

fn build<T: FromAppState + Clone + Send + Sync + 'static>(state: &mut AppState) -> Result<()> {
    let value = T::from_app_state(state)?;
    state.insert(value);
    Ok(())
}

/// Builds every provider into `state`: each pass builds those whose needs are met (a provider
/// whose `from_app_state` found a need missing is tried again in the next pass, so a hand-written
/// `FromAppState` may be called more than once); a pass that builds none ends it.
pub(super) fn build_all(state: &mut AppState, mut pending: Vec<Provider>) -> Result<()> {
    while !pending.is_empty() {
        let mut waiting = Vec::new();
        let before = pending.len();
        for provider in pending {
            match (provider.build)(state) {
                Ok(()) => {}
                Err(Error::MissingState { type_name, .. }) => waiting.push((provider, type_name)),
                Err(other) => return Err(other),
            }
        }
        if waiting.len() == before {
            return Err(stuck(&waiting));
        }
        pending = waiting.into_iter().map(|(provider, _)| provider).collect();
    }
    Ok(())
}

/// Why no provider of `waiting` (each with the type it lacks) can be built: a type that no
/// provider builds, or a cycle among them.
fn stuck(waiting: &[(Provider, &'static str)]) -> Error {
    let provider_of = |type_name: &str| waiting.iter().position(|(p, _)| p.name == type_name);
    if let Some((provider, missing)) = waiting
        .iter()
        .find(|(_, missing)| provider_of(missing).is_none())
    {
        return Error::MissingState {
            needed_by: provider.name,
            type_name: missing,
        };
    }
    // Every provider waits for another: following the needs from the first one must come back
    // to a provider already seen, which is where the cycle starts.
    let mut path = vec![0];
    let mut current = 0;
    loop {
        let Some(next) = provider_of(waiting[current].1) else {
            unreachable!("every missing type is a waiting provider's, checked above")
        };
        if let Some(start) = path.iter().position(|&index| index == next) {
            let mut cycle: Vec<&'static str> = path[start..]
                .iter()
                .map(|&index| waiting[index].0.name)
                .collect();
            cycle.push(waiting[next].0.name);
            return Error::ProviderCycle(cycle);
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::require;

    #[derive(Clone)]
    struct A(u8);
    #[derive(Clone)]
    struct B(u8);
    #[derive(Clone)]
    struct C(u8);

    impl FromAppState for A {
        fn from_app_state(state: &AppState) -> Result<Self> {
            Ok(A(require::<B>(state, "A")?.0 + 1))
        }
    }
    impl FromAppState for B {
        fn from_app_state(state: &AppState) -> Result<Self> {
            Ok(B(require::<C>(state, "B")?.0 + 1))
        }
    }
    impl FromAppState for C {
        fn from_app_state(state: &AppState) -> Result<Self> {
            Ok(C(require::<u8>(state, "C")?))
        }
    }

    fn provider<T: FromAppState + Clone + Send + Sync + 'static>() -> Provider {
        Provider {
            name: std::any::type_name::<T>(),
            build: build::<T>,
        }
    }

    #[test]
    fn providers_are_built_in_the_order_their_needs_allow() {
        let mut state = AppState::default();
        state.insert(1u8);
        let pending = vec![provider::<A>(), provider::<B>(), provider::<C>()];
        build_all(&mut state, pending).expect("every need is met");
        assert_eq!(state.get::<A>().map(|a| a.0), Some(3));
    }

    #[test]
    fn a_need_nobody_provides_names_the_provider_and_the_type() {
        let mut state = AppState::default();
        let err = build_all(
            &mut state,
            vec![provider::<A>(), provider::<B>(), provider::<C>()],
        )
        .expect_err("u8 is missing");
        assert_eq!(
            err.to_string(),
            format!(
                "{} needs state of type u8; provide it with App::provide or App::provider",
                std::any::type_name::<C>()
            )
        );
    }

    #[derive(Clone)]
    struct X;
    #[derive(Clone)]
    struct Y;
    impl FromAppState for X {
        fn from_app_state(state: &AppState) -> Result<Self> {
            require::<Y>(state, std::any::type_name::<X>()).map(|_| X)
        }
    }
    impl FromAppState for Y {
        fn from_app_state(state: &AppState) -> Result<Self> {
            require::<X>(state, std::any::type_name::<Y>()).map(|_| Y)
        }
    }

    #[test]
    fn a_cycle_is_refused_naming_its_types() {
        let mut state = AppState::default();
        state.insert(1u8);
        let pending = vec![provider::<C>(), provider::<X>(), provider::<Y>()];
        let err = build_all(&mut state, pending).expect_err("X and Y need each other");
        let x = std::any::type_name::<X>();
        let y = std::any::type_name::<Y>();
        assert_eq!(
            err.to_string(),
            format!("providers need each other in a cycle: {x} -> {y} -> {x}")
        );
        assert!(
            state.contains::<C>(),
            "C was built before the cycle was found"
        );
    }
}

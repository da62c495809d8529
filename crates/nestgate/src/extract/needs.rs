//! [`Needs`]: what a handler's extractors need from the app, declared by the extractors and
//! checked once, when the app is built, instead of on every message.

use std::any::TypeId;

/// What a handler's extractors need from the app: provided state ([`State<T>`]) and values a
/// handshake guard stores on the socket ([`Extension<T>`]).
///
/// `#[subscribe_message]` asks each argument's extractor
/// ([`FromMessageParts::needs`](super::FromMessageParts::needs)) when the gateway is built;
/// [`App::bind`](crate::App::bind) then refuses to start when a `State<T>` was never provided,
/// naming the handler and the type, and warns when an `Extension<T>` is read on a path that no
/// handshake guard guards. An extractor of your own that reads provided state declares it:
///
/// ```
/// use nestgate::extract::{FromMessageParts, MessageParts, Needs, State};
/// use nestgate::WsException;
///
/// #[derive(Clone)]
/// struct Pool;
///
/// /// A connection from the provided pool.
/// struct Conn;
///
/// impl FromMessageParts for Conn {
///     type Rejection = WsException;
///
///     async fn from_message_parts(parts: &MessageParts) -> Result<Self, WsException> {
///         let State(_pool) = State::<Pool>::from_message_parts(parts).await?;
///         Ok(Conn)
///     }
///
///     fn needs(needs: &mut Needs) {
///         needs.state::<Pool>();
///     }
/// }
/// ```
///
/// [`State<T>`]: super::State
/// [`Extension<T>`]: super::Extension
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub(crate) states: Vec<Need>,
    pub(crate) extensions: Vec<Need>,
}

/// One needed type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Need {
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
}

impl Need {
    fn of<T: 'static>() -> Self {
        Need {
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
        }
    }
}

impl Needs {
    /// The handler reads provided state of type `T` (given to [`App::provide`](crate::App::provide)
    /// or built by [`App::provider`](crate::App::provider)).
    pub fn state<T: 'static>(&mut self) {
        push(&mut self.states, Need::of::<T>());
    }

    /// The handler reads a socket extension of type `T`, stored by a handshake guard or a hook.
    pub fn extension<T: 'static>(&mut self) {
        push(&mut self.extensions, Need::of::<T>());
    }
}

fn push(list: &mut Vec<Need>, need: Need) {
    if !list.iter().any(|known| known.type_id == need.type_id) {
        list.push(need);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_needed_once() {
        let mut needs = Needs::default();
        needs.state::<u8>();
        needs.state::<u8>();
        needs.state::<String>();
        needs.extension::<u8>();
        let names: Vec<_> = needs.states.iter().map(|n| n.type_name).collect();
        assert_eq!(names, ["u8", "alloc::string::String"]);
        assert_eq!(needs.extensions.len(), 1);
    }
}

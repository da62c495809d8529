//! The parsed, validated model of a `#[websocket_gateway]` impl block.

use crate::attr::{self, MethodAttr, Pipeline, PipelineAttr};
use crate::ctxt::Ctxt;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, LitStr, ReturnType, Type};

/// One `#[websocket_gateway] impl Gateway { ... }` block.
pub(crate) struct GatewayImpl<'a> {
    pub(crate) original: &'a ItemImpl,
    pub(crate) handlers: Vec<Handler<'a>>,
    pub(crate) after_init: Option<Method<'a>>,
    pub(crate) on_connection: Option<Method<'a>>,
    pub(crate) on_disconnect: Option<Method<'a>>,
    /// `#[use_guards]`, `#[use_layers]`, `#[use_filters]` on the impl block.
    pub(crate) pipeline: Pipeline,
}

/// A method of the impl block that one of our attributes marks.
pub(crate) struct Method<'a> {
    pub(crate) original: &'a ImplItemFn,
    /// The argument types, without the receiver.
    pub(crate) args: Vec<&'a Type>,
}

impl Method<'_> {
    pub(crate) fn has_receiver(&self) -> bool {
        self.original.sig.receiver().is_some()
    }

    pub(crate) fn is_async(&self) -> bool {
        self.original.sig.asyncness.is_some()
    }

    pub(crate) fn ident(&self) -> &syn::Ident {
        &self.original.sig.ident
    }

    pub(crate) fn output(&self) -> &ReturnType {
        &self.original.sig.output
    }
}

/// A `#[subscribe_message("event")]` method.
pub(crate) struct Handler<'a> {
    pub(crate) event: LitStr,
    pub(crate) method: Method<'a>,
    /// The handler's own guards, layers and filters.
    pub(crate) pipeline: Pipeline,
}

impl<'a> GatewayImpl<'a> {
    /// Builds the model, reporting every mistake at once.
    pub(crate) fn from_syn(original: &'a ItemImpl) -> syn::Result<Self> {
        let cx = Ctxt::new();
        if let Some((_, path, _)) = &original.trait_ {
            cx.error_spanned_by(
                path,
                "#[websocket_gateway] goes on the gateway's own impl block, not on a trait impl",
            );
        }
        if !original.generics.params.is_empty() {
            cx.error_spanned_by(&original.generics, "a gateway impl block cannot be generic");
        }
        let pipeline = Pipeline::from_attrs(&original.attrs).unwrap_or_else(|err| {
            cx.syn_error(err);
            Pipeline::default()
        });
        let mut gateway = GatewayImpl {
            original,
            handlers: Vec::new(),
            after_init: None,
            on_connection: None,
            on_disconnect: None,
            pipeline,
        };
        for item in &original.items {
            let ImplItem::Fn(function) = item else {
                continue;
            };
            gateway.collect_method(&cx, function);
        }
        cx.check()?;
        Ok(gateway)
    }

    fn collect_method(&mut self, cx: &Ctxt, function: &'a ImplItemFn) {
        let mut kinds = function
            .attrs
            .iter()
            .filter_map(|a| MethodAttr::of(a).map(|k| (a, k)));
        let Some((attr, kind)) = kinds.next() else {
            if let Some(stray) = function
                .attrs
                .iter()
                .find(|a| PipelineAttr::of(a).is_some())
            {
                cx.error_spanned_by(
                    stray,
                    "guards, layers and filters go on a `#[subscribe_message]` handler or on the impl block",
                );
            }
            return;
        };
        for (extra, _) in kinds {
            cx.error_spanned_by(extra, "a method can carry only one nestgate attribute");
        }
        let Some(method) = Method::from_syn(cx, function, kind) else {
            return;
        };
        let pipeline = match Pipeline::from_attrs(&function.attrs) {
            Ok(pipeline) => pipeline,
            Err(err) => {
                cx.syn_error(err);
                Pipeline::default()
            }
        };
        if kind != MethodAttr::SubscribeMessage
            && let Some(stray) = function
                .attrs
                .iter()
                .find(|a| PipelineAttr::of(a).is_some())
        {
            cx.error_spanned_by(
                stray,
                format!(
                    "guards, layers and filters apply to handlers, not to `#[{}]`; put filters for the connection hook on the impl block",
                    kind.name()
                ),
            );
        }
        match kind {
            MethodAttr::SubscribeMessage => match attr::event_name(attr) {
                Ok(event) => self.add_handler(cx, event, method, pipeline),
                Err(err) => cx.syn_error(err),
            },
            MethodAttr::AfterInit => set_hook(cx, attr, kind, &mut self.after_init, method, 1),
            MethodAttr::OnConnection => {
                set_hook(cx, attr, kind, &mut self.on_connection, method, 1)
            }
            MethodAttr::OnDisconnect => {
                set_hook(cx, attr, kind, &mut self.on_disconnect, method, 2)
            }
        }
    }

    fn add_handler(&mut self, cx: &Ctxt, event: LitStr, method: Method<'a>, pipeline: Pipeline) {
        if let Some(first) = self
            .handlers
            .iter()
            .find(|h| h.event.value() == event.value())
        {
            cx.error_spanned_by(
                &event,
                format!(
                    "event \"{}\" is already handled by `{}` in this gateway",
                    event.value(),
                    first.method.ident()
                ),
            );
            return;
        }
        self.handlers.push(Handler {
            event,
            method,
            pipeline,
        });
    }
}

fn set_hook<'a>(
    cx: &Ctxt,
    attr: &syn::Attribute,
    kind: MethodAttr,
    slot: &mut Option<Method<'a>>,
    method: Method<'a>,
    max_args: usize,
) {
    if let Err(err) = attr::no_arguments(attr, kind) {
        cx.syn_error(err);
    }
    if slot.is_some() {
        cx.error_spanned_by(
            attr,
            format!("a gateway has at most one `#[{}]` hook", kind.name()),
        );
        return;
    }
    if method.args.len() > max_args {
        let expected = match kind {
            MethodAttr::AfterInit => "`(&self)` or `(&self, server: Server)`",
            MethodAttr::OnConnection => "`(&self)` or `(&self, socket: Socket)`",
            _ => {
                "`(&self)`, `(&self, socket: Socket)` or `(&self, socket: Socket, reason: DisconnectReason)`"
            }
        };
        cx.error_spanned_by(
            &method.original.sig.inputs,
            format!("`#[{}]` hooks take {expected}", kind.name()),
        );
        return;
    }
    *slot = Some(method);
}

impl<'a> Method<'a> {
    fn from_syn(cx: &Ctxt, original: &'a ImplItemFn, kind: MethodAttr) -> Option<Self> {
        let sig = &original.sig;
        let mut ok = true;
        if !sig.generics.params.is_empty() {
            cx.error_spanned_by(
                &sig.generics,
                format!("a `#[{}]` method cannot be generic", kind.name()),
            );
            ok = false;
        }
        let mut args = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(receiver) => {
                    if receiver.reference.is_none() || receiver.mutability.is_some() {
                        cx.error_spanned_by(
                            receiver,
                            "gateway methods take `&self`: one gateway instance serves every connection",
                        );
                        ok = false;
                    }
                }
                FnArg::Typed(typed) => args.push(&*typed.ty),
            }
        }
        if kind == MethodAttr::SubscribeMessage {
            // A consuming extractor reads the message payload, so it must come last, as in axum.
            for ty in args.iter().rev().skip(1) {
                if let Some(name) = consuming_extractor(ty) {
                    cx.error_spanned_by(
                        ty,
                        format!(
                            "`{name}<_>` consumes the message payload and thus must be the last argument to the handler"
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(Method { original, args })
    }
}

/// The names of nestgate's extractors that consume the payload (implement only `FromMessage`).
fn consuming_extractor(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    ["Data", "Valid", "Args"]
        .into_iter()
        .find(|name| last.ident == name)
        .map(str::to_owned)
}

/// Whether a return type is spelled `Result<...>` (including aliases such as `nestgate::Result`).
pub(crate) fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::Path(path) = &**ty else {
        return false;
    };
    path.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "Result")
}

/// Whether a return type is absent or `()`.
pub(crate) fn returns_unit(output: &ReturnType) -> bool {
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    }
}

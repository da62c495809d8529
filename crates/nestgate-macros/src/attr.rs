//! Parsing of attribute arguments: `#[websocket_gateway(path = "/chat")]` and
//! `#[subscribe_message("event")]`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, LitStr, Token};

mod kw {
    syn::custom_keyword!(path);
    syn::custom_keyword!(handshake_guards);
    syn::custom_keyword!(namespace);
}

/// The options of `#[websocket_gateway(...)]` on a struct.
#[derive(Default)]
pub(crate) struct GatewayOptions {
    /// `path = "/chat"`: the URL path the gateway's WebSocket is served on.
    pub(crate) path: Option<LitStr>,
    /// `handshake_guards(A, B::new())`: guards of the upgrade request on this gateway's path.
    pub(crate) handshake_guards: Vec<Expr>,
}

impl Parse for GatewayOptions {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = GatewayOptions::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::path) || lookahead.peek(kw::namespace) {
                // `namespace` is NestJS's name for it; `chat` means `/chat`.
                let key: syn::Ident = input.call(syn::ext::IdentExt::parse_any)?;
                input.parse::<Token![=]>()?;
                let mut value: LitStr = input.parse()?;
                if options.path.is_some() {
                    return Err(syn::Error::new_spanned(
                        key,
                        "duplicate gateway option: give one `path` (or `namespace`)",
                    ));
                }
                if key == "namespace" && !value.value().starts_with('/') {
                    value = LitStr::new(&format!("/{}", value.value()), value.span());
                }
                let path = value.value();
                if !path.starts_with('/') {
                    return Err(syn::Error::new_spanned(
                        &value,
                        "a gateway path must start with `/`, e.g. `path = \"/chat\"`",
                    ));
                }
                options.path = Some(value);
            } else if lookahead.peek(kw::handshake_guards) {
                let key = input.parse::<kw::handshake_guards>()?;
                let content;
                syn::parenthesized!(content in input);
                let guards = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
                if !options.handshake_guards.is_empty() {
                    return Err(syn::Error::new_spanned(
                        key,
                        "duplicate gateway option `handshake_guards`; list every guard in one",
                    ));
                }
                options.handshake_guards = guards.into_iter().collect();
            } else if input.peek(syn::Ident) {
                let unknown: syn::Ident = input.parse()?;
                return Err(syn::Error::new_spanned(
                    &unknown,
                    format!(
                        "unknown gateway option `{unknown}`; expected `path`, `namespace` or `handshake_guards`"
                    ),
                ));
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(options)
    }
}

/// Which of our attributes a method attribute is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodAttr {
    SubscribeMessage,
    AfterInit,
    OnConnection,
    OnDisconnect,
}

impl MethodAttr {
    /// The attribute's name as the user writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            MethodAttr::SubscribeMessage => "subscribe_message",
            MethodAttr::AfterInit => "after_init",
            MethodAttr::OnConnection => "on_connection",
            MethodAttr::OnDisconnect => "on_disconnect",
        }
    }

    /// Recognizes `#[subscribe_message]`, `#[nestgate::subscribe_message]` and the hooks.
    pub(crate) fn of(attr: &Attribute) -> Option<MethodAttr> {
        let last = attr.path().segments.last()?;
        [
            MethodAttr::SubscribeMessage,
            MethodAttr::AfterInit,
            MethodAttr::OnConnection,
            MethodAttr::OnDisconnect,
        ]
        .into_iter()
        .find(|kind| last.ident == kind.name())
    }
}

/// Parses the event name of `#[subscribe_message("event")]`.
pub(crate) fn event_name(attr: &Attribute) -> syn::Result<LitStr> {
    const HINT: &str = "write the event name as a string: #[subscribe_message(\"event\")]";
    let list = match &attr.meta {
        syn::Meta::List(list) if !list.tokens.is_empty() => list,
        _ => {
            return Err(syn::Error::new_spanned(
                attr,
                format!("missing event name; {HINT}"),
            ));
        }
    };
    let lit: syn::Lit = syn::parse2(list.tokens.clone()).map_err(|_| {
        syn::Error::new_spanned(&list.tokens, format!("expected a string literal; {HINT}"))
    })?;
    let syn::Lit::Str(name) = lit else {
        return Err(syn::Error::new_spanned(
            lit,
            format!("the event name must be a string literal; {HINT}"),
        ));
    };
    if name.value().is_empty() {
        return Err(syn::Error::new_spanned(
            &name,
            "the event name must not be empty",
        ));
    }
    Ok(name)
}

/// Rejects arguments on a hook attribute such as `#[on_connection(...)]`.
pub(crate) fn no_arguments(attr: &Attribute, kind: MethodAttr) -> syn::Result<()> {
    match &attr.meta {
        syn::Meta::Path(_) => Ok(()),
        _ => Err(syn::Error::new_spanned(
            attr,
            format!("`#[{}]` takes no arguments", kind.name()),
        )),
    }
}

/// The pipeline attributes, on a handler or on the impl block: guards, layers, filters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PipelineAttr {
    Guards,
    Layers,
    Filters,
}

impl PipelineAttr {
    /// The attribute's name as the user writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PipelineAttr::Guards => "use_guards",
            PipelineAttr::Layers => "use_layers",
            PipelineAttr::Filters => "use_filters",
        }
    }

    /// Recognizes `#[use_guards(...)]`, `#[nestgate::use_layers(...)]`, ...
    pub(crate) fn of(attr: &Attribute) -> Option<PipelineAttr> {
        let last = attr.path().segments.last()?;
        [
            PipelineAttr::Guards,
            PipelineAttr::Layers,
            PipelineAttr::Filters,
        ]
        .into_iter()
        .find(|kind| last.ident == kind.name())
    }
}

/// The guards, layers and filters one item (a handler or the impl block) declares.
#[derive(Default)]
pub(crate) struct Pipeline {
    pub(crate) guards: Vec<Expr>,
    pub(crate) layers: Vec<Expr>,
    pub(crate) filters: Vec<Expr>,
}

impl Pipeline {
    /// Reads every pipeline attribute of `attrs` (several of one kind add up, in order).
    pub(crate) fn from_attrs(attrs: &[Attribute]) -> syn::Result<Pipeline> {
        let mut pipeline = Pipeline::default();
        for attr in attrs {
            let Some(kind) = PipelineAttr::of(attr) else {
                continue;
            };
            let exprs = match &attr.meta {
                syn::Meta::List(list) if !list.tokens.is_empty() => {
                    list.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated)?
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        attr,
                        format!(
                            "`#[{}]` lists one or more values: `#[{}(A, B::new(..))]`",
                            kind.name(),
                            kind.name()
                        ),
                    ));
                }
            };
            let target = match kind {
                PipelineAttr::Guards => &mut pipeline.guards,
                PipelineAttr::Layers => &mut pipeline.layers,
                PipelineAttr::Filters => &mut pipeline.filters,
            };
            target.extend(exprs);
        }
        Ok(pipeline)
    }
}

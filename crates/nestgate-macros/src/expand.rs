//! Code generation. Generated code names only `::nestgate::...` items and `__nestgate_` idents.

use crate::ast::{self, GatewayImpl, Handler, Method};
use crate::attr::{GatewayOptions, Pipeline};
use crate::fallback;
use crate::inject;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Item, ItemStruct};

/// Prints the expansion when `NESTGATE_MACROS_DEBUG` is set.
pub(crate) fn debug(name: &str, tokens: TokenStream) -> TokenStream {
    if std::env::var_os("NESTGATE_MACROS_DEBUG").is_some() {
        eprintln!("#[{name}] expands to:\n{tokens}\n");
    }
    tokens
}

/// `#[websocket_gateway]`: options on a struct, handler collection on an impl block.
pub(crate) fn websocket_gateway(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(err) => return fallback::with_error(err, input),
    };
    match item {
        Item::Struct(item) => gateway_struct(args, &item).unwrap_or_else(|err| {
            let mut tokens = err.to_compile_error();
            let item = inject::strip(&item);
            tokens.extend(quote!(#item));
            tokens
        }),
        Item::Impl(item) => {
            if !args.is_empty() {
                let err = syn::Error::new_spanned(
                    &args,
                    "gateway options go on the struct: `#[websocket_gateway(path = \"/chat\")] struct ...`; the impl block takes none",
                );
                return fallback::impl_with_error(err, &item);
            }
            match GatewayImpl::from_syn(&item) {
                Ok(gateway) => gateway_impl(&gateway),
                Err(err) => fallback::impl_with_error(err, &item),
            }
        }
        other => fallback::with_error(
            syn::Error::new_spanned(
                &other,
                "#[websocket_gateway] goes on a struct (with its options) and on that struct's impl block",
            ),
            input,
        ),
    }
}

fn gateway_struct(args: TokenStream, item: &ItemStruct) -> syn::Result<TokenStream> {
    let options: GatewayOptions = syn::parse2(args)?;
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a gateway struct cannot be generic",
        ));
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let (item, from_app_state) = if inject::wanted(item)? {
        let impl_ = inject::from_app_state(ident, &item.generics, &item.fields)?;
        (inject::strip(item), Some(impl_))
    } else {
        (item.clone(), None)
    };
    let path = options
        .path
        .unwrap_or_else(|| syn::LitStr::new("/", Span::call_site()));
    let handshake_guards = (!options.handshake_guards.is_empty()).then(|| {
        let guards = options.handshake_guards.iter().map(|guard| {
            quote_spanned!(guard.span()=> ::nestgate::guard::BoxedHandshakeGuard::new(#guard))
        });
        quote! {
            fn handshake_guards() -> ::std::vec::Vec<::nestgate::guard::BoxedHandshakeGuard> {
                ::std::vec![#(#guards),*]
            }
        }
    });
    Ok(quote! {
        #item

        impl ::nestgate::gateway::GatewayMeta for #ident {
            const NAME: &'static str = #name;
            const PATH: &'static str = #path;
            #handshake_guards
        }

        #from_app_state

        ::nestgate::__private::inventory::submit! {
            ::nestgate::gateway::GatewayRegistration::of::<#ident>()
        }
    })
}

fn gateway_impl(gateway: &GatewayImpl<'_>) -> TokenStream {
    let stripped = fallback::strip_attributes(gateway.original);
    let self_ty = &gateway.original.self_ty;
    let handlers = gateway.handlers.iter().map(handler_def);
    let after_init = gateway.after_init.as_ref().map(after_init);
    let on_connection = gateway.on_connection.as_ref().map(on_connection);
    let on_disconnect = gateway.on_disconnect.as_ref().map(on_disconnect);
    let pipeline = gateway_pipeline(&gateway.pipeline);
    quote! {
        #stripped

        const _: () = {
            impl ::nestgate::gateway::GatewayHandlers for #self_ty {
                fn handlers() -> ::std::vec::Vec<::nestgate::gateway::HandlerDef<Self>> {
                    ::std::vec![#(#handlers),*]
                }
                #after_init
                #on_connection
                #on_disconnect
                #pipeline
            }
        };
    }
}

/// The gateway-wide guards, layers and filters, as `GatewayHandlers` methods.
fn gateway_pipeline(pipeline: &Pipeline) -> TokenStream {
    let mut out = TokenStream::new();
    if !pipeline.guards.is_empty() {
        let guards = pipeline
            .guards
            .iter()
            .map(|guard| quote_spanned!(guard.span()=> ::nestgate::guard::BoxedGuard::new(#guard)));
        out.extend(quote! {
            fn guards() -> ::std::vec::Vec<::nestgate::guard::BoxedGuard> {
                ::std::vec![#(#guards),*]
            }
        });
    }
    if !pipeline.layers.is_empty() {
        let layers = layer_calls(&pipeline.layers);
        out.extend(quote! {
            fn layers(
                handler: ::nestgate::gateway::HandlerDef<Self>,
            ) -> ::nestgate::gateway::HandlerDef<Self> {
                handler #(#layers)*
            }
        });
    }
    if !pipeline.filters.is_empty() {
        let filters = pipeline.filters.iter().map(
            |filter| quote_spanned!(filter.span()=> ::nestgate::filter::BoxedFilter::new(#filter)),
        );
        out.extend(quote! {
            fn filters() -> ::std::vec::Vec<::nestgate::filter::BoxedFilter> {
                ::std::vec![#(#filters),*]
            }
        });
    }
    out
}

/// `.layer(..)` calls, innermost first: the first layer listed ends up outermost.
fn layer_calls(layers: &[syn::Expr]) -> Vec<TokenStream> {
    layers
        .iter()
        .rev()
        .map(|layer| quote_spanned!(layer.span()=> .layer(#layer)))
        .collect()
}

/// A handler's own guards, layers and filters, as `HandlerDef` builder calls.
fn handler_pipeline(pipeline: &Pipeline) -> TokenStream {
    let guards = pipeline
        .guards
        .iter()
        .map(|guard| quote_spanned!(guard.span()=> .guard(#guard)));
    let layers = layer_calls(&pipeline.layers);
    let filters = pipeline
        .filters
        .iter()
        .map(|filter| quote_spanned!(filter.span()=> .filter(#filter)));
    quote!(#(#guards)* #(#layers)* #(#filters)*)
}

/// The call of a gateway method, with `.await` when it is async.
fn call(method: &Method<'_>, receiver: &TokenStream, args: &[TokenStream]) -> TokenStream {
    let ident = method.ident();
    let call = if method.has_receiver() {
        // A path call: a user method named like a trait method (`on_connection`) must not
        // resolve to `GatewayHandlers::on_connection` on the `Arc<Self>` receiver.
        quote!(Self::#ident(&*#receiver, #(#args),*))
    } else {
        quote!(Self::#ident(#(#args),*))
    };
    if method.is_async() {
        quote!(#call.await)
    } else {
        call
    }
}

fn handler_def(handler: &Handler<'_>) -> TokenStream {
    let method = &handler.method;
    let event = &handler.event;
    let method_name = method.ident().to_string();
    let count = method.args.len();
    let mut extractions = Vec::with_capacity(count);
    let mut needs = Vec::with_capacity(count);
    let mut names = Vec::with_capacity(count);
    for (index, ty) in method.args.iter().enumerate() {
        let name = format_ident!("__nestgate_arg{}", index);
        // Spanned at the argument's type, so a type that is no extractor is reported there.
        let (extract, need) = if index + 1 == count {
            (
                quote_spanned! {ty.span()=>
                    <#ty as ::nestgate::extract::FromMessage<_>>::from_message(&__nestgate_parts, __nestgate_payload)
                },
                quote_spanned! {ty.span()=>
                    <#ty as ::nestgate::extract::FromMessage<_>>::needs(__nestgate_needs);
                },
            )
        } else {
            (
                quote_spanned! {ty.span()=>
                    <#ty as ::nestgate::extract::FromMessageParts>::from_message_parts(&__nestgate_parts)
                },
                quote_spanned! {ty.span()=>
                    <#ty as ::nestgate::extract::FromMessageParts>::needs(__nestgate_needs);
                },
            )
        };
        needs.push(need);
        extractions.push(quote! {
            let #name = match #extract.await {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(rejection) => {
                    return ::nestgate::__private::rejected(rejection);
                }
            };
        });
        names.push(quote!(#name));
    }
    let unused_payload = (count == 0).then(|| quote!(let _ = __nestgate_payload;));
    let call = call(method, &quote!(__nestgate_gateway), &names);
    let reply = reply(method.output());
    let pipeline = handler_pipeline(&handler.pipeline);
    let needs = (count > 0).then(|| {
        quote! {
            .needs(|__nestgate_needs: &mut ::nestgate::extract::Needs| { #(#needs)* })
        }
    });
    // Spanned at the handler's signature, so a future that is not `Send` (a lock guard held
    // across an `.await`) is reported at the handler, not at `#[websocket_gateway]`.
    let signature = method.original.sig.fn_token.span;
    // Only the closure and its async block: the statements inside stay the macro's own, out of
    // the lints of the user's code.
    let statements = quote! {
        let (__nestgate_parts, __nestgate_payload) = __nestgate_message.into_parts();
        #unused_payload
        #(#extractions)*
        let __nestgate_ret = #call;
        #reply
    };
    let body = quote_spanned! {signature=>
        |__nestgate_gateway: ::std::sync::Arc<Self>, __nestgate_message: ::nestgate::extract::Message| async move {
            #statements
        }
    };
    let def = quote_spanned! {signature=>
        ::nestgate::gateway::HandlerDef::new(#event, #method_name, #body)
    };
    quote! {
        #def
        #needs
        #pipeline
    }
}

/// Turns the handler's return value into a `Reply`.
fn reply(output: &syn::ReturnType) -> TokenStream {
    let span = match output {
        syn::ReturnType::Default => Span::call_site(),
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    if ast::returns_unit(output) {
        quote!({
            let () = __nestgate_ret;
            ::nestgate::Reply::none()
        })
    } else if ast::returns_result(output) {
        // Autoref specialization on the error: `Into<WsException>` first, else `std::error::Error`.
        // Either way the error stays typed for the exception filters.
        quote_spanned! {span=>
            match __nestgate_ret {
                ::core::result::Result::Ok(value) => ::nestgate::__private::ok_reply(value),
                ::core::result::Result::Err(error) => {
                    #[allow(unused_imports)]
                    use ::nestgate::__private::{ErrViaError as _, ErrViaInto as _};
                    (&&::nestgate::__private::ErrTag::new(error)).__nestgate_failure()
                }
            }
        }
    } else {
        // A `Stream` becomes one frame per item, a `Serialize` value one frame: the trait's
        // marker is inferred, and a type that is neither is reported at the return type.
        quote_spanned!(span=> ::nestgate::__private::into_reply(__nestgate_ret))
    }
}

fn after_init(method: &Method<'_>) -> TokenStream {
    let args: Vec<TokenStream> = if method.args.is_empty() {
        vec![]
    } else {
        vec![quote!(server)]
    };
    let call = call(method, &quote!(self), &args);
    quote! {
        fn after_init(
            self: ::std::sync::Arc<Self>,
            server: ::nestgate::Server,
        ) -> ::nestgate::__private::BoxFuture<'static, ()> {
            let _ = &server;
            ::std::boxed::Box::pin(async move {
                let () = #call;
            })
        }
    }
}

fn on_connection(method: &Method<'_>) -> TokenStream {
    let args: Vec<TokenStream> = if method.args.is_empty() {
        vec![]
    } else {
        vec![quote!(socket)]
    };
    let call = call(method, &quote!(self), &args);
    let span = method.output().span();
    let convert = if ast::returns_result(method.output()) {
        // Autoref specialization on the error, as for handlers: `Into<Reject>` first, else
        // `std::error::Error`; typed either way for the gateway's and the app's filters.
        quote_spanned! {span=>
            match __nestgate_ret {
                ::core::result::Result::Ok(()) => ::core::result::Result::Ok(()),
                ::core::result::Result::Err(error) => {
                    #[allow(unused_imports)]
                    use ::nestgate::__private::{RejectViaError as _, RejectViaInto as _};
                    ::core::result::Result::Err(
                        (&&::nestgate::__private::ErrTag::new(error)).__nestgate_reject(),
                    )
                }
            }
        }
    } else {
        quote_spanned!(span=> ::nestgate::__private::connect_result(__nestgate_ret))
    };
    quote! {
        fn on_connection(
            self: ::std::sync::Arc<Self>,
            socket: ::nestgate::Socket,
        ) -> ::nestgate::__private::BoxFuture<
            'static,
            ::core::result::Result<(), ::nestgate::filter::Failure<::nestgate::Reject>>,
        > {
            let _ = &socket;
            ::std::boxed::Box::pin(async move {
                let __nestgate_ret = #call;
                #convert
            })
        }
    }
}

fn on_disconnect(method: &Method<'_>) -> TokenStream {
    let args: Vec<TokenStream> = [quote!(socket), quote!(reason)]
        .into_iter()
        .take(method.args.len())
        .collect();
    let call = call(method, &quote!(self), &args);
    quote! {
        fn on_disconnect(
            self: ::std::sync::Arc<Self>,
            socket: ::nestgate::Socket,
            reason: ::nestgate::DisconnectReason,
        ) -> ::nestgate::__private::BoxFuture<'static, ()> {
            let _ = (&socket, &reason);
            ::std::boxed::Box::pin(async move {
                let () = #call;
            })
        }
    }
}

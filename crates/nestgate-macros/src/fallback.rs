//! What to emit when something is wrong: the error, and the user's item unchanged (less our inner
//! attributes), so one mistake does not turn into fifty unrelated errors.

use crate::attr::{MethodAttr, PipelineAttr};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl};

/// The impl block without our method attributes, which have been read.
pub(crate) fn strip_attributes(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    item.attrs.retain(|attr| PipelineAttr::of(attr).is_none());
    for inner in &mut item.items {
        if let ImplItem::Fn(function) = inner {
            function
                .attrs
                .retain(|attr| MethodAttr::of(attr).is_none() && PipelineAttr::of(attr).is_none());
        }
    }
    item
}

/// The error, then the tokens as they came.
pub(crate) fn with_error(err: syn::Error, input: TokenStream) -> TokenStream {
    let mut tokens = err.to_compile_error();
    tokens.extend(input);
    tokens
}

/// The error, the stripped impl block, and an empty handler table so that the struct's
/// registration does not add a second, unrelated error.
pub(crate) fn impl_with_error(err: syn::Error, item: &ItemImpl) -> TokenStream {
    let stripped = strip_attributes(item);
    let self_ty = &item.self_ty;
    let stub = (item.trait_.is_none() && item.generics.params.is_empty()).then(|| {
        quote! {
            const _: () = {
                impl ::nestgate::gateway::GatewayHandlers for #self_ty {
                    fn handlers() -> ::std::vec::Vec<::nestgate::gateway::HandlerDef<Self>> {
                        ::std::vec::Vec::new()
                    }
                }
            };
        }
    });
    let error = err.to_compile_error();
    quote! {
        #error
        #stripped
        #stub
    }
}

/// A method attribute used outside a `#[websocket_gateway]` impl block.
pub(crate) fn outside_gateway(name: &str, input: TokenStream) -> TokenStream {
    let message = if ["use_guards", "use_layers", "use_filters"].contains(&name) {
        format!(
            "`#[{name}]` works on a handler or on the impl block of a `#[websocket_gateway]` gateway, written below `#[websocket_gateway]`"
        )
    } else {
        format!(
            "`#[{name}]` only works on a method inside a `#[websocket_gateway]` impl block; add `#[websocket_gateway]` to the impl"
        )
    };
    let err = syn::Error::new(proc_macro2::Span::call_site(), message);
    with_error(err, input)
}

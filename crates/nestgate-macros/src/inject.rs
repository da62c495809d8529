//! `#[inject]` fields: the `FromAppState` impl that builds a struct from the app's provided
//! state, made by `#[derive(FromAppState)]` and by `#[websocket_gateway]` on a gateway struct.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Token};

/// `#[derive(FromAppState)]`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(err) => return err.to_compile_error(),
    };
    let Data::Struct(data) = &input.data else {
        return syn::Error::new_spanned(
            &input.ident,
            "`FromAppState` is derived for structs: each `#[inject]` field is taken from the provided state, the others are `Default::default()`",
        )
        .to_compile_error();
    };
    from_app_state(&input.ident, &input.generics, &data.fields)
        .unwrap_or_else(syn::Error::into_compile_error)
}

/// Whether a gateway struct asks for the impl: it has `#[inject]` fields and does not derive
/// `FromAppState` itself (the derive then makes it).
pub(crate) fn wanted(item: &syn::ItemStruct) -> syn::Result<bool> {
    if !item
        .fields
        .iter()
        .any(|field| field.attrs.iter().any(is_inject))
    {
        return Ok(false);
    }
    let derived = derived(&item.attrs)?;
    if let Some(default) = derived.iter().find(|path| ends_with(path, "Default")) {
        return Err(syn::Error::new_spanned(
            default,
            "a gateway with `#[inject]` fields is built from the app's provided state, not by `Default`: remove `Default` (its other fields start as `Default::default()`)",
        ));
    }
    Ok(!derived.iter().any(|path| ends_with(path, "FromAppState")))
}

/// The struct without its `#[inject]` attributes, once `wanted` said the impl is made here.
pub(crate) fn strip(item: &syn::ItemStruct) -> syn::ItemStruct {
    let mut item = item.clone();
    for field in &mut item.fields {
        field.attrs.retain(|attr| !is_inject(attr));
    }
    item
}

/// `impl FromAppState`: `#[inject]` fields from `require`, the others from `Default`.
pub(crate) fn from_app_state(
    ident: &syn::Ident,
    generics: &syn::Generics,
    fields: &Fields,
) -> syn::Result<TokenStream> {
    let mut values = Vec::new();
    for field in fields {
        let ty = &field.ty;
        let mut injected = false;
        for attr in field.attrs.iter().filter(|attr| is_inject(attr)) {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                return Err(syn::Error::new_spanned(
                    attr,
                    "`#[inject]` takes no arguments: the field's type says what is injected",
                ));
            }
            injected = true;
        }
        let value = if injected {
            // Spanned at the type, so a type that cannot be provided is reported there.
            quote_spanned! {ty.span()=>
                ::nestgate::gateway::require::<#ty>(__nestgate_state, ::std::any::type_name::<Self>())?
            }
        } else {
            quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default())
        };
        values.push(match &field.ident {
            Some(name) => quote!(#name: #value),
            None => value,
        });
    }
    let body = match fields {
        Fields::Named(_) => quote!(Self { #(#values),* }),
        Fields::Unnamed(_) => quote!(Self(#(#values),*)),
        Fields::Unit => quote!(Self),
    };
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::nestgate::gateway::FromAppState for #ident #type_generics #where_clause {
            fn from_app_state(
                __nestgate_state: &::nestgate::AppState,
            ) -> ::nestgate::Result<Self> {
                let _ = __nestgate_state;
                ::core::result::Result::Ok(#body)
            }
        }
    })
}

fn is_inject(attr: &Attribute) -> bool {
    attr.path().is_ident("inject")
}

/// The paths in the struct's `#[derive(...)]` attributes.
fn derived(attrs: &[Attribute]) -> syn::Result<Vec<syn::Path>> {
    let mut paths = Vec::new();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("derive")) {
        paths.extend(attr.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)?);
    }
    Ok(paths)
}

fn ends_with(path: &syn::Path, name: &str) -> bool {
    path.segments
        .last()
        .is_some_and(|segment| segment.ident == name)
}

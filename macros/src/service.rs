//! `#[service]`: on a type, registers it as a service kind; on its `impl` block, makes one
//! typed message per public method and the dispatch a host calls.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{FnArg, ImplItem, ImplItemFn, Item, ItemImpl, LitStr, Pat, ReturnType, Type};

/// Expands `#[service]` on a struct or enum, or on an inherent `impl` block.
pub fn expand(name: Option<LitStr>, item: Item) -> syn::Result<TokenStream2> {
    match item {
        Item::Struct(item) => {
            no_generics(&item.generics)?;
            let ident = item.ident.clone();
            let registration = register(&ident, name);
            Ok(quote!(#item #registration))
        }
        Item::Enum(item) => {
            no_generics(&item.generics)?;
            let ident = item.ident.clone();
            let registration = register(&ident, name);
            Ok(quote!(#item #registration))
        }
        Item::Impl(item) => methods(item),
        other => Err(syn::Error::new_spanned(
            other,
            "#[service] goes on a struct or enum (the service's state) and on its impl block \
             (its methods)",
        )),
    }
}

fn no_generics(generics: &syn::Generics) -> syn::Result<()> {
    if generics.params.is_empty() {
        return Ok(());
    }
    Err(syn::Error::new_spanned(
        generics,
        "a service can't be generic: a worker builds one concrete type by name",
    ))
}

fn register(ident: &syn::Ident, name: Option<LitStr>) -> TokenStream2 {
    let kind = match name {
        Some(lit) => quote!(#lit),
        None => quote!(concat!(module_path!(), "::", stringify!(#ident))),
    };
    quote! {
        impl ::taskforce::service::Service for #ident {
            const KIND: &'static str = #kind;
        }

        ::taskforce::service::__private::inventory::submit! {
            ::taskforce::service::ServiceRegistration {
                kind: #kind,
                signature: <#ident as ::taskforce::service::ServiceMethods>::signature,
                make: ::taskforce::service::__private::make_hosted::<#ident>,
            }
        }
    }
}

struct Method {
    ident: syn::Ident,
    message: syn::Ident,
    vis: syn::Visibility,
    args: Vec<Type>,
    reply: Type,
}

fn methods(mut item: ItemImpl) -> syn::Result<TokenStream2> {
    no_generics(&item.generics)?;
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "#[service] goes on the service's inherent impl block, not a trait impl",
        ));
    }
    let self_ty = item.self_ty.clone();
    let mut init = None;
    let mut exposed = Vec::new();
    for member in &mut item.items {
        let ImplItem::Fn(function) = member else {
            continue;
        };
        let before = function.attrs.len();
        function.attrs.retain(|attr| !attr.path().is_ident("init"));
        if function.attrs.len() != before {
            init = Some(function.sig.ident.clone());
        } else if matches!(function.vis, syn::Visibility::Public(_)) && has_self(function) {
            exposed.push(method(function)?);
        }
    }
    let messages = exposed
        .iter()
        .enumerate()
        .map(|(i, m)| message(i as u32, m, &self_ty));
    let arms = exposed.iter().enumerate().map(|(i, m)| arm(i as u32, m));
    let signature_parts = exposed.iter().map(|m| {
        let name = &m.ident;
        let args = &m.args;
        let reply = &m.reply;
        quote!({
            let args: &[&str] = &[#(::std::any::type_name::<#args>()),*];
            format!("{}({})->{}", stringify!(#name), args.join(","), ::std::any::type_name::<#reply>())
        })
    });
    let init_call = init.map(|init| quote!(self.#init(context);));
    Ok(quote! {
        #item

        #(#messages)*

        impl ::taskforce::service::ServiceMethods for #self_ty {
            fn dispatch(&mut self, method: u32, args: &[u8])
                -> ::std::result::Result<::std::vec::Vec<u8>, ::taskforce::service::CallFailure> {
                match method {
                    #(#arms)*
                    other => Err(::taskforce::service::CallFailure::NoSuchMethod(other)),
                }
            }

            #[allow(unused_variables)]
            fn init(&mut self, context: &mut ::taskforce::service::ServiceContext<Self>) {
                #init_call
            }

            fn signature() -> u64 {
                let parts: ::std::vec::Vec<::std::string::String> = vec![#(#signature_parts),*];
                let parts: ::std::vec::Vec<&str> = parts.iter().map(|p| p.as_str()).collect();
                ::taskforce::service::__private::signature_hash(&parts, "service")
            }
        }
    })
}

fn has_self(function: &ImplItemFn) -> bool {
    matches!(function.sig.inputs.first(), Some(FnArg::Receiver(_)))
}

fn method(function: &ImplItemFn) -> syn::Result<Method> {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(
            sig,
            "a service method can't be generic or async: callers need one concrete message \
             (make it private to keep it off the wire)",
        ));
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        if receiver.reference.is_none() {
            return Err(syn::Error::new_spanned(
                receiver,
                "a service method takes `&self` or `&mut self`: the service lives on",
            ));
        }
    }
    let mut args = Vec::new();
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(typed) = input else {
            continue;
        };
        if !matches!(&*typed.pat, Pat::Ident(_)) {
            return Err(syn::Error::new_spanned(
                &typed.pat,
                "a service method's parameters must be plain names",
            ));
        }
        if let Type::Reference(reference) = &*typed.ty {
            return Err(syn::Error::new_spanned(
                reference,
                "a service method takes its arguments by value: they travel in the message",
            ));
        }
        args.push((*typed.ty).clone());
    }
    let reply = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    Ok(Method {
        ident: sig.ident.clone(),
        message: format_ident!("{}", camel(&sig.ident.to_string()), span = sig.ident.span()),
        vis: function.vis.clone(),
        args,
        reply,
    })
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

fn message(index: u32, method: &Method, self_ty: &Type) -> TokenStream2 {
    let Method {
        ident,
        message,
        vis,
        args,
        reply,
        ..
    } = method;
    let doc = format!(
        "A call of `{}` on the service (made by `#[taskforce::service]`).",
        ident
    );
    let body = if args.is_empty() {
        quote!(;)
    } else {
        quote!((#(pub #args),*);)
    };
    quote! {
        #[doc = #doc]
        #[derive(::taskforce::service::__private::serde::Serialize,
                 ::taskforce::service::__private::serde::Deserialize)]
        #[serde(crate = "::taskforce::service::__private::serde")]
        #vis struct #message #body

        impl ::taskforce::service::ServiceMessage<#self_ty> for #message {
            type Reply = #reply;
            const METHOD: u32 = #index;
            const NAME: &'static str = stringify!(#ident);
        }
    }
}

fn arm(index: u32, method: &Method) -> TokenStream2 {
    let Method {
        ident,
        message,
        args,
        ..
    } = method;
    let names: Vec<syn::Ident> = (0..args.len()).map(|i| format_ident!("arg{}", i)).collect();
    let pattern = if args.is_empty() {
        quote!(#message)
    } else {
        quote!(#message(#(#names),*))
    };
    quote! {
        #index => {
            let #pattern = ::taskforce::service::__private::read_message::<#message>(args)?;
            let reply = self.#ident(#(#names),*);
            ::taskforce::service::__private::write_reply(&reply)
        }
    }
}

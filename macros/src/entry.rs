//! `#[taskforce::main]`: wraps an `async fn main` so that the cluster roles are served first,
//! outside any async runtime, and only then a tokio runtime is built to run the body.
//!
//! The expansion names only `::taskforce::entry`, so a program needs no direct dependency
//! on tokio for it.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{ItemFn, LitBool, LitInt, LitStr, ReturnType, Token};

/// `#[taskforce::main(flavor = "current_thread", worker_threads = 2, roles = false)]`, every
/// part optional.
pub(crate) struct MainArgs {
    current_thread: bool,
    worker_threads: Option<LitInt>,
    roles: bool,
}

impl Parse for MainArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = MainArgs {
            current_thread: false,
            worker_threads: None,
            roles: true,
        };
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            if key == "flavor" {
                let flavor: LitStr = input.parse()?;
                args.current_thread = match flavor.value().as_str() {
                    "current_thread" => true,
                    "multi_thread" => false,
                    other => {
                        let message = format!(
                            "unknown flavor `{other}`: expected \"current_thread\" or \"multi_thread\""
                        );
                        return Err(syn::Error::new(flavor.span(), message));
                    }
                };
            } else if key == "worker_threads" {
                args.worker_threads = Some(input.parse()?);
            } else if key == "roles" {
                args.roles = input.parse::<LitBool>()?.value;
            } else {
                let message = "expected `flavor = \"...\"`, `worker_threads = N` or `roles = bool`";
                return Err(syn::Error::new(key.span(), message));
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        if args.current_thread {
            if let Some(threads) = &args.worker_threads {
                let message = "`worker_threads` applies to the multi_thread flavor only";
                return Err(syn::Error::new(threads.span(), message));
            }
        }
        Ok(args)
    }
}

pub(crate) fn expand(args: MainArgs, function: ItemFn) -> TokenStream2 {
    if function.sig.asyncness.is_none() {
        return syn::Error::new_spanned(
            function.sig.fn_token,
            "#[taskforce::main] goes on an `async fn`",
        )
        .to_compile_error();
    }
    if !function.sig.inputs.is_empty() || !function.sig.generics.params.is_empty() {
        return syn::Error::new_spanned(
            &function.sig.inputs,
            "#[taskforce::main] takes a function without arguments or generics",
        )
        .to_compile_error();
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    sig.asyncness = None;
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let flavor = match (args.current_thread, &args.worker_threads) {
        (true, _) => quote!(::taskforce::entry::Flavor::CurrentThread),
        (false, None) => quote!(::taskforce::entry::Flavor::MultiThread {
            worker_threads: None
        }),
        (false, Some(n)) => {
            quote!(::taskforce::entry::Flavor::MultiThread { worker_threads: Some(#n) })
        }
    };
    let serve = match args.roles {
        true => quote!(::taskforce::entry::serve_role_if_asked();),
        false => quote!(::taskforce::local::serve_if_local_worker();),
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            // First, outside any runtime: a process started as a center or worker serves
            // that role here and exits.
            #serve
            let body = async move #block;
            ::taskforce::entry::block_on::<#output, _>(#flavor, body)
        }
    }
}

//! Procedural macros of taskforce: `#[remote]` turns a free function into a remote function;
//! `#[service]` makes a type and its methods a service (see `service.rs`); `#[main]` runs an
//! `async fn main` after serving the cluster roles (see `entry.rs`).
//!
//! The expansion keeps the function callable locally (`inc(1)`), adds a `Copy` unit-struct
//! handle of the same name implementing `taskforce::function::RemoteFunction`, and registers an
//! erased entry in the link-time registry so any binary linking it can run it by name.

mod entry;
mod service;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{
    parse_macro_input, FnArg, GenericArgument, ItemFn, LitStr, PathArguments, ReturnType, Token,
    Type,
};

/// `#[remote]` or `#[remote(name = "stable.name")]`.
struct RemoteArgs {
    name: Option<LitStr>,
}

impl Parse for RemoteArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(RemoteArgs { name: None });
        }
        let key: syn::Ident = input.parse()?;
        if key != "name" {
            return Err(syn::Error::new(key.span(), "expected `name = \"...\"`"));
        }
        input.parse::<Token![=]>()?;
        Ok(RemoteArgs {
            name: Some(input.parse()?),
        })
    }
}

/// Makes a free function callable on a taskforce cluster.
///
/// ```text
/// #[taskforce::remote]
/// fn inc(x: i64) -> i64 { x + 1 }
///
/// let fut = executor.submit(inc, (1,))?;   // runs on a worker
/// assert_eq!(inc(1), 2);                   // still a local function
/// ```
/// (Compiled examples live in the `taskforce` crate's docs and tests: this crate can't
/// depend on it.)
///
/// Arguments and result must be serde types (`Clone` for arguments); `&str`, `&[T]` and
/// `&T` parameters travel as `String`, `Vec<T>` and `T`. A function returning
/// `Result<T, E>` (with `E: Display`) gives a `Future<T>` and sends its `Err` back as a task
/// error. Generic functions can't be remote: a worker needs one concrete signature.
#[proc_macro_attribute]
pub fn remote(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as RemoteArgs);
    let function = parse_macro_input!(item as ItemFn);
    expand(args, function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Runs an `async fn main` in a tokio runtime, after serving the cluster roles: when the
/// program was started as `center ...` or `worker ...` (a local cluster's workers re-run
/// the program so), that role runs first, outside any runtime, and the process exits;
/// otherwise a runtime is built and the body runs in it.
///
/// ```text
/// #[taskforce::main]                                  // multi-thread runtime
/// async fn main() -> taskforce::Result<()> {
///     let executor = taskforce::Executor::local_async().await?;
///     // ...
///     Ok(())
/// }
///
/// #[taskforce::main(flavor = "current_thread")]       // or a current-thread runtime
/// ```
///
/// Options: `flavor = "multi_thread"` (the default) or `"current_thread"`,
/// `worker_threads = N` (multi-thread only; default one per core), and `roles = false` for
/// a program whose own command line uses the words `center`/`worker` (then only the workers
/// of its local clusters are served, recognised by their environment).
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as entry::MainArgs);
    let function = parse_macro_input!(item as ItemFn);
    entry::expand(args, function).into()
}

/// Makes a type a service that lives on a worker: on the type (with serde's derives) it
/// registers it by name (`#[service(name = "stable.name")]` to choose one); on its `impl`
/// block it makes one message type per public method (`increment(by: u64) -> u64` gives
/// `Increment(pub u64)` with reply `u64`), so calls are checked at compile time. A method
/// marked `#[init]` runs at every (re)start and may register timers. See
/// `taskforce::service` for compiled examples.
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as RemoteArgs);
    let item = parse_macro_input!(item as syn::Item);
    service::expand(args.name, item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

struct Param {
    ident: syn::Ident,
    ty: Type,
    owned: Type,
    borrowed: bool,
}

fn expand(args: RemoteArgs, function: ItemFn) -> syn::Result<TokenStream2> {
    check_shape(&function)?;
    let params = function
        .sig
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| param(i, input))
        .collect::<syn::Result<Vec<_>>>()?;
    let name = &function.sig.ident;
    let vis = &function.vis;
    let impl_name = format_ident!("__taskforce_remote_{}", name);
    let registered_name = match &args.name {
        Some(lit) => quote!(#lit),
        None => quote!(concat!(module_path!(), "::", stringify!(#name))),
    };
    let (ret_ty, output, is_result) = output_of(&function.sig.output);
    let (docs, others): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|attr| attr.path().is_ident("doc"));

    let mut impl_fn = function.clone();
    impl_fn.sig.ident = impl_name.clone();
    impl_fn.attrs = others.into_iter().cloned().collect();
    impl_fn.vis = syn::Visibility::Inherited;

    let tys: Vec<&Type> = params.iter().map(|p| &p.ty).collect();
    let owned: Vec<&Type> = params.iter().map(|p| &p.owned).collect();
    let count = params.len();
    let reads = params.iter().enumerate().map(|(i, p)| read_param(i, p));
    let idents: Vec<&syn::Ident> = params.iter().map(|p| &p.ident).collect();
    let passes = params.iter().map(|p| {
        let ident = &p.ident;
        if p.borrowed {
            quote!(&*#ident)
        } else {
            quote!(::std::borrow::Cow::into_owned(#ident))
        }
    });
    let finish = if is_result {
        quote!(let out = out.map_err(|e| tf::args::CallError::Failed(e.to_string()))?;)
    } else {
        quote!()
    };
    let _ = &idents;

    Ok(quote! {
        #impl_fn

        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name;

        impl ::core::ops::Deref for #name {
            type Target = fn(#(#tys),*) #ret_ty;
            fn deref(&self) -> &Self::Target {
                const LOCAL: fn(#(#tys),*) #ret_ty = #impl_name;
                &LOCAL
            }
        }

        impl ::taskforce::function::RemoteFunction for #name {
            type Args = (#(#owned,)*);
            type Output = #output;

            fn function_id(&self) -> &::taskforce::function::__private::FunctionId {
                static ID: ::std::sync::OnceLock<::taskforce::function::__private::FunctionId> =
                    ::std::sync::OnceLock::new();
                ID.get_or_init(|| {
                    ::taskforce::function::__private::FunctionId::new(
                        #registered_name,
                        <#name>::__taskforce_signature(),
                    )
                })
            }

            fn short_name(&self) -> &'static str {
                stringify!(#name)
            }
        }

        impl #name {
            /// Binds the trailing arguments (values or futures); the result takes the rest
            /// and is itself submittable.
            #[allow(dead_code)]
            pub fn bind<B, X>(&self, args: X) -> ::taskforce::function::Bound<Self, B>
            where
                <Self as ::taskforce::function::RemoteFunction>::Args:
                    ::taskforce::function::SplitTail<B>,
                X: ::taskforce::function::IntoArgs<B>,
            {
                ::taskforce::function::RemoteFunction::bind(self, args)
            }

            #[doc(hidden)]
            fn __taskforce_signature() -> u64 {
                ::taskforce::function::__private::signature_hash(
                    &[#(::std::any::type_name::<#owned>()),*],
                    ::std::any::type_name::<#output>(),
                )
            }

            #[doc(hidden)]
            fn __taskforce_local() -> &'static (dyn ::std::any::Any + Send + Sync) {
                const LOCAL: fn(#(#tys),*) #ret_ty = #impl_name;
                &LOCAL
            }

            #[doc(hidden)]
            fn __taskforce_invoke(
                args: &::taskforce::function::ArgReader<'_>,
            ) -> ::std::result::Result<
                ::std::sync::Arc<dyn ::taskforce::function::Value>,
                ::taskforce::function::CallError,
            > {
                use ::taskforce::function as tf;
                args.expect(#count)?;
                #(#reads)*
                let out = #impl_name(#(#passes),*);
                #finish
                Ok(::std::sync::Arc::new(out))
            }
        }

        ::taskforce::function::__private::inventory::submit! {
            ::taskforce::function::Registration {
                name: #registered_name,
                signature: #name::__taskforce_signature,
                invoke: #name::__taskforce_invoke,
                local: #name::__taskforce_local,
            }
        }
    })
}

fn check_shape(function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a #[remote] function can't be generic: a worker needs one concrete signature \
             (write one remote fn per concrete type)",
        ));
    }
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "a #[remote] function can't be async",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "a #[remote] function can't be variadic",
        ));
    }
    Ok(())
}

fn param(index: usize, input: &FnArg) -> syn::Result<Param> {
    let FnArg::Typed(typed) = input else {
        return Err(syn::Error::new_spanned(
            input,
            "#[remote] goes on free functions, not methods: state travels as arguments",
        ));
    };
    let ident = format_ident!("__tf_arg_{}", index);
    let (owned, borrowed) = match &*typed.ty {
        Type::Reference(reference) => {
            if reference.mutability.is_some() {
                return Err(syn::Error::new_spanned(
                    reference,
                    "a #[remote] function can't take `&mut`: arguments are values sent to it",
                ));
            }
            let inner = &reference.elem;
            (
                syn::parse_quote!(<#inner as ::std::borrow::ToOwned>::Owned),
                true,
            )
        }
        Type::ImplTrait(_) => {
            return Err(syn::Error::new_spanned(
                &typed.ty,
                "a #[remote] function can't take `impl Trait`: closures and generic values \
                 can't travel; bind values with `.bind(...)` instead",
            ))
        }
        other => (other.clone(), false),
    };
    Ok(Param {
        ident,
        ty: (*typed.ty).clone(),
        owned,
        borrowed,
    })
}

fn read_param(index: usize, param: &Param) -> TokenStream2 {
    let ident = &param.ident;
    let owned = &param.owned;
    quote! {
        let #ident = {
            #[allow(unused_imports)]
            use tf::__private::{ListOfValues as _, NotAList as _};
            let list = (&tf::__private::ListProbe::<#owned>::new()).list_builder();
            args.get::<#owned>(#index, list)?
        };
    }
}

/// The `-> T` tokens, the output type of the future, and whether the function returns a
/// `Result` whose `Err` becomes a task error.
fn output_of(output: &ReturnType) -> (TokenStream2, Type, bool) {
    let ReturnType::Type(arrow, ty) = output else {
        return (quote!(), syn::parse_quote!(()), false);
    };
    let ret = quote!(#arrow #ty);
    if let Type::Path(path) = &**ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "Result" {
                if let PathArguments::AngleBracketed(generic) = &last.arguments {
                    if let Some(GenericArgument::Type(ok)) = generic.args.first() {
                        return (ret, ok.clone(), true);
                    }
                }
            }
        }
    }
    let _ = Span::call_site();
    (ret, (**ty).clone(), false)
}

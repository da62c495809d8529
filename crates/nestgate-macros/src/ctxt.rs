//! Collects every error of one expansion, so that three bad handlers show three errors.

use std::cell::RefCell;

/// An error sink in the manner of serde's `Ctxt`: it must be checked before it is dropped.
pub(crate) struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error at the span of `tokens`.
    pub(crate) fn error_spanned_by<T: quote::ToTokens, M: std::fmt::Display>(
        &self,
        tokens: T,
        msg: M,
    ) {
        self.syn_error(syn::Error::new_spanned(tokens, msg));
    }

    /// Records a `syn::Error`.
    pub(crate) fn syn_error(&self, err: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check(): a bug in nestgate-macros")
            .push(err);
    }

    /// Returns every recorded error, folded into one.
    pub(crate) fn check(self) -> syn::Result<()> {
        let mut errors = self
            .errors
            .borrow_mut()
            .take()
            .expect("Ctxt checked twice: a bug in nestgate-macros")
            .into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for rest in errors {
            combined.combine(rest);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors: a bug in nestgate-macros");
        }
    }
}

//! Macro diagnostics point at the user's code: one failing case per diagnostic.
//!
//! Compiler messages change between releases, so the `.stderr` files are checked on the
//! toolchain CI runs (Rust 1.95; other versions skip this test); regenerate them with
//! `TRYBUILD=overwrite cargo test -p nestgate-tests --test ui` and review the diff like code.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "UI diagnostics are checked on Rust 1.95 only"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}

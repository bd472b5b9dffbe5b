//! Compile-time behaviour of `#[derive(Signature)]` and `#[derive(Module)]` (`module_*`): every
//! misuse is an error on the offending item (tests/ui/*.rs with their .stderr), and every
//! accepted form compiles (tests/ui/pass).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

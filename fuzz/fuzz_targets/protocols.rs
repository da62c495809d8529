//! Arbitrary client bytes through the Engine.IO payload parser and the Socket.IO packet parser
//! and translators: `cargo fuzz run protocols` (see docs/CONFORMANCE.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    nestgate::__internals::fuzz_protocols(data);
});

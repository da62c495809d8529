//! Hooks for nestgate's own fuzz targets and tests, not for applications: hidden from the docs,
//! no stability promise. (`__private` is the macros' support only.)

/// Feeds arbitrary bytes to the Engine.IO and Socket.IO parsers and translators, as a client
/// could send them: for the fuzz targets (`fuzz/`) and the randomized parser test. Panics only if
/// a parser does.
pub fn fuzz_protocols(data: &[u8]) {
    crate::engineio::fuzz(data);
    crate::socketio::fuzz(data);
}

#![no_main]
//! Fuzz target `plugin_file`: the harness in tests/fuzz_harness/ (shared with tests/fuzz_corpus.rs).

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::plugin_file(data);
});

#![no_main]
//! Fuzz target `csv_reader`: the harness in tests/fuzz_harness/ (shared with tests/fuzz_corpus.rs).

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::csv_reader(data);
});

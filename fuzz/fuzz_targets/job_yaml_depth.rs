#![no_main]
//! Fuzz target `job_yaml_depth`: the harness in tests/fuzz_harness/ (shared with tests/fuzz_corpus.rs).

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::job_yaml_depth(data);
});

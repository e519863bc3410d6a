//! include/dativo.h is generated from src/ffi/ by cbindgen (config: cbindgen.toml) and
//! committed. This test regenerates it and fails when the committed file differs, so the
//! header can never drift from the library. `make header` (DATIVO_UPDATE_HEADER=1) rewrites it.

use std::path::Path;

use dativo::plugin_abi::{DATIVO_PLUGIN_ABI_MAGIC, DATIVO_PLUGIN_ABI_TAG_PREFIX, DATIVO_PLUGIN_INIT_SYMBOL};
use dativo::version::{ABI_VERSION, VERSION, VERSION_MAJOR, VERSION_MINOR, VERSION_NUMBER, VERSION_PATCH};

/// The version macros, from the constants build.rs derives from Cargo.toml, and the string
/// constants cbindgen cannot emit.
fn version_macros() -> String {
    let magic = std::str::from_utf8(&DATIVO_PLUGIN_ABI_MAGIC[..DATIVO_PLUGIN_ABI_MAGIC.len() - 1]).expect("ASCII");
    format!(
        "\n/* Versions of this header, generated from Cargo.toml. Compare them with\n \
         * dativo_version_number() and dativo_abi_version() at run time. */\n\
         #define DATIVO_VERSION \"{VERSION}\"\n\
         #define DATIVO_VERSION_MAJOR {VERSION_MAJOR}\n\
         #define DATIVO_VERSION_MINOR {VERSION_MINOR}\n\
         #define DATIVO_VERSION_PATCH {VERSION_PATCH}\n\
         /* MAJOR * 1000000 + MINOR * 1000 + PATCH */\n\
         #define DATIVO_VERSION_NUMBER {VERSION_NUMBER}\n\
         /* Bumped on every change that breaks existing callers. */\n\
         #define DATIVO_ABI_VERSION {ABI_VERSION}\n\
         /* The entry symbol of a plugin whose spec names none (`lib.so` rather than `lib.so:symbol`). */\n\
         #define DATIVO_PLUGIN_INIT_SYMBOL \"{DATIVO_PLUGIN_INIT_SYMBOL}\"\n\
         /* A plugin entry `S` proves what it is with a data symbol `dativo_plugin_abi_S` holding\n \
         * DATIVO_PLUGIN_ABI_MAGIC: the host calls only entries that have it. Write\n \
         * `DATIVO_PLUGIN_ENTRY_TAG(S);` next to the entry function (S is `dativo_plugin_init` unless\n \
         * the job names another symbol). */\n\
         #define DATIVO_PLUGIN_ABI_TAG_PREFIX \"{DATIVO_PLUGIN_ABI_TAG_PREFIX}\"\n\
         #define DATIVO_PLUGIN_ABI_MAGIC \"{magic}\"\n\
         #ifdef __cplusplus\n\
         #define DATIVO_PLUGIN_EXTERN_C extern \"C\"\n\
         #else\n\
         #define DATIVO_PLUGIN_EXTERN_C\n\
         #endif\n\
         #if defined(_WIN32)\n\
         #define DATIVO_PLUGIN_EXPORT DATIVO_PLUGIN_EXTERN_C __declspec(dllexport)\n\
         #else\n\
         #define DATIVO_PLUGIN_EXPORT DATIVO_PLUGIN_EXTERN_C __attribute__((visibility(\"default\")))\n\
         #endif\n\
         /* One line: bindings/python reads this header without a preprocessor. */\n\
         #define DATIVO_PLUGIN_ENTRY_TAG(symbol) DATIVO_PLUGIN_EXPORT const char \
         dativo_plugin_abi_##symbol[sizeof(DATIVO_PLUGIN_ABI_MAGIC)] = DATIVO_PLUGIN_ABI_MAGIC\n"
    )
}

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(root.join("../../cbindgen.toml")).expect("cbindgen.toml is valid");
    config.after_includes = Some(version_macros());
    let bindings = cbindgen::Builder::new()
        // Only the C face: engine constants are not part of the API.
        .with_src(root.join("lib.rs"))
        .with_src(root.join("../abi/lib.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen can generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn committed_header_matches_the_library() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/dativo.h");
    let generated = generate();
    if std::env::var_os("DATIVO_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/dativo.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| committed.lines().count().min(generated.lines().count()) + 1, |i| i + 1);
        panic!(
            "include/dativo.h is out of date (first difference at line {line}); run `make header` \
             and commit the result"
        );
    }
}

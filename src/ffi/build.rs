//! Build script: the version constants of the C API, and the shared library's SONAME.
//!
//! Versions live in one place, the workspace Cargo.toml: the package version
//! (`[workspace.package] version`), and the C ABI version under
//! `[workspace.metadata.dativo] abi-version`. This script writes them as Rust constants
//! (`$OUT_DIR/version.rs`, included by `src/ffi/version.rs`); tests/c_header.rs writes the same
//! constants into include/dativo.h as macros. Nothing is typed twice.

use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest_path = Path::new(&manifest_dir).join("../../Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest_path.display());
    println!("cargo:rerun-if-changed=build.rs");

    let text = fs::read_to_string(&manifest_path).expect("read Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is valid TOML");
    let abi_version = manifest
        .get("workspace")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("dativo"))
        .and_then(|d| d.get("abi-version"))
        .and_then(|v| v.as_integer())
        .expect("the workspace Cargo.toml needs [workspace.metadata.dativo] abi-version = <integer>");

    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let patch = env::var("CARGO_PKG_VERSION_PATCH").unwrap();
    let version = env::var("CARGO_PKG_VERSION").unwrap();
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("version.rs");
    fs::write(
        out,
        format!(
            "/// The package version, `MAJOR.MINOR.PATCH`.\n\
             pub const VERSION: &str = \"{version}\";\n\
             pub const VERSION_MAJOR: u32 = {major};\n\
             pub const VERSION_MINOR: u32 = {minor};\n\
             pub const VERSION_PATCH: u32 = {patch};\n\
             /// The C ABI version (Cargo.toml, `[package.metadata.dativo] abi-version`).\n\
             pub const ABI_VERSION: u32 = {abi_version};\n"
        ),
    )
    .expect("write version.rs");

    // The SONAME carries the C ABI version, not the package version: a program linked against
    // ABI 1 never loads an ABI-2 library by accident, and a release that keeps the ABI (even a
    // new major version of the package) stays loadable. CMake installs the matching symlinks.
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") | Ok("freebsd") | Ok("netbsd") | Ok("openbsd") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdativo.so.{abi_version}");
            // Only this crate's functions are the C API. Dependencies may carry exported C
            // functions of their own (object_store's crc-fast exports `crc_fast_*`); hiding every
            // symbol that comes from a library archive keeps them out of libdativo's dynamic
            // symbol table (tests/c/cmake/check_library.cmake checks it).
            println!("cargo:rustc-cdylib-link-arg=-Wl,--exclude-libs,ALL");
        }
        Ok("macos") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libdativo.{abi_version}.dylib");
        }
        _ => {}
    }
}

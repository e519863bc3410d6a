//! Versions: the package version and the C ABI version, from Cargo.toml (via build.rs).
//!
//! The header carries the same numbers as macros (`DATIVO_VERSION_*`, `DATIVO_ABI_VERSION`),
//! so a binding can compare the header it was built with against the library it loaded.

use std::ffi::c_char;

include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// `MAJOR * 1_000_000 + MINOR * 1_000 + PATCH`: one number that orders versions.
/// (The header's DATIVO_VERSION_NUMBER is written by tests/c_header.rs.)
///
/// cbindgen:ignore
pub const VERSION_NUMBER: u32 = VERSION_MAJOR * 1_000_000 + VERSION_MINOR * 1_000 + VERSION_PATCH;

/// `VERSION` with its NUL, for C.
const VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version as text, e.g. "0.1.0". Static: never NULL, do not free.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn dativo_version() -> *const c_char {
    VERSION_C.as_ptr().cast()
}

/// The library's version as one number, comparable with `DATIVO_VERSION_NUMBER`:
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`. Thread-safe.
#[no_mangle]
pub extern "C" fn dativo_version_number() -> u32 {
    VERSION_NUMBER
}

/// The C ABI version the library implements, comparable with `DATIVO_ABI_VERSION`. A program
/// built against a header whose `DATIVO_ABI_VERSION` differs must not use the library.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn dativo_abi_version() -> u32 {
    ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn versions_come_from_cargo_toml() {
        let text = unsafe { CStr::from_ptr(dativo_version()) }.to_str().unwrap();
        assert_eq!(text, env!("CARGO_PKG_VERSION"));
        assert_eq!(text, VERSION);
        assert_eq!(format!("{VERSION_MAJOR}.{VERSION_MINOR}.{VERSION_PATCH}"), VERSION);
        assert_eq!(dativo_version_number(), VERSION_MAJOR * 1_000_000 + VERSION_MINOR * 1_000 + VERSION_PATCH);
        assert!(dativo_abi_version() >= 1);
    }
}

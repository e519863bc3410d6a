//! Which ABI a library's entry speaks, decided from its exported symbols before anything of
//! it is called (docs/plugins.md, "Loading and safety").
//!
//! - `create_reader` / `create_writer`, or any other name in a library that exports one
//!   legacy set (`extract_batch`, `free_reader`, `free_string` for readers; `write_batch`,
//!   `free_writer`, `free_string` for writers): the legacy Dativo JSON ABI, run through the
//!   adapter ([`crate::legacy`]);
//! - a symbol `S` with a tag `dativo_plugin_abi_S` (a data symbol holding
//!   `DATIVO_PLUGIN_ABI_MAGIC`): the new ABI's entry;
//! - anything else: an error naming the symbol and what the library exports, never a call.

use std::collections::BTreeMap;
use std::path::Path;

use dativo_abi::plugin_abi::{DATIVO_PLUGIN_ABI_MAGIC, DATIVO_PLUGIN_ABI_TAG_PREFIX, DATIVO_PLUGIN_INIT_SYMBOL};
use dativo_engine::job::plugins::PluginKind;

use crate::elf::{self, describe_bytes, Symbol, SymbolKind};
use crate::legacy::{LAST_ERROR, READER_FUNCTIONS, WRITER_FUNCTIONS};

/// What the host will call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The new ABI's entry function of this name (its tag is there).
    New(String),
    /// A legacy plugin of `kind` whose create function is `create`.
    Legacy { kind: PluginKind, create: String },
}

/// A library's exported symbols.
pub(crate) struct Exports {
    /// From the ELF file; None on systems whose libraries are not ELF (asked from the loader).
    symbols: Option<BTreeMap<String, Symbol>>,
}

impl Exports {
    /// Read the dynamic symbols of the library at `path`, without loading it; the file has
    /// passed [`elf::check_file`]. Where libraries are not ELF files the loader is asked later.
    pub fn read(path: &Path) -> Result<Exports, String> {
        if elf::Format::NATIVE != elf::Format::Elf {
            return Ok(Exports { symbols: None });
        }
        let symbols = elf::file_dynamic_symbols(path).map_err(|e| format!("cannot list the library's symbols: {e}"))?;
        Ok(Exports { symbols: Some(symbols) })
    }

    /// The symbol `name`, if exported. Without an ELF table nothing is known before loading,
    /// and every name counts as a function (the loader is asked later).
    fn get(&self, name: &str) -> Option<Symbol> {
        self.symbols.as_ref()?.get(name).copied()
    }

    fn known(&self) -> bool {
        self.symbols.is_some()
    }

    fn is_function(&self, name: &str) -> bool {
        self.get(name).is_some_and(|s| s.kind == SymbolKind::Function)
    }

    fn has_tag(&self, symbol: &str) -> bool {
        self.get(&tag_name(symbol))
            .is_some_and(|s| s.kind == SymbolKind::Data && s.size >= DATIVO_PLUGIN_ABI_MAGIC.len() as u64)
    }

    /// Decide what `name` (the spec's symbol; None for the default) is.
    pub fn classify(&self, name: Option<&str>) -> Result<Entry, String> {
        if !self.known() {
            // No ELF table: the new ABI's tag is checked through the loader before the call;
            // legacy plugins need a legacy name here.
            return Ok(match name {
                Some(create @ ("create_reader" | "create_writer")) => Entry::Legacy {
                    kind: if create == "create_reader" { PluginKind::Reader } else { PluginKind::Writer },
                    create: create.to_string(),
                },
                other => Entry::New(other.unwrap_or(DATIVO_PLUGIN_INIT_SYMBOL).to_string()),
            });
        }
        let symbol = name.unwrap_or(DATIVO_PLUGIN_INIT_SYMBOL);
        let reader_set = READER_FUNCTIONS.iter().all(|f| self.is_function(f));
        let writer_set = WRITER_FUNCTIONS.iter().all(|f| self.is_function(f));
        let legacy = |kind: PluginKind, create: &str| Entry::Legacy { kind, create: create.to_string() };
        if let Some(kind) = match symbol {
            "create_reader" => Some(PluginKind::Reader),
            "create_writer" => Some(PluginKind::Writer),
            _ => None,
        } {
            if !self.is_function(symbol) {
                return Err(format!("the library exports no function '{symbol}'; {}", self.found()));
            }
            let set = if kind == PluginKind::Reader { READER_FUNCTIONS } else { WRITER_FUNCTIONS };
            let missing: Vec<&str> = set.iter().copied().filter(|f| !self.is_function(f)).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "'{symbol}' is the create function of a legacy Dativo {} plugin, which also needs {}, but the \
                     library lacks {}; {}",
                    kind.name(),
                    set.join(", "),
                    missing.join(", "),
                    self.found()
                ));
            }
            return Ok(legacy(kind, symbol));
        }
        if self.has_tag(symbol) {
            if !self.is_function(symbol) {
                return Err(format!(
                    "the library exports the tag '{}' but no function '{symbol}'; {}",
                    tag_name(symbol),
                    self.found()
                ));
            }
            return Ok(Entry::New(symbol.to_string()));
        }
        if name.is_none() && !self.is_function(symbol) {
            // `lib.so` naming no symbol: a legacy plugin with the usual create function.
            match (reader_set && self.is_function("create_reader"), writer_set && self.is_function("create_writer")) {
                (true, false) => return Ok(legacy(PluginKind::Reader, "create_reader")),
                (false, true) => return Ok(legacy(PluginKind::Writer, "create_writer")),
                (true, true) => {
                    return Err(format!(
                        "the spec names no symbol and the library has no '{symbol}', but exports the legacy functions \
                         of both a reader and a writer; name one: lib.so:create_reader or lib.so:create_writer; {}",
                        self.found()
                    ))
                }
                (false, false) => {}
            }
        }
        if self.get(symbol).is_none() {
            return Err(format!("the library exports no symbol '{symbol}'; {}", self.found()));
        }
        if self.is_function(symbol) {
            match (reader_set, writer_set) {
                (true, false) => return Ok(legacy(PluginKind::Reader, symbol)),
                (false, true) => return Ok(legacy(PluginKind::Writer, symbol)),
                (true, true) => {
                    return Err(format!(
                        "'{symbol}' is not a tagged dativo plugin entry, and the library exports the legacy functions \
                         of both a reader and a writer, so it cannot tell which '{symbol}' creates; name \
                         create_reader or create_writer; {}",
                        self.found()
                    ))
                }
                (false, false) => {}
            }
        }
        Err(format!(
            "'{symbol}' is not a dativo plugin entry, so it is not called: a plugin-ABI entry comes with a data \
             symbol '{}' (export_reader!/export_writer! in Rust, DATIVO_PLUGIN_ENTRY_TAG({symbol}) in C), and a \
             legacy Dativo plugin exports create_reader, extract_batch, free_reader, free_string or create_writer, \
             write_batch, free_writer, free_string; {}",
            tag_name(symbol),
            self.found()
        ))
    }

    /// Check the tag of the new ABI's entry `symbol` in the loaded `library`: it must hold the
    /// magic bytes.
    pub fn verify_tag(&self, library: &libloading::Library, symbol: &str) -> Result<(), String> {
        let tag = tag_name(symbol);
        if self.known() && !self.has_tag(symbol) {
            return Err(format!("the library has no tag '{tag}' for its entry '{symbol}'"));
        }
        // SAFETY: on ELF systems the table says this is a data object of at least the magic's
        // size; elsewhere the loader found a symbol of that name, which only a tag has.
        let found = unsafe {
            match library.get::<*const u8>(tag.as_bytes()) {
                Ok(address) => {
                    let address: *const u8 = *address;
                    let address = if address.is_null() { None } else { Some(address) };
                    address.map(|a| std::slice::from_raw_parts(a, DATIVO_PLUGIN_ABI_MAGIC.len()).to_vec())
                }
                Err(_) => None,
            }
        };
        match found {
            Some(bytes) if bytes == DATIVO_PLUGIN_ABI_MAGIC => Ok(()),
            Some(bytes) => Err(format!(
                "its tag '{tag}' holds {} instead of \"{}\": not a dativo plugin entry, so '{symbol}' is not called",
                describe_bytes(&bytes),
                String::from_utf8_lossy(&DATIVO_PLUGIN_ABI_MAGIC[..DATIVO_PLUGIN_ABI_MAGIC.len() - 1])
            )),
            None => Err(format!(
                "'{symbol}' is not a dativo plugin entry, so it is not called: the library exports no tag '{tag}' \
                 (export_reader!/export_writer! in Rust, DATIVO_PLUGIN_ENTRY_TAG({symbol}) in C)"
            )),
        }
    }

    /// What the library exports, for messages: its plugin entries, its legacy functions and
    /// a few of the rest.
    fn found(&self) -> String {
        let Some(symbols) = &self.symbols else { return "its symbols could not be listed".into() };
        let entries: Vec<&str> = symbols
            .iter()
            .filter(|(name, s)| name.starts_with(DATIVO_PLUGIN_ABI_TAG_PREFIX) && s.kind == SymbolKind::Data)
            .map(|(name, _)| &name[DATIVO_PLUGIN_ABI_TAG_PREFIX.len()..])
            .collect();
        let legacy_names: Vec<&str> =
            ["create_reader", "create_writer"].into_iter().chain(READER_FUNCTIONS).chain(WRITER_FUNCTIONS).collect();
        let mut legacy: Vec<&str> = Vec::new();
        for name in legacy_names.iter().chain(&[LAST_ERROR]) {
            if self.is_function(name) && !legacy.contains(name) {
                legacy.push(name);
            }
        }
        let others: Vec<&str> = symbols
            .iter()
            .filter(|(name, s)| {
                s.kind == SymbolKind::Function
                    && !legacy.contains(&name.as_str())
                    && !entries.contains(&name.as_str())
                    && !name.starts_with('_')
            })
            .map(|(name, _)| name.as_str())
            .collect();
        const SHOWN: usize = 8;
        let list = |names: &[&str]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
        let mut text = format!(
            "found in the library ({} dynamic symbols): plugin-ABI entries: {}; legacy Dativo functions: {}",
            symbols.len(),
            list(&entries),
            list(&legacy)
        );
        if !others.is_empty() {
            let more = others.len().saturating_sub(SHOWN);
            text.push_str(&format!("; other functions: {}", others[..others.len().min(SHOWN)].join(", ")));
            if more > 0 {
                text.push_str(&format!(" and {more} more"));
            }
        }
        text
    }
}

/// `dativo_plugin_abi_<symbol>`.
pub(crate) fn tag_name(symbol: &str) -> String {
    format!("{DATIVO_PLUGIN_ABI_TAG_PREFIX}{symbol}")
}

//! The dynamic symbols of an ELF shared library (what `nm -D --defined-only` lists), read
//! from the file without loading it: the host decides from them what a plugin is before any
//! of its code runs, and names what it found when the library is not a plugin.
//!
//! The header and section headers come from the shared reader (the parent module), so a
//! malformed file gets the same message here as from the pre-load [check](super::check).

use std::collections::BTreeMap;
use std::path::Path;

use super::{open_file, Bytes, Header};

/// What a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Function,
    Data,
    Other,
}

/// One defined dynamic symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    pub kind: SymbolKind,
    /// `st_size`: the size of the object or function in bytes.
    pub size: u64,
}

const SHT_DYNSYM: u32 = 11;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
const SHN_UNDEF: u16 = 0;

/// The defined global (and weak) dynamic symbols of the ELF file `bytes`, by name.
pub fn dynamic_symbols(mut bytes: &[u8]) -> Result<BTreeMap<String, Symbol>, String> {
    symbols_of(&mut bytes)
}

/// The same for the file at `path`, reading only its headers and symbol tables.
pub fn file_dynamic_symbols(path: &Path) -> Result<BTreeMap<String, Symbol>, String> {
    symbols_of(&mut open_file(path)?)
}

/// Sections larger than this are not read (a symbol table is far smaller).
const MAX_SECTION: u64 = 256 << 20;

fn symbols_of(bytes: &mut dyn Bytes) -> Result<BTreeMap<String, Symbol>, String> {
    let h = Header::read(bytes)?;
    let sections = h.sections(bytes)?;
    if sections.is_empty() {
        return Err("the file has no section headers, so its dynamic symbols cannot be listed".into());
    }
    let read_section = |bytes: &mut dyn Bytes, i: usize, what: &str| {
        let section = &sections[i];
        let what = format!("its section #{i} ({what})");
        if section.size > MAX_SECTION {
            return Err(format!(
                "not a valid ELF file: {what} has {} bytes, too many for a symbol table",
                section.size
            ));
        }
        h.read_range(bytes, section.offset, section.size, &what)
    };
    let min_entry = if h.bits64 { 24 } else { 16 };
    let mut symbols = BTreeMap::new();
    for (i, section) in sections.iter().enumerate() {
        if section.kind != SHT_DYNSYM {
            continue;
        }
        let link = section.link as usize;
        if link >= sections.len() {
            return Err(format!(
                "not a valid ELF file: its section #{i} (.dynsym) names section #{link} as its strings, which does \
                 not exist"
            ));
        }
        let strings = read_section(bytes, link, ".dynstr")?;
        let table = read_section(bytes, i, ".dynsym")?;
        let entsize = match section.entsize {
            0 => min_entry,
            n if n < min_entry => {
                return Err(format!("not a valid ELF file: its section #{i} (.dynsym) has entries of {n} bytes"))
            }
            n => n,
        } as usize;
        for n in 0..table.len() / entsize {
            let entry = h.fields(&table[n * entsize..]);
            // Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64.
            // Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16.
            let (name, info, shndx, sym_size) = if h.bits64 {
                (entry.u32(0)?, entry.u8(4)?, entry.u16(6)?, entry.u64(16)?)
            } else {
                (entry.u32(0)?, entry.u8(12)?, entry.u16(14)?, u64::from(entry.u32(8)?))
            };
            let binding = info >> 4;
            if shndx == SHN_UNDEF || !matches!(binding, STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE) {
                continue;
            }
            let Some(text) = strings.get(name as usize..) else { continue };
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            let Ok(name) = std::str::from_utf8(&text[..end]) else { continue };
            if name.is_empty() {
                continue;
            }
            let kind = match info & 0xf {
                STT_FUNC | STT_GNU_IFUNC => SymbolKind::Function,
                STT_OBJECT => SymbolKind::Data,
                _ => SymbolKind::Other,
            };
            symbols.insert(name.to_string(), Symbol { kind, size: sym_size });
        }
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_dynamic_symbols_of_a_real_library() {
        // The C library this test process runs on.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        let Some(libc) = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains("libc.so"))
        else {
            return; // not glibc/Linux
        };
        let symbols = dynamic_symbols(&std::fs::read(libc).unwrap()).unwrap();
        assert_eq!(symbols["puts"].kind, SymbolKind::Function);
        assert!(symbols.len() > 500, "{}", symbols.len());
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let host = super::super::Target::HOST;
        assert_eq!(dynamic_symbols(b"hello"), Err(super::super::check_bytes(b"hello", host).unwrap_err()));
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(64, 0);
        bytes[0x28] = 0xff; // section headers past the end
        bytes[0x3a] = 64;
        bytes[0x3c] = 3;
        let e = dynamic_symbols(&bytes).unwrap_err();
        assert_eq!(
            e,
            "the library is truncated or corrupt: its section header table (bytes 255..+192) is past the end (the \
             file has 64 bytes)"
        );
        for len in 0..64 {
            assert!(dynamic_symbols(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn a_symbol_table_past_the_end_of_the_file_is_named() {
        // A header, a null section and a .dynsym whose 24 bytes lie far past the file's end.
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(64 + 2 * 64, 0);
        bytes[0x28] = 64; // e_shoff
        bytes[0x3a] = 64; // e_shentsize
        bytes[0x3c] = 2; // e_shnum
        let dynsym = 64 + 64;
        bytes[dynsym + 4] = SHT_DYNSYM as u8;
        bytes[dynsym + 0x18..dynsym + 0x20].copy_from_slice(&10_000u64.to_le_bytes());
        bytes[dynsym + 0x20] = 24;
        let e = dynamic_symbols(&bytes).unwrap_err();
        assert_eq!(
            e,
            "the library is truncated or corrupt: its section #1 (.dynsym) covers bytes 10000..10024, past the end \
             of the file (the file has 192 bytes)"
        );
        bytes[dynsym + 0x28] = 7; // its string table: a section that does not exist
        assert!(dynamic_symbols(&bytes).unwrap_err().contains("names section #7 as its strings"));
    }
}

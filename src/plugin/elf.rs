//! The dynamic symbols of an ELF shared library (what `nm -D --defined-only` lists), read
//! from the file without loading it: the host decides from them what a plugin is before any
//! of its code runs, and names what it found when the library is not a plugin.
//!
//! A small bounds-checked reader of the section headers and `.dynsym` (ELF32 and ELF64,
//! either byte order); every malformed offset is an error, never a panic.

use std::collections::BTreeMap;

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

/// The ELF magic every ELF file starts with.
pub const MAGIC: &[u8; 4] = b"\x7fELF";

const SHT_DYNSYM: u32 = 11;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_GNU_IFUNC: u8 = 10;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const STB_GNU_UNIQUE: u8 = 10;
const SHN_UNDEF: u16 = 0;

/// The defined global (and weak) dynamic symbols of the ELF file `bytes`, by name.
pub fn dynamic_symbols(bytes: &[u8]) -> Result<BTreeMap<String, Symbol>, String> {
    dynamic_symbols_with(|offset, len| {
        let start = usize::try_from(offset).map_err(|_| "offset out of range".to_string())?;
        start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("truncated ELF file ({len} bytes at offset {offset})"))
    })
}

/// The same for the file at `path`, reading only its headers and symbol tables.
pub fn file_dynamic_symbols(path: &std::path::Path) -> Result<BTreeMap<String, Symbol>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let file = std::cell::RefCell::new(std::fs::File::open(path).map_err(|e| format!("cannot read the library: {e}"))?);
    dynamic_symbols_with(|offset, len| {
        let mut file = file.borrow_mut();
        let mut buf = vec![0; len];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| format!("truncated ELF file ({len} bytes at offset {offset}): {e}"))?;
        Ok(buf)
    })
}

/// Sections larger than this are not read (a symbol table is far smaller).
const MAX_SECTION: u64 = 256 << 20;

fn dynamic_symbols_with(
    read_at: impl Fn(u64, usize) -> Result<Vec<u8>, String>,
) -> Result<BTreeMap<String, Symbol>, String> {
    let header = read_at(0, 16).map_err(|_| "not an ELF file".to_string())?;
    if &header[..4] != MAGIC {
        return Err("not an ELF file".into());
    }
    let wide = match header[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let big = match header[5] {
        1 => false,
        2 => true,
        d => return Err(format!("unknown ELF byte order {d}")),
    };
    let header = read_at(0, if wide { 64 } else { 52 })?;
    let r = Reader { bytes: &header, big };
    let (shoff, shentsize, shnum) = if wide {
        (r.u64(0x28)?, r.u16(0x3a)? as u64, r.u16(0x3c)? as u64)
    } else {
        (r.u32(0x20)? as u64, r.u16(0x2e)? as u64, r.u16(0x30)? as u64)
    };
    if shoff == 0 || shnum == 0 {
        return Err("the file has no section headers, so its dynamic symbols cannot be listed".into());
    }
    if shentsize < if wide { 64 } else { 40 } {
        return Err(format!("bad ELF section header size {shentsize}"));
    }
    let table = read_at(shoff, (shentsize * shnum) as usize)?;
    let headers = Reader { bytes: &table, big };
    // One section header: (type, offset, size, link, entsize).
    let section = |i: u64| -> Result<(u32, u64, u64, u32, u64), String> {
        if i >= shnum {
            return Err(format!("section {i} does not exist"));
        }
        let at = (i * shentsize) as usize;
        let r = &headers;
        if wide {
            Ok((r.u32(at + 4)?, r.u64(at + 0x18)?, r.u64(at + 0x20)?, r.u32(at + 0x28)?, r.u64(at + 0x38)?))
        } else {
            Ok((
                r.u32(at + 4)?,
                r.u32(at + 0x10)? as u64,
                r.u32(at + 0x14)? as u64,
                r.u32(at + 0x18)?,
                r.u32(at + 0x24)? as u64,
            ))
        }
    };
    let read_section = |offset: u64, size: u64| {
        if size > MAX_SECTION {
            return Err(format!("an ELF section of {size} bytes is too large"));
        }
        read_at(offset, size as usize)
    };
    let mut symbols = BTreeMap::new();
    for i in 0..shnum {
        let (kind, offset, size, link, entsize) = section(i)?;
        if kind != SHT_DYNSYM {
            continue;
        }
        let (_, str_offset, str_size, _, _) = section(link as u64)?;
        let strings = read_section(str_offset, str_size)?;
        let table = read_section(offset, size)?;
        let entsize = if entsize == 0 {
            if wide {
                24
            } else {
                16
            }
        } else {
            entsize
        } as usize;
        let entries = Reader { bytes: &table, big };
        for n in 0..table.len() / entsize {
            let at = n * entsize;
            // Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64.
            // Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16.
            let (name, info, shndx, sym_size) = if wide {
                (entries.u32(at)?, entries.u8(at + 4)?, entries.u16(at + 6)?, entries.u64(at + 16)?)
            } else {
                (entries.u32(at)?, entries.u8(at + 12)?, entries.u16(at + 14)?, entries.u32(at + 8)? as u64)
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

struct Reader<'a> {
    bytes: &'a [u8],
    big: bool,
}

impl Reader<'_> {
    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        at.checked_add(N)
            .and_then(|end| self.bytes.get(at..end))
            .map(|s| s.try_into().expect("length checked"))
            .ok_or_else(|| format!("truncated ELF file (offset {at})"))
    }
    fn u8(&self, at: usize) -> Result<u8, String> {
        Ok(self.array::<1>(at)?[0])
    }
    fn u16(&self, at: usize) -> Result<u16, String> {
        let b = self.array(at)?;
        Ok(if self.big { u16::from_be_bytes(b) } else { u16::from_le_bytes(b) })
    }
    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.array(at)?;
        Ok(if self.big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }
    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.array(at)?;
        Ok(if self.big { u64::from_be_bytes(b) } else { u64::from_le_bytes(b) })
    }
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
        assert!(dynamic_symbols(b"hello").is_err());
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(64, 0);
        bytes[0x28] = 0xff; // section headers past the end
        bytes[0x3c] = 3;
        assert!(dynamic_symbols(&bytes).is_err());
        for len in 0..64 {
            let _ = dynamic_symbols(&bytes[..len]);
        }
    }
}

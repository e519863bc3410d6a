//! Plugin library files, read without loading them: one bounds-checked reader of the ELF
//! header and section header table (ELF32 and ELF64, either byte order), serving
//!
//! - [`check`]: refuse a truncated or foreign library before the dynamic loader maps it
//!   (a library cut short would be mapped past its end and crash the process with SIGBUS);
//! - [`symbols`]: the library's dynamic symbols (`.dynsym`, what `nm -D --defined-only`
//!   lists), from which the host decides which ABI an entry speaks before any of its code
//!   runs.
//!
//! Both give the same messages for the same defect; every malformed offset or size is an
//! error naming what is wrong, never a panic.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

pub mod check;
pub mod symbols;

pub use check::{check_bytes, check_file, Format, Target};
pub use symbols::{dynamic_symbols, file_dynamic_symbols, Symbol, SymbolKind};

/// The ELF magic every ELF file starts with.
pub const MAGIC: &[u8; 4] = b"\x7fELF";

/// Random access to the bytes of a library: a file, or a buffer (tests and fuzzing).
pub trait Bytes {
    /// The length in bytes.
    fn size(&self) -> u64;
    /// `len` bytes at `offset`, which the caller has checked lie inside the file.
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
}

impl Bytes for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        self.get(start..start.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }
}

/// A library file, read where needed.
struct FileBytes {
    file: File,
    len: u64,
}

impl Bytes for FileBytes {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// The regular file at `path`, for reading.
fn open_file(path: &Path) -> Result<FileBytes, String> {
    let file = File::open(path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    Ok(FileBytes { file, len: meta.len() })
}

fn cannot_read(e: io::Error) -> String {
    format!("cannot read the library: {e}")
}

/// The first bytes of a library (up to 64, an ELF64 header); an error for an empty file.
fn read_head(bytes: &mut dyn Bytes) -> Result<Vec<u8>, String> {
    let len = bytes.size();
    if len == 0 {
        return Err("not a loadable library: the file is empty".into());
    }
    bytes.read_at(0, len.min(64) as usize).map_err(cannot_read)
}

/// Bytes for a message: as text when printable, else hex (`7f 45 4c 46`).
pub(crate) fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing (the file is empty)".into();
    }
    let printable = bytes.iter().all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\n' | b'\t'));
    if printable {
        format!("\"{}\"", String::from_utf8_lossy(bytes).escape_debug())
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    }
}

/// How a file's start is shown in a refusal: its first 16 bytes.
fn describe_start(head: &[u8]) -> String {
    describe_bytes(&head[..head.len().min(16)])
}

/// Little or big endian field reads of an ELF header or table entry; a field past the end
/// of `data` is an error.
struct Fields<'a> {
    data: &'a [u8],
    little: bool,
}

impl Fields<'_> {
    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        at.checked_add(N)
            .and_then(|end| self.data.get(at..end))
            .map(|s| s.try_into().expect("length checked"))
            .ok_or_else(|| format!("not a valid ELF file: a field at byte {at} of a {}-byte table", self.data.len()))
    }
    fn u8(&self, at: usize) -> Result<u8, String> {
        Ok(self.array::<1>(at)?[0])
    }
    fn u16(&self, at: usize) -> Result<u16, String> {
        let b = self.array(at)?;
        Ok(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }
    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.array(at)?;
        Ok(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }
    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.array(at)?;
        Ok(if self.little { u64::from_le_bytes(b) } else { u64::from_be_bytes(b) })
    }
    /// A 32-bit or 64-bit word (`Elf32_Off`/`Elf64_Off`, `Addr`, `Xword`).
    fn word(&self, at: usize, bits64: bool) -> Result<u64, String> {
        if bits64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

/// The ELF header: what both the check and the symbol reader need of it.
struct Header {
    /// The file's length in bytes.
    len: u64,
    bits64: bool,
    little: bool,
    e_type: u16,
    machine: u16,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
}

/// One section header: the fields the symbol reader uses.
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

impl Header {
    /// Parse the header of the file of `len` bytes that starts with `head` (up to 64 bytes):
    /// the magic, the class, the byte order and the header's fields.
    fn parse(head: &[u8], len: u64) -> Result<Header, String> {
        if !head.starts_with(MAGIC) {
            return Err(format!(
                "not an ELF shared library: it does not start with the ELF magic 7f 45 4c 46 but with {}",
                describe_start(head)
            ));
        }
        let truncated = |what: String| truncated(what, len);
        let bits64 = match head.get(4) {
            Some(1) => false,
            Some(2) => true,
            Some(c) => return Err(format!("not a valid ELF file: unknown class {c}")),
            None => return Err(truncated("the ELF header is cut short".into())),
        };
        let header_size = if bits64 { 64 } else { 52 };
        if head.len() < header_size {
            return Err(truncated(format!("the ELF header needs {header_size} bytes")));
        }
        let little = match head[5] {
            1 => true,
            2 => false,
            d => return Err(format!("not a valid ELF file: unknown byte order {d}")),
        };
        let h = Fields { data: head, little };
        // Offsets of the header fields after e_entry, which is a word.
        let w = if bits64 { 8 } else { 4 };
        let at = 24 + 3 * w + 4 + 2; // e_flags, e_ehsize
        Ok(Header {
            len,
            bits64,
            little,
            e_type: h.u16(16)?,
            machine: h.u16(18)?,
            phoff: h.word(24 + w, bits64)?,
            shoff: h.word(24 + 2 * w, bits64)?,
            phentsize: h.u16(at)?,
            phnum: h.u16(at + 2)?,
            shentsize: h.u16(at + 4)?,
            shnum: h.u16(at + 6)?,
        })
    }

    /// The header of the library in `bytes`.
    fn read(bytes: &mut dyn Bytes) -> Result<Header, String> {
        let head = read_head(bytes)?;
        Header::parse(&head, bytes.size())
    }

    fn fields<'a>(&self, data: &'a [u8]) -> Fields<'a> {
        Fields { data, little: self.little }
    }

    /// `size` bytes at `offset`, which must lie inside the file; `what` names them for the
    /// error (`its segment #2 (PT_LOAD)`).
    fn read_range(&self, bytes: &mut dyn Bytes, offset: u64, size: u64, what: &str) -> Result<Vec<u8>, String> {
        self.check_range(offset, size, what)?;
        let size = usize::try_from(size).map_err(|_| format!("not a valid ELF file: {what} is too large"))?;
        bytes.read_at(offset, size).map_err(cannot_read)
    }

    /// Whether `size` bytes at `offset` lie inside the file.
    fn check_range(&self, offset: u64, size: u64, what: &str) -> Result<(), String> {
        match offset.checked_add(size) {
            Some(end) if end <= self.len => Ok(()),
            Some(end) => {
                Err(truncated(format!("{what} covers bytes {offset}..{end}, past the end of the file"), self.len))
            }
            None => Err(format!("not a valid ELF file: {what} has an impossible size")),
        }
    }

    /// The section header table's size in bytes, checked to lie inside the file; None when
    /// the file has none (`e_shoff` 0). With `e_shnum` 0 the count is in the first entry,
    /// which must exist.
    fn section_table(&self) -> Result<Option<u64>, String> {
        if self.shoff == 0 {
            return Ok(None);
        }
        let min: u16 = if self.bits64 { 64 } else { 40 };
        if self.shentsize < min {
            return Err(format!("not a valid ELF file: section header entries of {} bytes", self.shentsize));
        }
        let table = u64::from(self.shentsize) * u64::from(self.shnum.max(1));
        if self.shoff.checked_add(table).is_none_or(|end| end > self.len) {
            return Err(truncated(
                format!("its section header table (bytes {}..+{table}) is past the end", self.shoff),
                self.len,
            ));
        }
        Ok(Some(table))
    }

    /// The section headers (none when `e_shoff` or `e_shnum` is 0).
    fn sections(&self, bytes: &mut dyn Bytes) -> Result<Vec<Section>, String> {
        if self.section_table()?.is_none() || self.shnum == 0 {
            return Ok(Vec::new());
        }
        let size = u64::from(self.shentsize) * u64::from(self.shnum);
        let table = self.read_range(bytes, self.shoff, size, "its section header table")?;
        let entsize = usize::from(self.shentsize);
        (0..usize::from(self.shnum))
            .map(|i| {
                let r = self.fields(&table[i * entsize..]);
                // Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign,
                // entsize; Elf32_Shdr the same with 32-bit words.
                Ok(if self.bits64 {
                    Section {
                        kind: r.u32(4)?,
                        offset: r.u64(0x18)?,
                        size: r.u64(0x20)?,
                        link: r.u32(0x28)?,
                        entsize: r.u64(0x38)?,
                    }
                } else {
                    Section {
                        kind: r.u32(4)?,
                        offset: r.u32(0x10)?.into(),
                        size: r.u32(0x14)?.into(),
                        link: r.u32(0x18)?,
                        entsize: r.u32(0x24)?.into(),
                    }
                })
            })
            .collect()
    }
}

/// `the library is truncated or corrupt: <what> (the file has <len> bytes)`.
fn truncated(what: String, len: u64) -> String {
    format!("the library is truncated or corrupt: {what} (the file has {len} bytes)")
}

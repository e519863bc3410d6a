//! The check of a plugin library file before it is handed to the dynamic loader.
//!
//! `dlopen` trusts the file: a truncated library (the first 4 KiB of a real `.so`, a copy cut
//! short by a full disk) is mapped as if it were whole, and the first touch of a page past the
//! end of the file kills the process with SIGBUS. So before loading, the host reads the file's
//! headers and refuses, with an error naming the file, anything the loader would map past its
//! end or could not use in this process:
//!
//! - an empty file, or one too short for a header;
//! - ELF (Linux and the other ELF systems): the magic, the class (32/64-bit) and byte order of
//!   this process, the type (a shared object, `ET_DYN`), the machine of this process, the
//!   program header table and the section header table inside the file, and the file range of
//!   every `PT_LOAD` and `PT_DYNAMIC` segment inside the file;
//! - Mach-O (macOS) and PE (Windows): only the magic; the rest is left to the system loader.
//!
//! The file can still change between this check and the load; the check guards against
//! broken files, not against someone who can write to the plugin folder (the sha256 pin and
//! the allowed folder do that).

use std::path::Path;

use super::{describe_start, open_file, read_head, truncated, Bytes, Header};

/// The binary format this process loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Elf,
    MachO,
    Pe,
}

impl Format {
    /// The format of this platform's shared libraries.
    pub const NATIVE: Format = if cfg!(target_os = "macos") || cfg!(target_os = "ios") {
        Format::MachO
    } else if cfg!(windows) {
        Format::Pe
    } else {
        Format::Elf
    };
}

/// What this process can load: the format, pointer width, byte order and ELF machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub format: Format,
    pub bits64: bool,
    pub little_endian: bool,
    /// `e_machine`; `None` skips the machine check (an architecture not listed here).
    pub machine: Option<u16>,
}

impl Target {
    /// This process.
    pub const HOST: Target = Target {
        format: Format::NATIVE,
        bits64: cfg!(target_pointer_width = "64"),
        little_endian: cfg!(target_endian = "little"),
        machine: host_machine(),
    };
}

/// ELF machines (`e_machine`): the number, its name in messages, and whether this process
/// runs on it.
const MACHINES: &[(u16, &str, bool)] = &[
    (62, "x86-64", cfg!(target_arch = "x86_64")),
    (183, "aarch64", cfg!(target_arch = "aarch64")),
    (3, "x86", cfg!(target_arch = "x86")),
    (40, "arm", cfg!(target_arch = "arm")),
    (243, "risc-v", cfg!(any(target_arch = "riscv64", target_arch = "riscv32"))),
    (21, "ppc64", cfg!(target_arch = "powerpc64")),
    (22, "s390x", cfg!(target_arch = "s390x")),
    (258, "loongarch", cfg!(target_arch = "loongarch64")),
];

const fn host_machine() -> Option<u16> {
    let mut i = 0;
    while i < MACHINES.len() {
        if MACHINES[i].2 {
            return Some(MACHINES[i].0);
        }
        i += 1;
    }
    None
}

fn machine_name(m: u16) -> String {
    match MACHINES.iter().find(|(number, _, _)| *number == m) {
        Some((_, name, _)) => name.to_string(),
        None => format!("machine {m}"),
    }
}

/// Why the library at `path` cannot be loaded safely, or `Ok` when its headers are sound.
/// The reason is a phrase such as `the file is empty`, to follow `plugin <spec>: `.
pub fn check_file(path: &Path) -> Result<(), String> {
    check(open_file(path)?, Target::HOST)
}

/// [`check_file`] on bytes in memory, for `target`.
pub fn check_bytes(bytes: &[u8], target: Target) -> Result<(), String> {
    check(bytes, target)
}

/// Largest header table read (program headers); real libraries have a few dozen entries.
const MAX_TABLE_BYTES: u64 = 1 << 20;

fn check(mut bytes: impl Bytes, target: Target) -> Result<(), String> {
    let head = read_head(&mut bytes)?;
    match target.format {
        Format::Elf => check_elf(&mut bytes, &head, target),
        Format::MachO => {
            const MAGICS: [[u8; 4]; 6] = [
                [0xfe, 0xed, 0xfa, 0xce],
                [0xce, 0xfa, 0xed, 0xfe],
                [0xfe, 0xed, 0xfa, 0xcf],
                [0xcf, 0xfa, 0xed, 0xfe],
                [0xca, 0xfe, 0xba, 0xbe],
                [0xbe, 0xba, 0xfe, 0xca],
            ];
            if head.len() < 4 || !MAGICS.iter().any(|m| head.starts_with(m)) {
                return Err(format!("not a Mach-O library: it starts with {}", describe_start(&head)));
            }
            Ok(())
        }
        Format::Pe => {
            if !head.starts_with(b"MZ") {
                return Err(format!("not a Windows DLL: it starts with {}", describe_start(&head)));
            }
            Ok(())
        }
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const ET_DYN: u16 = 3;
const PN_XNUM: u16 = 0xffff;

fn check_elf(bytes: &mut dyn Bytes, head: &[u8], target: Target) -> Result<(), String> {
    let len = bytes.size();
    let h = Header::parse(head, len)?;
    let bits64 = h.bits64;
    if bits64 != target.bits64 {
        return Err(format!(
            "a {}-bit library cannot be loaded into this {}-bit process",
            if bits64 { 64 } else { 32 },
            if target.bits64 { 64 } else { 32 }
        ));
    }
    if h.little != target.little_endian {
        return Err(format!(
            "a {}-endian library cannot be loaded into this {}-endian process",
            if h.little { "little" } else { "big" },
            if target.little_endian { "little" } else { "big" }
        ));
    }
    if h.e_type != ET_DYN {
        let kind = match h.e_type {
            1 => "a relocatable object (.o)".to_string(),
            2 => "an executable".to_string(),
            4 => "a core dump".to_string(),
            t => format!("ELF type {t}"),
        };
        return Err(format!("not a shared library: the file is {kind}"));
    }
    if let Some(ours) = target.machine {
        if h.machine != ours {
            return Err(format!(
                "the library is built for {}, but this process runs on {}",
                machine_name(h.machine),
                machine_name(ours)
            ));
        }
    }

    // Program headers: the table, then each segment the loader maps.
    let (phoff, phentsize, phnum) = (h.phoff, h.phentsize, h.phnum);
    let ph_min = if bits64 { 56 } else { 32 };
    if phnum == 0 {
        return Err("not a loadable library: it has no program headers".into());
    }
    if phnum == PN_XNUM {
        return Err("not a loadable library: too many program headers".into());
    }
    if usize::from(phentsize) < ph_min {
        return Err(format!("not a valid ELF file: program header entries of {phentsize} bytes"));
    }
    let table = u64::from(phentsize) * u64::from(phnum);
    if phoff.checked_add(table).is_none_or(|end| end > len) {
        return Err(truncated(format!("its program header table (bytes {phoff}..+{table}) is past the end"), len));
    }
    if table > MAX_TABLE_BYTES {
        return Err(format!("not a valid ELF file: a program header table of {table} bytes"));
    }
    let data = h.read_range(bytes, phoff, table, "its program header table")?;
    for i in 0..usize::from(phnum) {
        let entry = h.fields(&data[i * usize::from(phentsize)..]);
        let p_type = entry.u32(0)?;
        if p_type != PT_LOAD && p_type != PT_DYNAMIC {
            continue;
        }
        // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz; Elf32_Phdr: type, offset,
        // vaddr, paddr, filesz, memsz, flags.
        let (offset, filesz) = if bits64 {
            (entry.u64(8)?, entry.u64(32)?)
        } else {
            (u64::from(entry.u32(4)?), u64::from(entry.u32(16)?))
        };
        let name = if p_type == PT_LOAD { "PT_LOAD" } else { "PT_DYNAMIC" };
        h.check_range(offset, filesz, &format!("its segment #{i} ({name})"))?;
    }

    // Section headers are not needed to load, but a table past the end is a cut file too.
    h.section_table()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86_64: Target = Target { format: Format::Elf, bits64: true, little_endian: true, machine: Some(62) };

    /// A minimal 64-bit little-endian ET_DYN x86-64 file: header, one PT_LOAD covering
    /// `load_end` bytes from 0, and `len` bytes in all.
    fn elf(len: usize, load_end: u64) -> Vec<u8> {
        let mut f = vec![0u8; len.max(64 + 56)];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&ET_DYN.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        f[64..68].copy_from_slice(&PT_LOAD.to_le_bytes());
        f[64 + 32..64 + 40].copy_from_slice(&load_end.to_le_bytes()); // filesz
        f.truncate(len.max(64 + 56));
        f
    }

    #[test]
    fn a_sound_header_passes_and_each_defect_is_named() {
        assert_eq!(check_bytes(&elf(4096, 4096), X86_64), Ok(()));
        let e = check_bytes(&elf(4096, 70_000), X86_64).unwrap_err();
        assert_eq!(
            e,
            "the library is truncated or corrupt: its segment #0 (PT_LOAD) covers bytes 0..70000, past the end of \
             the file (the file has 4096 bytes)"
        );
        assert_eq!(check_bytes(b"", X86_64).unwrap_err(), "not a loadable library: the file is empty");
        assert_eq!(
            check_bytes(b"GIF89a", X86_64).unwrap_err(),
            "not an ELF shared library: it does not start with the ELF magic 7f 45 4c 46 but with \"GIF89a\""
        );
        let e = check_bytes(&elf(4096, 4096)[..40], X86_64).unwrap_err();
        assert!(e.contains("the ELF header needs 64 bytes"), "{e}");
        let aarch64 = Target { machine: Some(183), ..X86_64 };
        let e = check_bytes(&elf(4096, 4096), aarch64).unwrap_err();
        assert_eq!(e, "the library is built for x86-64, but this process runs on aarch64");
        let e = check_bytes(&elf(4096, 4096), Target { bits64: false, ..X86_64 }).unwrap_err();
        assert_eq!(e, "a 64-bit library cannot be loaded into this 32-bit process");
        let mut exe = elf(4096, 4096);
        exe[16] = 2;
        assert_eq!(check_bytes(&exe, X86_64).unwrap_err(), "not a shared library: the file is an executable");
        let mut huge = elf(4096, 4096);
        huge[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check_bytes(&huge, X86_64).unwrap_err().contains("impossible size"));
        let mut cut_table = elf(4096, 4096);
        cut_table[56..58].copy_from_slice(&1000u16.to_le_bytes());
        assert!(check_bytes(&cut_table, X86_64).unwrap_err().contains("program header table"));
        let mut sections = elf(4096, 4096);
        sections[40..48].copy_from_slice(&4000u64.to_le_bytes());
        sections[58..60].copy_from_slice(&64u16.to_le_bytes());
        sections[60..62].copy_from_slice(&30u16.to_le_bytes());
        assert!(check_bytes(&sections, X86_64).unwrap_err().contains("section header table (bytes 4000..+1920)"));
    }

    #[test]
    fn other_formats_check_only_the_magic() {
        let macho = Target { format: Format::MachO, ..X86_64 };
        assert_eq!(check_bytes(&[0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1], macho), Ok(()));
        assert!(check_bytes(b"\x7fELF", macho).unwrap_err().starts_with("not a Mach-O library: it starts with 7f 45"));
        let pe = Target { format: Format::Pe, ..X86_64 };
        assert_eq!(check_bytes(b"MZ\x90\0", pe), Ok(()));
        assert!(check_bytes(&[0; 8], pe).unwrap_err().ends_with("it starts with 00 00 00 00 00 00 00 00"));
    }

    #[test]
    fn the_running_test_binary_passes_and_every_prefix_of_it_is_refused_or_whole() {
        // The test executable is PIE (ET_DYN) on most systems; when it is not, skip.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if check_bytes(&exe, Target::HOST).is_err() {
            return;
        }
        for cut in [0, 1, 4, 63, 64, 4096, exe.len() / 2, exe.len() - 1] {
            assert!(check_bytes(&exe[..cut], Target::HOST).is_err(), "a prefix of {cut} bytes passed");
        }
    }
}

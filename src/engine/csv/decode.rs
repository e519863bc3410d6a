//! Turns the raw bytes of a file into UTF-8 text for the splitter.
//!
//! UTF-8 input passes through untouched (validated later, per chunk, by the parser).
//! UTF-16 and single-byte encodings are transcoded here. Text that is invalid for its
//! encoding is replaced by U+FFFD *and* its position is recorded, so the record holding it
//! becomes a bad row instead of silently carrying a replacement character.

use std::io::{self, Read};

use super::options::Encoding;

const BOM_UTF8: &[u8] = &[0xEF, 0xBB, 0xBF];
const BOM_UTF16LE: &[u8] = &[0xFF, 0xFE];
const BOM_UTF16BE: &[u8] = &[0xFE, 0xFF];
const RAW_BLOCK: usize = 256 * 1024;

/// The concrete encoding chosen for one file after looking at its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Utf8,
    Utf16Le,
    Utf16Be,
    Latin1,
    Windows1252,
}

impl Resolved {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Resolved::Utf8 => "UTF-8",
            Resolved::Utf16Le => "UTF-16LE",
            Resolved::Utf16Be => "UTF-16BE",
            Resolved::Latin1 => "Latin-1",
            Resolved::Windows1252 => "Windows-1252",
        }
    }
}

pub(crate) struct Decoder {
    input: Box<dyn Read + Send>,
    pub(crate) encoding: Resolved,
    /// How the encoding was chosen: `given`, `byte-order mark`, `zero bytes` (UTF-16 without
    /// a BOM), `valid UTF-8`, or `fallback` (the first block is not valid UTF-8, so it is
    /// read as Windows-1252; the reader warns).
    pub(crate) chosen_by: &'static str,
    transcoder: Option<encoding_rs::Decoder>,
    /// Raw bytes read but not yet decoded.
    raw: Vec<u8>,
    raw_pos: usize,
    raw_eof: bool,
    /// Raw bytes consumed from the input so far (for progress).
    pub(crate) raw_consumed: u64,
    /// Decoded bytes produced so far: the offset of the next output byte.
    out_offset: u64,
    /// Output offsets of replaced invalid text, in increasing order, not yet claimed.
    pub(crate) malformed: std::collections::VecDeque<u64>,
}

fn read_full(input: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    // Returns true at end of input.
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut filled = start;
    let mut eof = false;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                buf.truncate(filled);
                return Err(e);
            }
        }
    }
    buf.truncate(filled);
    Ok(eof)
}

/// Guess UTF-16 without a BOM from where the zero bytes are: ASCII text in UTF-16LE has a
/// zero in every odd byte (SQL Server's bcp/`-w` exports look like that).
fn sniff_utf16(head: &[u8]) -> Option<Resolved> {
    let n = head.len().min(512) & !1;
    if n < 4 {
        return None;
    }
    let (mut zero_even, mut zero_odd) = (0, 0);
    for (i, &b) in head[..n].iter().enumerate() {
        if b == 0 {
            if i % 2 == 0 {
                zero_even += 1
            } else {
                zero_odd += 1
            }
        }
    }
    let units = n / 2;
    if zero_odd * 10 >= units * 9 && zero_even == 0 {
        Some(Resolved::Utf16Le)
    } else if zero_even * 10 >= units * 9 && zero_odd == 0 {
        Some(Resolved::Utf16Be)
    } else {
        None
    }
}

/// Whether the first block of a file is UTF-8: valid (allowing a character cut by the end of
/// the block, not by the end of the file), or with UTF-8 multi-byte characters before its
/// first invalid byte (UTF-8 with a damaged row, which becomes a bad row, not a reason to
/// read every other character wrong).
fn utf8_prefix_valid(raw: &[u8], eof: bool) -> bool {
    match simdutf8::compat::from_utf8(raw) {
        Ok(_) => true,
        Err(e) if !eof && e.error_len().is_none() && raw.len() - e.valid_up_to() < 4 => true,
        Err(e) => !raw[..e.valid_up_to()].is_ascii(),
    }
}

impl Decoder {
    /// Looks at the first bytes to resolve the encoding (BOM, or sniffing for `auto`).
    /// Errors are plain strings; the caller adds the file name.
    pub(crate) fn new(mut input: Box<dyn Read + Send>, requested: Encoding) -> Result<Decoder, String> {
        let mut raw = Vec::with_capacity(RAW_BLOCK);
        let raw_eof = read_full(&mut *input, &mut raw, RAW_BLOCK).map_err(|e| format!("cannot read: {e}"))?;
        let bom: Option<(Resolved, usize)> = if raw.starts_with(BOM_UTF8) {
            Some((Resolved::Utf8, 3))
        } else if raw.starts_with(BOM_UTF16LE) {
            Some((Resolved::Utf16Le, 2))
        } else if raw.starts_with(BOM_UTF16BE) {
            Some((Resolved::Utf16Be, 2))
        } else {
            None
        };
        let requested_resolved = match requested {
            Encoding::Auto => None,
            Encoding::Utf8 => Some(Resolved::Utf8),
            Encoding::Utf16Le => Some(Resolved::Utf16Le),
            Encoding::Utf16Be => Some(Resolved::Utf16Be),
            Encoding::Latin1 => Some(Resolved::Latin1),
            Encoding::Windows1252 => Some(Resolved::Windows1252),
        };
        let (encoding, skip, chosen_by) = match (requested_resolved, bom) {
            (None, Some((enc, len))) => (enc, len, "byte-order mark"),
            (None, None) => match sniff_utf16(&raw) {
                Some(enc) => (enc, 0, "zero bytes"),
                None if utf8_prefix_valid(&raw, raw_eof) => (Resolved::Utf8, 0, "valid UTF-8"),
                None => (Resolved::Windows1252, 0, "fallback"),
            },
            (Some(req), Some((enc, len))) if req == enc => (enc, len, "given"),
            (Some(req), Some((enc, _))) => {
                return Err(format!(
                    "the file starts with a {} byte-order mark but encoding is set to {}; \
                     set encoding to {} (or auto)",
                    enc.name(),
                    req.name(),
                    match enc {
                        Resolved::Utf16Le => "utf-16-le",
                        Resolved::Utf16Be => "utf-16-be",
                        _ => "utf-8",
                    }
                ))
            }
            (Some(req), None) => (req, 0, "given"),
        };
        let transcoder = match encoding {
            Resolved::Utf16Le => Some(encoding_rs::UTF_16LE.new_decoder_without_bom_handling()),
            Resolved::Utf16Be => Some(encoding_rs::UTF_16BE.new_decoder_without_bom_handling()),
            Resolved::Windows1252 => Some(encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling()),
            Resolved::Utf8 | Resolved::Latin1 => None,
        };
        Ok(Decoder {
            input,
            encoding,
            chosen_by,
            transcoder,
            raw,
            raw_pos: skip,
            raw_eof,
            raw_consumed: skip as u64,
            out_offset: 0,
            malformed: Default::default(),
        })
    }

    /// Appends up to about `max` decoded bytes to `out`; returns how many (0 = end of input).
    pub(crate) fn read_into(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        // UTF-8 needs no transcoding: once the sniffed first block is used up, read straight
        // into the caller's buffer (no copy, no zeroing).
        if self.encoding == Resolved::Utf8 && self.raw_pos == self.raw.len() {
            if self.raw_eof {
                return Ok(0);
            }
            let n = (&mut self.input).take(max as u64).read_to_end(out)?;
            self.raw_consumed += n as u64;
            self.out_offset += n as u64;
            if n == 0 {
                self.raw_eof = true;
            }
            return Ok(n);
        }
        loop {
            if self.raw_pos == self.raw.len() {
                if self.raw_eof {
                    return self.finish(out);
                }
                self.raw.clear();
                self.raw_pos = 0;
                self.raw_eof = read_full(&mut *self.input, &mut self.raw, max.max(4096))?;
                continue;
            }
            let before = out.len();
            match self.encoding {
                Resolved::Utf8 => {
                    let take = (self.raw.len() - self.raw_pos).min(max);
                    out.extend_from_slice(&self.raw[self.raw_pos..self.raw_pos + take]);
                    self.raw_pos += take;
                    self.raw_consumed += take as u64;
                }
                Resolved::Latin1 => {
                    let take = (self.raw.len() - self.raw_pos).min(max / 2).max(1);
                    for &b in &self.raw[self.raw_pos..self.raw_pos + take] {
                        if b < 0x80 {
                            out.push(b);
                        } else {
                            out.push(0xC0 | (b >> 6));
                            out.push(0x80 | (b & 0x3F));
                        }
                    }
                    self.raw_pos += take;
                    self.raw_consumed += take as u64;
                }
                _ => self.transcode(out, max, false),
            }
            let n = out.len() - before;
            self.out_offset += n as u64;
            if n > 0 {
                return Ok(n);
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        // Flush a transcoder holding half a character (e.g. an odd trailing byte of UTF-16).
        if self.transcoder.is_some() {
            let before = out.len();
            self.transcode(out, 64, true);
            let n = out.len() - before;
            self.out_offset += n as u64;
            self.transcoder = None;
            return Ok(n);
        }
        Ok(0)
    }

    fn transcode(&mut self, out: &mut Vec<u8>, max: usize, last: bool) {
        let dec = self.transcoder.as_mut().expect("transcoder");
        let start = out.len();
        // UTF-16 -> UTF-8 grows at most 3/2x; single-byte -> UTF-8 at most 3x.
        out.resize(start + max.max(64) + 8, 0);
        let mut written_total = 0;
        loop {
            let src = &self.raw[self.raw_pos..];
            let dst = &mut out[start + written_total..];
            let (result, read, written) = dec.decode_to_utf8_without_replacement(src, dst, last);
            self.raw_pos += read;
            self.raw_consumed += read as u64;
            written_total += written;
            match result {
                encoding_rs::DecoderResult::InputEmpty | encoding_rs::DecoderResult::OutputFull => break,
                encoding_rs::DecoderResult::Malformed(_, _) => {
                    // Record where the bad text is, and put U+FFFD there.
                    if out.len() < start + written_total + 3 {
                        out.resize(start + written_total + 3, 0);
                    }
                    self.malformed.push_back(self.out_offset + written_total as u64);
                    out[start + written_total..start + written_total + 3].copy_from_slice("\u{FFFD}".as_bytes());
                    written_total += 3;
                    if out.len() - (start + written_total) < 8 {
                        break;
                    }
                }
            }
        }
        out.truncate(start + written_total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], enc: Encoding) -> Result<(String, Vec<u64>, Resolved), String> {
        let mut d = Decoder::new(Box::new(std::io::Cursor::new(bytes.to_vec())), enc)?;
        let mut out = Vec::new();
        while d.read_into(&mut out, 7).unwrap() > 0 {}
        Ok((String::from_utf8(out).unwrap(), d.malformed.iter().copied().collect(), d.encoding))
    }

    fn utf16le(s: &str, bom: bool) -> Vec<u8> {
        let mut v = if bom { vec![0xFF, 0xFE] } else { vec![] };
        for u in s.encode_utf16() {
            v.extend_from_slice(&u.to_le_bytes());
        }
        v
    }

    #[test]
    fn utf8_bom_is_stripped() {
        let (s, bad, enc) = decode_all(b"\xEF\xBB\xBFa,b\n", Encoding::Auto).unwrap();
        assert_eq!((s.as_str(), bad.len(), enc), ("a,b\n", 0, Resolved::Utf8));
    }

    #[test]
    fn utf16le_is_detected_by_bom_and_by_sniffing() {
        let text = "id\tname\n1\tJosé\n";
        for bom in [true, false] {
            let (s, bad, enc) = decode_all(&utf16le(text, bom), Encoding::Auto).unwrap();
            assert_eq!((s.as_str(), bad.len(), enc), (text, 0, Resolved::Utf16Le));
        }
        let (s, _, _) = decode_all(&utf16le(text, false), Encoding::Utf16Le).unwrap();
        assert_eq!(s, text);
    }

    #[test]
    fn utf16be_bom() {
        let mut v = vec![0xFE, 0xFF];
        for u in "a,b\n".encode_utf16() {
            v.extend_from_slice(&u.to_be_bytes());
        }
        let (s, _, enc) = decode_all(&v, Encoding::Auto).unwrap();
        assert_eq!((s.as_str(), enc), ("a,b\n", Resolved::Utf16Be));
    }

    #[test]
    fn invalid_utf16_is_replaced_and_located() {
        // "a\n" then a lone high surrogate, then "b\n".
        let mut v = utf16le("a\n", true);
        v.extend_from_slice(&0xD800u16.to_le_bytes());
        v.extend_from_slice(&utf16le("b\n", false));
        let (s, bad, _) = decode_all(&v, Encoding::Auto).unwrap();
        assert_eq!(s, "a\n\u{FFFD}b\n");
        assert_eq!(bad, vec![2]);
    }

    #[test]
    fn latin1_maps_bytes_to_code_points() {
        let (s, _, _) = decode_all(b"caf\xE9,\x80\n", Encoding::Latin1).unwrap();
        assert_eq!(s, "café,\u{80}\n");
        let (s, _, _) = decode_all(b"\x80\n", Encoding::Windows1252).unwrap();
        assert_eq!(s, "€\n");
    }

    #[test]
    fn text_that_is_not_utf8_falls_back_to_windows_1252() {
        let (s, bad, enc) = decode_all(b"id,name\n1,Jos\xe9 \x80\n", Encoding::Auto).unwrap();
        assert_eq!((s.as_str(), bad.len(), enc), ("id,name\n1,José €\n", 0, Resolved::Windows1252));
        let given = Decoder::new(Box::new(std::io::Cursor::new(b"1,Jos\xe9\n".to_vec())), Encoding::Utf8).unwrap();
        assert_eq!((given.encoding, given.chosen_by), (Resolved::Utf8, "given"), "bad rows later");
        assert!(utf8_prefix_valid("é".as_bytes().split_at(1).0, false), "a character cut by the block end");
        assert!(!utf8_prefix_valid("é".as_bytes().split_at(1).0, true));
        assert!(utf8_prefix_valid(b"caf\xc3\xa9 \xff", true), "UTF-8 text with a damaged byte");
    }

    #[test]
    fn bom_contradicting_the_requested_encoding_is_an_error() {
        let err = decode_all(&utf16le("a\n", true), Encoding::Utf8).unwrap_err();
        assert!(err.contains("UTF-16LE byte-order mark") && err.contains("utf-16-le"), "{err}");
    }
}

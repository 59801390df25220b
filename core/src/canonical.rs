//! RFC 8785, the JSON Canonicalization Scheme (JCS), in one pass over the input.
//!
//! Why this exists: a receiver behind a framework that already parsed the body can
//! rebuild the exact signed bytes with `canonicalize(parsed)`, in any language
//! (PROTOCOL §3). The server serializes every envelope in this form.
//!
//! How: a recursive-descent parser that writes canonical output as it reads. Strings
//! are copied run by run (a raw run inside a JSON string never needs escaping in JCS);
//! escapes are decoded and re-escaped the JCS way. Numbers take a fast path for short
//! integers, else are parsed as IEEE 754 doubles and printed in ECMAScript's shortest
//! round-trip form (ryu-js). Object members are written in input order, each segment
//! remembered; when an object ends its members are checked for duplicates and, only if
//! they were out of order, rewritten sorted by the UTF-16 code units of their names.
//!
//! Refused, as RFC 8785 and I-JSON (RFC 7493) require: invalid UTF-8, lone surrogates,
//! duplicate names, numbers beyond the range of a double, anything after the value, and
//! nesting deeper than [`MAX_DEPTH`]. Also refused, as limits of this implementation:
//! input over 1 GiB, and output over [`MAX_OUTPUT`] bytes (`too_large`). Memory: the
//! output, plus 24 bytes per member of each object still open, plus decoded copies of
//! names that contain escapes.

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::error::{CanonicalizeError, CanonicalizeErrorKind as Kind};

/// The deepest nesting of arrays and objects accepted (`[]` is depth 1). Deeper input is
/// refused with `too_deep`, so that no input can exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Returns the RFC 8785 canonical form of a JSON text.
///
/// ```
/// let canonical = menon_webhooks::canonicalize(br#"{ "b": 1e21, "a": [0.10, -0, "\u00e9"] }"#)?;
/// assert_eq!(canonical, r#"{"a":[0.1,0,"é"],"b":1e+21}"#.as_bytes());
/// # Ok::<(), menon_webhooks::CanonicalizeError>(())
/// ```
pub fn canonicalize(json: &[u8]) -> Result<Vec<u8>, CanonicalizeError> {
    let mut out = Vec::with_capacity(json.len());
    canonicalize_into(json, &mut out)?;
    Ok(out)
}

/// Appends the canonical form of `json` to `out`, reusing its allocation. On error `out`
/// is left as it was.
///
/// `out` as a whole, what it held before included, may not grow past 4 GiB − 1 bytes:
/// beyond that the call fails with code `too_large`.
pub fn canonicalize_into(json: &[u8], out: &mut Vec<u8>) -> Result<(), CanonicalizeError> {
    canonicalize_limited(json, out, MAX_OUTPUT)
}

/// [`canonicalize_into`] with `out` limited to `max_output` bytes, so that tests can reach
/// the limit with small inputs.
fn canonicalize_limited(
    json: &[u8],
    out: &mut Vec<u8>,
    max_output: usize,
) -> Result<(), CanonicalizeError> {
    let start = out.len();
    let result = Parser::new(json, out, max_output).and_then(|mut parser| parser.document());
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// One object member already written to the output.
#[derive(Clone, Copy)]
struct Member {
    /// Where the decoded name is: `src[key_start..key_end]` if the name had no escapes,
    /// else `names[key_start..key_end]`.
    key_start: u32,
    key_end: u32,
    key_in_src: bool,
    /// Offset of the name in the input, for error messages.
    key_pos: u32,
    /// The member's `"name":value` bytes in the output.
    seg_start: u32,
    seg_end: u32,
}

struct Parser<'a, 'o> {
    src: &'a [u8],
    pos: usize,
    out: &'o mut Vec<u8>,
    /// Members of every object still open, innermost last.
    members: Vec<Member>,
    /// Decoded names that contained escapes.
    names: Vec<u8>,
    /// Room to reorder one object's members.
    scratch: Vec<u8>,
    /// The most `out.len()` may reach; at most [`MAX_OUTPUT`].
    max_output: usize,
}

fn fail<T>(kind: Kind, offset: usize) -> Result<T, CanonicalizeError> {
    Err(CanonicalizeError { kind, offset })
}

fn invalid<T>(reason: &'static str, offset: usize) -> Result<T, CanonicalizeError> {
    fail(Kind::InvalidJson { reason }, offset)
}

/// The largest input accepted. Strings never grow when canonicalized, but numbers can
/// (`1e20` is written `100000000000000000000`), so this alone does not bound the output.
const MAX_INPUT: usize = 1 << 30;

/// The most bytes the output buffer may hold: 4 GiB − 1, what a `u32` offset addresses.
///
/// Why bound the output rather than widen the offsets: [`Member`] keeps its offsets as
/// `u32`, which keeps it at 24 bytes for every member of every open object (32 with
/// `usize` output offsets, 48 with all five). Only a document of huge numbers written the
/// short way (`1e20`, 4 bytes in, 21 out) can pass 4 GiB from a 1 GiB input; no webhook
/// body comes near, and a 32-bit target could not hold such output anyway. So it is
/// refused, with `too_large`, instead of costing every caller memory.
const MAX_OUTPUT: usize = u32::MAX as usize;

// Every output offset that passes the size check fits a `u32`.
const _: () = assert!(MAX_OUTPUT <= u32::MAX as usize);

impl<'a, 'o> Parser<'a, 'o> {
    fn new(
        src: &'a [u8],
        out: &'o mut Vec<u8>,
        max_output: usize,
    ) -> Result<Self, CanonicalizeError> {
        if let Err(e) = core::str::from_utf8(src) {
            return fail(Kind::InvalidUtf8, e.valid_up_to());
        }
        if src.len() > MAX_INPUT {
            return invalid("input larger than 1 GiB", MAX_INPUT);
        }
        Ok(Self {
            src,
            pos: 0,
            out,
            members: Vec::new(),
            names: Vec::new(),
            scratch: Vec::new(),
            max_output: max_output.min(MAX_OUTPUT),
        })
    }

    /// An offset as stored in a [`Member`]. The input and output limits keep every offset
    /// within `u32`; were one not, this refuses (at input byte `at`) rather than
    /// saturating, so that members are never sorted by wrong offsets.
    fn offset32(&self, offset: usize, at: usize) -> Result<u32, CanonicalizeError> {
        match u32::try_from(offset) {
            Ok(offset) => Ok(offset),
            Err(_) => fail(
                Kind::TooLarge {
                    limit: self.max_output,
                },
                at,
            ),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn document(&mut self) -> Result<(), CanonicalizeError> {
        self.skip_ws();
        if self.src.starts_with(b"\xEF\xBB\xBF") {
            return invalid("a byte order mark (BOM) is not allowed before JSON text", 0);
        }
        self.value(0)?;
        self.skip_ws();
        if self.pos < self.src.len() {
            return fail(Kind::TrailingData, self.pos);
        }
        Ok(())
    }

    /// Writes one value, then refuses it if the output grew past `max_output`. Every byte
    /// is written inside some value, so this bounds the whole output; and since it runs
    /// before a member's end is recorded, every recorded offset is within the limit.
    fn value(&mut self, depth: usize) -> Result<(), CanonicalizeError> {
        let start = self.pos;
        let written = match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(|_| ()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", "expected `true`"),
            Some(b'f') => self.literal(b"false", "expected `false`"),
            Some(b'n') => self.literal(b"null", "expected `null`"),
            Some(_) => invalid(
                "expected a value: an object, array, string, number, true, false or null",
                self.pos,
            ),
            None => invalid("unexpected end of input, expected a value", self.pos),
        };
        written?;
        if self.out.len() > self.max_output {
            return fail(
                Kind::TooLarge {
                    limit: self.max_output,
                },
                start,
            );
        }
        Ok(())
    }

    fn literal(
        &mut self,
        word: &'static [u8],
        reason: &'static str,
    ) -> Result<(), CanonicalizeError> {
        if !self.src[self.pos..].starts_with(word) {
            return invalid(reason, self.pos);
        }
        self.pos += word.len();
        self.out.extend_from_slice(word);
        Ok(())
    }

    fn enter(&self, depth: usize) -> Result<(), CanonicalizeError> {
        if depth > MAX_DEPTH {
            return fail(Kind::TooDeep, self.pos);
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<(), CanonicalizeError> {
        self.enter(depth)?;
        self.pos += 1;
        self.out.push(b'[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(b']');
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.out.push(b']');
                    return Ok(());
                }
                Some(_) => return invalid("expected `,` or `]` after an array element", self.pos),
                None => return invalid("unexpected end of input inside an array", self.pos),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), CanonicalizeError> {
        self.enter(depth)?;
        self.pos += 1;
        self.out.push(b'{');
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.out.push(b'}');
            return Ok(());
        }
        let base = self.members.len();
        let content_start = self.out.len();
        loop {
            if self.peek() != Some(b'"') {
                return match self.peek() {
                    None => invalid("unexpected end of input inside an object", self.pos),
                    Some(_) => invalid("expected a member name in double quotes", self.pos),
                };
            }
            let key_pos = self.pos;
            let seg_start = self.out.len();
            let escaped = self.string()?;
            let (key_start, key_end, key_in_src) = if escaped {
                let start = self.names.len();
                unescape_canonical(
                    &self.out[seg_start + 1..self.out.len() - 1],
                    &mut self.names,
                );
                (start, self.names.len(), false)
            } else {
                (key_pos + 1, self.pos - 1, true)
            };
            self.skip_ws();
            if self.peek() != Some(b':') {
                return invalid("expected `:` after a member name", self.pos);
            }
            self.pos += 1;
            self.out.push(b':');
            self.skip_ws();
            self.value(depth)?;
            let member = Member {
                key_start: self.offset32(key_start, key_pos)?,
                key_end: self.offset32(key_end, key_pos)?,
                key_in_src,
                key_pos: self.offset32(key_pos, key_pos)?,
                seg_start: self.offset32(seg_start, key_pos)?,
                seg_end: self.offset32(self.out.len(), key_pos)?,
            };
            self.members.push(member);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => return invalid("expected `,` or `}` after an object member", self.pos),
                None => return invalid("unexpected end of input inside an object", self.pos),
            }
        }
        self.sort_members(base, content_start)?;
        self.members.truncate(base);
        self.out.push(b'}');
        Ok(())
    }

    /// Refuses duplicate names and puts the members from `base` on in RFC 8785 order.
    fn sort_members(&mut self, base: usize, content_start: usize) -> Result<(), CanonicalizeError> {
        let Self {
            src,
            members,
            names,
            scratch,
            out,
            ..
        } = self;
        let members = &mut members[base..];
        let name = |m: &Member| -> &[u8] {
            let range = m.key_start as usize..m.key_end as usize;
            if m.key_in_src {
                &src[range]
            } else {
                &names[range]
            }
        };
        let mut sorted = true;
        for pair in members.windows(2) {
            match cmp_utf16(name(&pair[0]), name(&pair[1])) {
                Ordering::Less => {}
                Ordering::Equal => return duplicate(name(&pair[1]), pair[1].key_pos),
                Ordering::Greater => sorted = false,
            }
        }
        if sorted {
            return Ok(());
        }
        members.sort_unstable_by(|a, b| cmp_utf16(name(a), name(b)));
        for pair in members.windows(2) {
            if cmp_utf16(name(&pair[0]), name(&pair[1])) == Ordering::Equal {
                return duplicate(name(&pair[1]), pair[0].key_pos.max(pair[1].key_pos));
            }
        }
        scratch.clear();
        scratch.extend_from_slice(&out[content_start..]);
        out.truncate(content_start);
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let start = m.seg_start as usize - content_start;
            let end = m.seg_end as usize - content_start;
            out.extend_from_slice(&scratch[start..end]);
        }
        Ok(())
    }

    /// Copies a string at `self.pos` to the output in JCS form. Returns whether it had
    /// escapes (so its decoded form differs from its raw bytes).
    fn string(&mut self) -> Result<bool, CanonicalizeError> {
        let open = self.pos;
        self.pos += 1;
        self.out.push(b'"');
        let mut escaped = false;
        loop {
            let run = self.pos;
            while let Some(&b) = self.src.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            self.out.extend_from_slice(&self.src[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    self.out.push(b'"');
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => {
                    return invalid(
                        "a control character must be escaped inside a string",
                        self.pos,
                    )
                }
                None => return invalid("unterminated string", open),
            }
        }
    }

    fn escape(&mut self) -> Result<(), CanonicalizeError> {
        let at = self.pos;
        let Some(&letter) = self.src.get(at + 1) else {
            return invalid("unterminated string", at);
        };
        self.pos += 2;
        let out: &[u8] = match letter {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' => b"/",
            b'b' => b"\\b",
            b'f' => b"\\f",
            b'n' => b"\\n",
            b'r' => b"\\r",
            b't' => b"\\t",
            b'u' => {
                let unit = self.hex4(at)?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        if !self.src[self.pos..].starts_with(b"\\u") {
                            return fail(Kind::LoneSurrogate, at);
                        }
                        self.pos += 2;
                        let low = self.hex4(self.pos - 2)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return fail(Kind::LoneSurrogate, at);
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return fail(Kind::LoneSurrogate, at),
                    _ => unit,
                };
                let Some(c) = char::from_u32(code) else {
                    return fail(Kind::LoneSurrogate, at);
                };
                push_char(self.out, c);
                return Ok(());
            }
            _ => {
                return invalid(
                    "unknown escape: JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
                    at,
                )
            }
        };
        self.out.extend_from_slice(out);
        Ok(())
    }

    fn hex4(&mut self, at: usize) -> Result<u32, CanonicalizeError> {
        let digits = self.src.get(self.pos..self.pos + 4);
        let value = digits.and_then(|d| {
            d.iter()
                .try_fold(0u32, |acc, &b| Some(acc << 4 | char::from(b).to_digit(16)?))
        });
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => invalid("\\u must be followed by four hex digits", at),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), CanonicalizeError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return invalid("a number must not have leading zeros", start);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return invalid("expected a digit", self.pos),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return invalid("expected a digit after the decimal point", self.pos);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return invalid("expected a digit in the exponent", self.pos);
            }
        }
        let text = &self.src[start..self.pos];
        // Integers of up to 15 digits are exact doubles and print as written.
        if integer && text.len() <= 15 {
            if text == b"-0" {
                self.out.push(b'0');
            } else {
                self.out.extend_from_slice(text);
            }
            return Ok(());
        }
        let value: f64 = match core::str::from_utf8(text).ok().and_then(|t| t.parse().ok()) {
            Some(v) => v,
            None => return invalid("not a number", start),
        };
        if !value.is_finite() {
            return fail(Kind::NumberOutOfRange, start);
        }
        if value == 0.0 {
            self.out.push(b'0');
        } else {
            self.out
                .extend_from_slice(ryu_js::Buffer::new().format_finite(value).as_bytes());
        }
        Ok(())
    }
}

fn duplicate(name: &[u8], at: u32) -> Result<(), CanonicalizeError> {
    let key: String = String::from_utf8_lossy(name).chars().take(64).collect();
    fail(Kind::DuplicateKey { key }, at as usize)
}

/// Writes `c` as JCS does inside a string: the two-character escapes for `"` `\` and
/// the controls that have one, `\u00xx` (lowercase) for the other controls, else as is.
fn push_char(out: &mut Vec<u8>, c: char) {
    let escape: &[u8] = match c {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\u{08}' => b"\\b",
        '\u{0C}' => b"\\f",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        '\0'..='\u{1F}' => {
            let low = c as u8 & 0x0f;
            let hex = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(if (c as u8) < 0x10 { b'0' } else { b'1' });
            out.push(hex[usize::from(low)]);
            return;
        }
        _ => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            return;
        }
    };
    out.extend_from_slice(escape);
}

/// Decodes a string body that [`push_char`] and the raw-run copy produced.
fn unescape_canonical(escaped: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < escaped.len() {
        let b = escaped[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let (byte, len) = match escaped.get(i + 1) {
            Some(b'b') => (0x08, 2),
            Some(b'f') => (0x0C, 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b't') => (b'\t', 2),
            Some(b'u') => {
                let hex = escaped.get(i + 4..i + 6).unwrap_or(b"00");
                let value = hex.iter().fold(0u8, |acc, &h| {
                    acc << 4 | char::from(h).to_digit(16).map_or(0, |d| d as u8)
                });
                (value, 6)
            }
            Some(&other) => (other, 2),
            None => (b'\\', 1),
        };
        out.push(byte);
        i += len;
    }
}

/// Orders two valid UTF-8 strings by their UTF-16 code units, as RFC 8785 §3.2.3 sorts
/// member names. UTF-8 byte order equals code point order, which differs from UTF-16
/// order only where a character above U+FFFF meets one in U+E000–U+FFFF.
fn cmp_utf16(a: &[u8], b: &[u8]) -> Ordering {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common == a.len() || common == b.len() {
        return a.len().cmp(&b.len());
    }
    let mut start = common;
    while start > 0 && a[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    let (x, y) = (first_char(&a[start..]), first_char(&b[start..]));
    utf16_lead(x).cmp(&utf16_lead(y)).then(x.cmp(&y))
}

fn utf16_lead(c: u32) -> u32 {
    if c >= 0x10000 {
        0xD800 + ((c - 0x10000) >> 10)
    } else {
        c
    }
}

/// The code point at the start of valid UTF-8 `s`.
fn first_char(s: &[u8]) -> u32 {
    let lead = u32::from(s.first().copied().unwrap_or(0));
    let cont = |i: usize| u32::from(s.get(i).copied().unwrap_or(0x80) & 0x3F);
    match lead {
        0x00..=0x7F => lead,
        0xC0..=0xDF => (lead & 0x1F) << 6 | cont(1),
        0xE0..=0xEF => (lead & 0x0F) << 12 | cont(1) << 6 | cont(2),
        _ => (lead & 0x07) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn canon(s: &str) -> String {
        match canonicalize(s.as_bytes()) {
            Ok(v) => String::from_utf8(v).unwrap_or_default(),
            Err(e) => alloc::format!("error {} at {}", e.code(), e.offset()),
        }
    }

    #[test]
    fn sorts_by_utf16_not_code_point() {
        // U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16.
        assert_eq!(
            canon("{\"\u{FB33}\":1,\"\u{1F600}\":2}"),
            "{\"\u{1F600}\":2,\"\u{FB33}\":1}"
        );
        assert_eq!(
            canon(r#"{"b":1,"a":{"d":1,"c":2}}"#),
            r#"{"a":{"c":2,"d":1},"b":1}"#
        );
    }

    #[test]
    fn escapes_and_duplicates() {
        assert_eq!(canon(r#""\u001f\u0008\/\u00e9""#), "\"\\u001f\\b/\u{e9}\"");
        assert_eq!(canon(r#"{"a":1,"\u0061":2}"#), "error duplicate_key at 7");
        assert_eq!(canon(r#"{"b":1,"a":2,"b":3}"#), "error duplicate_key at 13");
        assert_eq!(canon(r#""\ud800x""#), "error lone_surrogate at 1");
        assert_eq!(canon(r#""\udc00""#), "error lone_surrogate at 1");
        // A bad low half is reported where its own `\u` starts, not at the pair's start.
        assert_eq!(canon(r#""\ud800\uzzzz""#), "error invalid_json at 7");
        assert_eq!(canon(r#""\uzz""#), "error invalid_json at 1");
    }

    /// Escaped member names are compared decoded, wherever the escape sits and whatever
    /// both its hex digits are: names that differ only there are distinct, and ordered.
    #[test]
    fn escaped_names_compare_decoded() {
        assert_eq!(
            canon(r#"{"abc\u0002":2,"abc\u0001":1}"#),
            r#"{"abc\u0001":1,"abc\u0002":2}"#
        );
        assert_eq!(
            canon(r#"{"\u001f":1,"\u000f":2}"#),
            r#"{"\u000f":2,"\u001f":1}"#
        );
        assert_eq!(
            canon(r#"{"ab\u001f":1,"ab\u0010":2,"ab\t":3}"#),
            r#"{"ab\t":3,"ab\u0010":2,"ab\u001f":1}"#
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canon("[-0,1E2,1e21,1e-7,0.000001,9007199254740993,-0.0]"),
            "[0,100,1e+21,1e-7,0.000001,9007199254740992,0]"
        );
        assert_eq!(canon("1e400"), "error number_out_of_range at 0");
        assert_eq!(canon("01"), "error invalid_json at 0");
    }

    /// With a small output limit: output of exactly the limit is written, members sorted
    /// (at every depth) as without a limit; any less is refused with `too_large`, at the
    /// value whose output crossed it, and leaves `out` as it was.
    #[test]
    fn output_limit_boundary() {
        let input = br#"{"b":1e20,"c":[1e20,{"y":1e20,"x":1}],"a":1e20}"#;
        let big = "100000000000000000000";
        let expected = alloc::format!(r#"{{"a":{big},"b":{big},"c":[{big},{{"x":1,"y":{big}}}]}}"#);
        let n = expected.len();
        assert_eq!(canonicalize(input).as_deref(), Ok(expected.as_bytes()));

        let mut out = Vec::new();
        assert_eq!(canonicalize_limited(input, &mut out, n), Ok(()));
        assert_eq!(out, expected.as_bytes());

        for limit in 0..n {
            let mut out = Vec::new();
            let err = canonicalize_limited(input, &mut out, limit).unwrap_err();
            assert_eq!(err.kind(), &Kind::TooLarge { limit }, "limit {limit}");
            assert_eq!(err.code(), "too_large");
            assert!(out.is_empty(), "limit {limit}");
        }

        // Output is written in input order, each object sorted when it closes:
        // `{"b":<big>,"c":[` is 32 bytes, `<big>,{"y":<big>,"x":1}]` 56 more.
        let refused_at = |limit| canonicalize_limited(input, &mut Vec::new(), limit).unwrap_err();
        assert_eq!(refused_at(n - 1).offset(), 0, "the closing brace");
        assert_eq!(refused_at(32 + 20).offset(), 15, "the number in the array");
        assert_eq!(
            refused_at(32 + 21).offset(),
            25,
            "the comma and name before 1e20"
        );
        assert_eq!(
            refused_at(32 + 55).offset(),
            14,
            "the array's closing bracket"
        );
        assert_eq!(
            refused_at(n - 1).to_string(),
            alloc::format!(
                "canonical output would exceed {} bytes, the most canonicalize() writes, at the \
                 value starting at byte 0: numbers such as 1e20 grow when written out in full; \
                 canonicalize a smaller document",
                n - 1
            )
        );
    }

    /// The limit is on the whole buffer: what `canonicalize_into` appends to counts with
    /// what it already held.
    #[test]
    fn output_limit_counts_existing_output() {
        let input = br#"{"b":1e20,"a":1}"#;
        let expected: &[u8] = br#"xy{"a":1,"b":100000000000000000000}"#;
        let mut out = b"xy".to_vec();
        assert_eq!(
            canonicalize_limited(input, &mut out, expected.len()),
            Ok(())
        );
        assert_eq!(out, expected);

        let mut out = b"xy".to_vec();
        let err = canonicalize_limited(input, &mut out, expected.len() - 1).unwrap_err();
        assert_eq!(err.code(), "too_large");
        assert_eq!(out, b"xy");
    }

    #[test]
    fn error_leaves_buffer_untouched() {
        let mut out = b"kept".to_vec();
        assert!(canonicalize_into(b"[1,2", &mut out).is_err());
        assert_eq!(out, b"kept");
    }
}

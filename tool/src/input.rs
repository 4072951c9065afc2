//! `append`'s input: JSON-lines records, read line by line ([`Lines`]) and
//! parsed into a series, a timestamp and a value ([`parse_line`]), with an
//! error naming what is wrong with a bad line.

use std::io::BufRead;

/// The input record, parsed without copying the hex string (or checking it
/// is UTF-8: the hex decoder checks every byte anyway).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputRecord<'a> {
    series_id: u64,
    timestamp: i64,
    value_hex: &'a [u8],
}

/// Parses one input line into a record: returns its series and timestamp,
/// and leaves its value in `value` (reused from line to line). Errors name
/// the field at fault.
pub(crate) fn parse_line(line: &[u8], value: &mut Vec<u8>) -> Result<(u64, i64), String> {
    // The fastest path: the fields in the documented order, plain integers,
    // hex without escapes (what `dump` and every generator write).
    if let Some(r) = parse_canonical(line, value) {
        return Ok(r);
    }
    // The fast path: a well-formed line whose hex has no JSON escapes.
    if let Ok(r) = serde_json::from_slice::<InputRecord<'_>>(line) {
        let hex = r.value_hex;
        value.clear();
        value.resize(hex.len() / 2, 0);
        if hex.len() % 2 == 0 && const_hex::decode_to_slice(hex, value).is_ok() {
            return Ok((r.series_id, r.timestamp));
        }
    }
    // Otherwise find what is wrong, field by field, for the error message.
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("expected a JSON object with series_id, timestamp and value_hex")?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "series_id" | "timestamp" | "value_hex"))
    {
        return Err(format!(
            "unknown field `{k}` (expected series_id, timestamp, value_hex)"
        ));
    }
    let field = |name: &str| {
        obj.get(name)
            .ok_or_else(|| format!("missing field `{name}`"))
    };
    let sid = field("series_id")?;
    let series_id = sid.as_u64().ok_or_else(|| {
        format!(
            "series_id must be an integer from 0 to {}, got {sid}",
            u64::MAX
        )
    })?;
    let t = field("timestamp")?;
    let timestamp = t.as_i64().ok_or_else(|| {
        format!(
            "timestamp must be an integer from {} to {}, got {t}",
            i64::MIN,
            i64::MAX
        )
    })?;
    let h = field("value_hex")?;
    let hex_str = h
        .as_str()
        .ok_or_else(|| format!("value_hex must be a string of hex digits, got {h}"))?;
    *value = const_hex::decode(hex_str).map_err(|e| format!("value_hex is not valid hex: {e}"))?;
    Ok((series_id, timestamp))
}

/// Parses `{"series_id": N, "timestamp": N, "value_hex": "HEX"}` (spaces
/// and tabs allowed between tokens, nothing else) by hand, leaving the
/// value in `value`; `None` for anything else, which then goes to
/// serde_json (other key orders, escapes, numbers with a fraction or an
/// exponent, errors). Whatever it accepts, serde_json reads the same way:
/// it only spares the per-record cost of the general parser (UTF-8
/// validation and an escape scan over the hex, a key match per field),
/// the guest's largest after the CRC under WASI.
fn parse_canonical(line: &[u8], value: &mut Vec<u8>) -> Option<(u64, i64)> {
    let mut at = Cursor { line, at: 0 };
    at.token(b"{")?;
    at.token(b"\"series_id\"")?;
    at.token(b":")?;
    let series_id = at.digits()?;
    at.token(b",")?;
    at.token(b"\"timestamp\"")?;
    at.token(b":")?;
    at.skip_blanks();
    let negative = at.peek() == Some(b'-');
    if negative {
        at.at += 1;
    }
    let magnitude = at.digits()?;
    let timestamp = if negative {
        // serde_json reads `-0` as a float, which is no timestamp.
        if magnitude == 0 {
            return None;
        }
        0i64.checked_sub_unsigned(magnitude)?
    } else {
        i64::try_from(magnitude).ok()?
    };
    at.token(b",")?;
    at.token(b"\"value_hex\"")?;
    at.token(b":")?;
    at.token(b"\"")?;
    let rest = &line[at.at..];
    let end = memchr::memchr(b'"', rest)?;
    let hex = &rest[..end];
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    at.at += end + 1;
    at.token(b"}")?;
    at.skip_blanks();
    if at.at != line.len() {
        return None;
    }
    value.clear();
    value.resize(hex.len() / 2, 0);
    // A backslash (an escape) is not a hex digit: serde_json decodes those.
    const_hex::decode_to_slice(hex, value).ok()?;
    Some((series_id, timestamp))
}

/// A position in a line, for [`parse_canonical`].
struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Skips blanks, then `token` exactly.
    fn token(&mut self, token: &[u8]) -> Option<()> {
        self.skip_blanks();
        let end = self.at + token.len();
        (self.line.get(self.at..end)? == token).then(|| self.at = end)
    }

    /// Skips blanks, then reads a JSON integer's digits (no leading zero,
    /// no fraction or exponent after them), at most 19 of them: those
    /// always fit a u64, so no overflow check (a 128-bit multiply on
    /// wasm32) is needed; longer numbers go to serde_json.
    fn digits(&mut self) -> Option<u64> {
        self.skip_blanks();
        let start = self.at;
        let mut n = 0u64;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.at - start == 19 {
                return None;
            }
            n = n * 10 + u64::from(d - b'0');
            self.at += 1;
        }
        let len = self.at - start;
        let leading_zero = len > 1 && self.line[start] == b'0';
        let more = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (len > 0 && !leading_zero && !more).then_some(n)
    }
}

/// Input lines, each handed to a parser where it lies in the reader's
/// buffer (copied only when it straddles two reads). The newline search
/// is the `memchr` crate's (SIMD on x86, ARM and wasm32 with simd128).
pub(crate) struct Lines<'a> {
    input: std::io::BufReader<&'a mut dyn BufRead>,
    /// The start of a line that straddles reads.
    carry: Vec<u8>,
    /// Reads from the input so far.
    pub(crate) reads: u64,
    /// Bytes consumed from the input so far (lines and their newlines).
    pub(crate) bytes: u64,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(input: &'a mut dyn BufRead) -> Self {
        Lines {
            // Large reads: under WASI each read is a host call.
            input: std::io::BufReader::with_capacity(1 << 16, input),
            carry: Vec::new(),
            reads: 0,
            bytes: 0,
        }
    }

    /// Parses the next line (without its `\n` or `\r\n`) with `parse`:
    /// `Ok(None)` at the end of the input, `Some(Ok(None))` for a blank
    /// line.
    pub(crate) fn next_with<T>(
        &mut self,
        mut parse: impl FnMut(&[u8]) -> Result<T, String>,
    ) -> std::io::Result<Option<Result<Option<T>, String>>> {
        let mut handle = |line: &[u8]| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                parse(line).map(Some)
            }
        };
        self.carry.clear();
        loop {
            if self.input.buffer().is_empty() {
                self.reads += 1;
            }
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // The end: a last line without a newline still counts.
                return Ok((!self.carry.is_empty()).then(|| handle(&self.carry)));
            }
            match memchr::memchr(b'\n', buf) {
                Some(i) if self.carry.is_empty() => {
                    let r = handle(&buf[..i]);
                    self.input.consume(i + 1);
                    self.bytes += i as u64 + 1;
                    return Ok(Some(r));
                }
                Some(i) => {
                    self.carry.extend_from_slice(&buf[..i]);
                    self.input.consume(i + 1);
                    self.bytes += i as u64 + 1;
                    return Ok(Some(handle(&self.carry)));
                }
                None => {
                    let n = buf.len();
                    self.carry.extend_from_slice(buf);
                    self.input.consume(n);
                    self.bytes += n as u64;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> Result<(u64, i64, Vec<u8>), String> {
        let mut value = b"left from the line before".to_vec();
        parse_line(line, &mut value).map(|(s, t)| (s, t, value))
    }

    #[test]
    fn input_lines_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse(br#"{"series_id": 7, "timestamp": -3, "value_hex": "6869"}"#),
            Ok((7, -3, b"hi".to_vec()))
        );
        // JSON escapes in the hex string are decoded (the slow path).
        assert_eq!(
            parse(br#"{"series_id": 7, "timestamp": 1, "value_hex": "\u00368"}"#),
            Ok((7, 1, b"h".to_vec()))
        );
        // Not UTF-8: an error naming the JSON, not a panic.
        let err =
            parse(b"{\"series_id\": 7, \"timestamp\": 1, \"value_hex\": \"\xff\"}").unwrap_err();
        assert!(
            err.contains("invalid JSON") || err.contains("value_hex"),
            "{err}"
        );
        let cases = [
            (
                r#"{"series_id": 7, "timestamp": 1, "value_hex": "6g"}"#,
                "not valid hex",
            ),
            (
                r#"{"series_id": 7, "timestamp": 1, "value_hex": "686"}"#,
                "not valid hex",
            ),
            (
                r#"{"series_id": -1, "timestamp": 1, "value_hex": ""}"#,
                "series_id",
            ),
            (
                r#"{"series_id": 18446744073709551616, "timestamp": 1, "value_hex": ""}"#,
                "series_id must be",
            ),
            (
                r#"{"series_id": 1, "timestamp": 9223372036854775808, "value_hex": ""}"#,
                "timestamp must be",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1.5, "value_hex": ""}"#,
                "timestamp must be",
            ),
            (
                r#"{"series_id": 1, "value_hex": ""}"#,
                "missing field `timestamp`",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1, "value_hex": 5}"#,
                "value_hex must be a string",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1, "value_hex": "", "extra": 1}"#,
                "unknown field `extra`",
            ),
            ("[1, 2]", "expected a JSON object"),
            ("not json", "invalid JSON"),
        ];
        for (line, want) in cases {
            let err = parse(line.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn the_canonical_path_reads_what_serde_json_reads() {
        let lines = [
            r#"{"series_id": 7, "timestamp": -3, "value_hex": "6869"}"#,
            r#"{"series_id":7,"timestamp":3,"value_hex":""}"#,
            "  {\t\"series_id\" :  0 ,\"timestamp\": 0, \"value_hex\": \"ABcd\" }  ",
            r#"{"series_id": 9999999999999999999, "timestamp": -9223372036854775808, "value_hex": "00"}"#,
            r#"{"series_id": 1, "timestamp": 9223372036854775807, "value_hex": "ff"}"#,
        ];
        for line in lines {
            let mut fast = vec![];
            let got = parse_canonical(line.as_bytes(), &mut fast);
            let r: InputRecord<'_> = serde_json::from_str(line).unwrap();
            let want = (r.series_id, r.timestamp);
            assert_eq!(got, Some(want), "{line}");
            assert_eq!(fast, const_hex::decode(r.value_hex).unwrap(), "{line}");
        }
        // Anything else is left to serde_json (which reads or refuses it).
        let others = [
            r#"{"timestamp": 1, "series_id": 7, "value_hex": "68"}"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "\u00368"}"#,
            r#"{"series_id": 07, "timestamp": 1, "value_hex": "68"}"#,
            r#"{"series_id": 7, "timestamp": 1.0, "value_hex": "68"}"#,
            r#"{"series_id": 7, "timestamp": 1e2, "value_hex": "68"}"#,
            r#"{"series_id": 18446744073709551615, "timestamp": 1, "value_hex": ""}"#,
            r#"{"series_id": 18446744073709551616, "timestamp": 1, "value_hex": ""}"#,
            r#"{"series_id": 1, "timestamp": 9223372036854775808, "value_hex": ""}"#,
            r#"{"series_id": 1, "timestamp": -9223372036854775809, "value_hex": ""}"#,
            r#"{"series_id": -1, "timestamp": 1, "value_hex": ""}"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "686"}"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "6g"}"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "68", "x": 1}"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "68"} x"#,
            r#"{"series_id": 7, "timestamp": 1, "value_hex": "68""#,
            r#"{"series_id": 7, "timestamp": -, "value_hex": "68"}"#,
            r#"{"series_id": 7, "timestamp": -0, "value_hex": "68"}"#,
        ];
        for line in others {
            assert_eq!(
                parse_canonical(line.as_bytes(), &mut vec![]),
                None,
                "{line}"
            );
        }
    }

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_split_on_newlines_wherever_the_reads_end() {
        let text = b"one\r\n\n  \t\ntwo\nthree-is-longer-than-a-read\nlast without newline";
        let want: Vec<Option<String>> = vec![
            Some("one".into()),
            None,
            None,
            Some("two".into()),
            Some("three-is-longer-than-a-read".into()),
            Some("last without newline".into()),
        ];
        for step in [1, 2, 3, 5, 7, 64, 1 << 20] {
            let mut input = std::io::BufReader::with_capacity(step, Trickle { data: text, step });
            let mut lines = Lines::new(&mut input);
            let mut got = vec![];
            while let Some(l) = lines
                .next_with(|l| Ok(String::from_utf8(l.to_vec()).unwrap()))
                .unwrap()
            {
                got.push(l.unwrap());
            }
            assert_eq!(got, want, "reads of {step} bytes");
            // One count per read of input, and two that find the end (the
            // last line has no newline, so its end is found by a read too).
            let expect = text.len().div_ceil(step) as u64 + 2;
            assert_eq!(lines.reads, expect, "reads of {step} bytes");
            assert_eq!(lines.bytes, text.len() as u64, "reads of {step} bytes");
        }
    }
}

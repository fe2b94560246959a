//! A minimal JSON scanner for the common shape of NDJSON lines and columnar
//! bodies: flat objects of unescaped keys and scalar values (row bodies go
//! through simd-json's tape instead, `json/tape.rs`). It reads only what it is sure
//! serde_json reads the same way and gives up (`None`) on anything else —
//! escapes, nested values, numbers serde_json handles on its slow paths,
//! invalid JSON — so that the caller parses the body again with serde_json,
//! which then decides (and words any error).
//!
//! With typed columns, serde_json's parsing and the visitor calls around it
//! were about two thirds of the time to decode the daemon's 1,000 × 30
//! bodies (perf, body of benches/payload.rs); reading them with this scanner
//! made decoding about 1.5× faster again.

use std::borrow::Cow;

use super::cells::JsonCell;

pub(super) struct Scanner<'de> {
    text: &'de str,
    pos: usize,
}

impl<'de> Scanner<'de> {
    pub(super) fn new(text: &'de str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    pub(super) fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next byte, consumed.
    pub(super) fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    /// Consumes `b` if it comes next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        self.pos += usize::from(found);
        found
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    /// A string without escapes or control characters, borrowed.
    pub(super) fn string(&mut self) -> Option<&'de str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let bytes = self.text.as_bytes();
        loop {
            match *bytes.get(self.pos)? {
                b'"' => break,
                b'\\' | 0..0x20 => return None,
                _ => self.pos += 1,
            }
        }
        // Both ends are ASCII quotes: char boundaries of the text.
        let s = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some(s)
    }

    /// A scalar value as serde_json would give it to a visitor.
    pub(super) fn scalar(&mut self) -> Option<JsonCell<'de>> {
        let literal = |s: &mut Self, word: &str, cell: JsonCell<'de>| {
            s.text[s.pos..].starts_with(word).then(|| {
                s.pos += word.len();
                cell
            })
        };
        match self.peek()? {
            b'"' => self.string().map(|s| JsonCell::Str(Cow::Borrowed(s))),
            b't' => literal(self, "true", JsonCell::Bool(true)),
            b'f' => literal(self, "false", JsonCell::Bool(false)),
            b'n' => literal(self, "null", JsonCell::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number, as serde_json's `parse_integer` / `parse_decimal` /
    /// `parse_exponent` give it: integers are u64 (i64 when negative, a float
    /// for `-0` and below `i64::MIN`); other numbers are the correctly
    /// rounded f64 of the decimal (serde_json's `float_roundtrip`; the
    /// standard library's parser rounds correctly too). Gives up where
    /// serde_json reports an error or takes its paths for long numbers.
    fn number(&mut self) -> Option<JsonCell<'de>> {
        let positive = !self.eat(b'-');
        let start = self.pos;
        let int_digits = self.digits();
        // One leading zero at most.
        if int_digits == 0 || (int_digits > 1 && self.text.as_bytes()[start] == b'0') {
            return None;
        }
        // Digits of the significand from its first non-zero one.
        let zero = self.text.as_bytes()[start] == b'0';
        let mut significant = if zero { 0 } else { int_digits };
        let mut float = false;
        if self.eat(b'.') {
            float = true;
            let fraction_start = self.pos;
            let fraction = self.digits();
            if fraction == 0 {
                return None;
            }
            significant += if zero {
                let digits = &self.text.as_bytes()[fraction_start..self.pos];
                fraction - digits.iter().take_while(|&&b| b == b'0').count()
            } else {
                fraction
            };
        }
        if let Some(b'e' | b'E') = self.peek() {
            float = true;
            self.pos += 1;
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            // Far beyond f64's range past 4 digits; serde_json decides.
            if !(1..=4).contains(&self.digits()) {
                return None;
            }
        }
        // Up to 19 significant digits fit serde_json's u64 significand;
        // longer numbers take its other paths.
        if significant > 19 {
            return None;
        }
        let literal = &self.text[start..self.pos];
        if !float {
            let significand: u64 = literal.parse().ok()?;
            if positive {
                return Some(
                    i64::try_from(significand)
                        .map_or(JsonCell::BigUint(significand), JsonCell::Int),
                );
            }
            let neg = (significand as i64).wrapping_neg();
            return Some(if neg >= 0 {
                JsonCell::Float(-(significand as f64))
            } else {
                JsonCell::Int(neg)
            });
        }
        let magnitude: f64 = literal.parse().ok()?;
        if magnitude.is_infinite() {
            return None;
        }
        Some(JsonCell::Float(if positive {
            magnitude
        } else {
            -magnitude
        }))
    }

    /// Skips ASCII digits; how many.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }
}

/// Pseudo-random JSON numbers of every length, sign and exponent (for the
/// tests that compare the fast paths' numbers with serde_json's).
#[cfg(test)]
pub(super) fn random_decimals(seed: u64, count: usize) -> Vec<String> {
    let mut x = seed | 1;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 20) as usize + 1;
            let mantissa = (x >> 8).to_string();
            let mantissa = &mantissa[..digits.min(mantissa.len())];
            let point = (x >> 3) as usize % (mantissa.len() + 1);
            let exp = (x >> 40) as i32 % 700 - 350;
            let sign = if x & 4 == 0 { "" } else { "-" };
            let (int, frac) = mantissa.split_at(point);
            let int = if int.is_empty() { "0" } else { int };
            match (frac.is_empty(), x & 2 == 0) {
                (true, true) => format!("{sign}{int}"),
                (true, false) => format!("{sign}{int}e{exp}"),
                (false, true) => format!("{sign}{int}.{frac}"),
                (false, false) => format!("{sign}{int}.{frac}e{exp}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Option<JsonCell<'_>> {
        let mut s = Scanner::new(text);
        let cell = s.scalar()?;
        s.at_end().then_some(cell)
    }

    /// What serde_json gives for the same text (or `None` on its error).
    fn serde(text: &str) -> Option<JsonCell<'static>> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn numbers_match_serde_json() {
        let fixed = [
            "0",
            "-0",
            "7",
            "-7",
            "0.5",
            "-0.0",
            "1e2",
            "1E+2",
            "2.5e-3",
            "1e22",
            "1e23",
            "9007199254740993",
            "9007199254740993.0",
            "0.1",
            "0.30000000000000004",
            "123456789012345678",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "5e-324",
            "1e-400",
            "4.9406564584124654e-324",
            "-1.2345678901234567e-7",
            "3.0",
            "100e-2",
        ];
        for text in fixed {
            let cell = scan(text);
            if let Some(cell) = &cell {
                assert_eq!(Some(cell.clone()), serde(text), "{text}");
                if let (JsonCell::Float(a), Some(JsonCell::Float(b))) = (cell, serde(text)) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{text}");
                }
            }
        }
        for text in random_decimals(0x9E37_79B9_7F4A_7C15, 200_000) {
            let (Some(a), Some(b)) = (scan(&text), serde(&text)) else {
                continue;
            };
            match (&a, &b) {
                (JsonCell::Float(p), JsonCell::Float(q)) => {
                    assert_eq!(p.to_bits(), q.to_bits(), "{text}")
                }
                _ => assert_eq!(a, b, "{text}"),
            }
        }
    }

    #[test]
    fn gives_up_where_unsure() {
        for text in [
            "01",
            "1.",
            ".5",
            "1e",
            "-",
            "+1",
            "1e99999",
            "1e400",
            "123456789012345678901",
            "\"a\\nb\"",
            "\"tab\there\"",
            "[1]",
            "{}",
            "nul",
            "tru",
        ] {
            assert_eq!(scan(text), None, "{text}");
        }
        assert_eq!(scan("\"é\""), Some(JsonCell::Str(Cow::Borrowed("é"))));
        assert_eq!(scan("false"), Some(JsonCell::Bool(false)));
        assert_eq!(scan("null"), Some(JsonCell::Null));
    }
}

//! Reading the untyped text-format tree against TFMD's field types: typed
//! scalars, checks for unknown, repeated and conflicting (`oneof`) fields,
//! and the errors and warnings of one import.

use std::collections::BTreeMap;

use super::ImportWarning;
use super::textproto::{Field, Message, Pos, ScalarKind, Value};
use crate::schema::parse::edit_distance;
use crate::schema::validate::PathSegment;
use crate::schema::{Diagnostic, DiagnosticKind};

pub(super) fn diagnostic(
    file: &str,
    kind: DiagnosticKind,
    pos: Pos,
    message: String,
) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        line: Some(pos.line),
        column: Some(pos.column),
        kind,
        message,
    }
}

/// Errors, warnings and where each imported key came from.
pub(super) struct Cx<'f> {
    pub(super) file: &'f str,
    pub(super) errors: Vec<Diagnostic>,
    pub(super) warnings: Vec<ImportWarning>,
    /// assay key path → the TFDV field it was made from.
    pub(super) places: Vec<(Vec<PathSegment>, Pos)>,
}

impl Cx<'_> {
    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = diagnostic(self.file, DiagnosticKind::Type, pos, message.into());
        self.errors.push(d);
    }

    pub(super) fn warn(&mut self, pos: Pos, feature: Option<&str>, message: impl Into<String>) {
        self.warnings.push(ImportWarning {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
            feature: feature.map(str::to_string),
            message: message.into(),
        });
    }

    pub(super) fn place(&mut self, path: &[&str], pos: Pos) {
        let path = path.iter().map(|k| PathSegment::from(*k)).collect();
        self.places.push((path, pos));
    }

    /// The TFDV position of the longest recorded prefix of `path`.
    pub(super) fn place_of(&self, path: &[PathSegment]) -> Pos {
        self.places
            .iter()
            .filter(|(p, _)| path.starts_with(p))
            .max_by_key(|(p, _)| p.len())
            .map_or(Pos { line: 1, column: 1 }, |(_, pos)| *pos)
    }

    pub(super) fn unknown(&mut self, f: &Field, message: &str, known: &[&str]) {
        let closest = known
            .iter()
            .map(|k| (edit_distance(&f.name, k), *k))
            .min()
            .filter(|(d, _)| *d <= (f.name.chars().count() / 3).max(1));
        let hint = match closest {
            Some((_, k)) => format!("; did you mean `{k}`?"),
            None => String::new(),
        };
        self.error(
            f.pos,
            format!("`{}` is not a field of TFMD {message}{hint}", f.name),
        );
    }

    /// False (and an error) when a singular field was already given.
    pub(super) fn once(&mut self, seen: &mut BTreeMap<String, Pos>, f: &Field) -> bool {
        if let Some(first) = seen.get(&f.name) {
            self.error(
                f.pos,
                format!(
                    "`{}` given twice (first at {first}); it is not a repeated field",
                    f.name
                ),
            );
            return false;
        }
        seen.insert(f.name.clone(), f.pos);
        true
    }

    /// False (and an error) when another member of the same `oneof` was given.
    pub(super) fn oneof(
        &mut self,
        taken: &mut Option<(String, Pos)>,
        f: &Field,
        group: &str,
    ) -> bool {
        if let Some((other, at)) = taken {
            self.error(
                f.pos,
                format!("`{}` and `{other}` (at {at}) are both members of the oneof `{group}`; give one", f.name),
            );
            return false;
        }
        *taken = Some((f.name.clone(), f.pos));
        true
    }

    pub(super) fn message<'m>(&mut self, f: &'m Field) -> Option<&'m Message> {
        match &f.value {
            Value::Message(m) => Some(m),
            Value::Scalar(_) => {
                self.error(
                    f.pos,
                    format!("`{}` is a message: write `{} {{ ... }}`", f.name, f.name),
                );
                None
            }
        }
    }

    pub(super) fn scalar<'m>(&mut self, f: &'m Field, what: &str) -> Option<(Pos, &'m ScalarKind)> {
        match &f.value {
            Value::Scalar(s) => Some((s.pos, &s.kind)),
            Value::Message(_) => {
                self.error(f.pos, format!("`{}` takes {what}, not a message", f.name));
                None
            }
        }
    }

    pub(super) fn string(&mut self, f: &Field) -> Option<String> {
        let (pos, kind) = self.scalar(f, "a string")?;
        match kind {
            ScalarKind::String(bytes) => match String::from_utf8(bytes.clone()) {
                Ok(s) => Some(s),
                Err(_) => {
                    self.error(pos, format!("`{}` is not valid UTF-8 text", f.name));
                    None
                }
            },
            other => {
                self.error(
                    pos,
                    format!(
                        "`{}` takes a quoted string, found {}",
                        f.name,
                        written(other)
                    ),
                );
                None
            }
        }
    }

    pub(super) fn int(&mut self, f: &Field) -> Option<i64> {
        let (pos, kind) = self.scalar(f, "an integer")?;
        let parsed = match kind {
            ScalarKind::Number(text) => parse_int(text),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                pos,
                format!(
                    "`{}` takes a 64-bit integer, found {}",
                    f.name,
                    written(kind)
                ),
            );
        }
        parsed
    }

    /// An integer that counts something, so cannot be negative.
    pub(super) fn count(&mut self, f: &Field) -> Option<u64> {
        let n = self.int(f)?;
        let count = u64::try_from(n).ok();
        if count.is_none() {
            let pos = self.scalar(f, "an integer").map_or(f.pos, |(p, _)| p);
            self.error(
                pos,
                format!(
                    "`{}` counts something and cannot be negative, found {n}",
                    f.name
                ),
            );
        }
        count
    }

    pub(super) fn float(&mut self, f: &Field) -> Option<f64> {
        let (pos, kind) = self.scalar(f, "a number")?;
        let parsed = match kind {
            ScalarKind::Number(text) => parse_float(text),
            ScalarKind::Ident(text) => parse_float_word(text),
            ScalarKind::String(_) => None,
        };
        if parsed.is_none() {
            self.error(
                pos,
                format!("`{}` takes a number, found {}", f.name, written(kind)),
            );
        }
        parsed
    }

    pub(super) fn boolean(&mut self, f: &Field) -> Option<bool> {
        let (pos, kind) = self.scalar(f, "true or false")?;
        let parsed = match kind {
            ScalarKind::Ident(s) => match s.as_str() {
                "true" | "True" | "t" => Some(true),
                "false" | "False" | "f" => Some(false),
                _ => None,
            },
            ScalarKind::Number(n) if n == "1" => Some(true),
            ScalarKind::Number(n) if n == "0" => Some(false),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                pos,
                format!("`{}` takes true or false, found {}", f.name, written(kind)),
            );
        }
        parsed
    }

    /// An enum value, by name or by number.
    pub(super) fn enumeration(
        &mut self,
        f: &Field,
        values: &[(&'static str, i64)],
    ) -> Option<&'static str> {
        let (pos, kind) = self.scalar(f, "an enum value")?;
        let found = match kind {
            ScalarKind::Ident(s) => values.iter().find(|(name, _)| *name == s.as_str()),
            ScalarKind::Number(n) => {
                parse_int(n).and_then(|n| values.iter().find(|(_, v)| *v == n))
            }
            ScalarKind::String(_) => None,
        };
        if found.is_none() {
            let names: Vec<&str> = values.iter().map(|(n, _)| *n).collect();
            self.error(
                pos,
                format!(
                    "`{}` takes one of {}, found {}",
                    f.name,
                    names.join(", "),
                    written(kind)
                ),
            );
        }
        found.map(|(name, _)| *name)
    }
}

fn written(kind: &ScalarKind) -> String {
    match kind {
        ScalarKind::String(b) => format!("the string {:?}", String::from_utf8_lossy(b)),
        ScalarKind::Number(n) => format!("the number {n}"),
        ScalarKind::Ident(s) => format!("`{s}`"),
    }
}

/// Decimal, `0x` hex or leading-zero octal, as protobuf reads integers.
pub(super) fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()?
    } else {
        return None;
    };
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// A decimal float with an optional `f` suffix, or an integer.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    if let Some(n) = parse_int(text) {
        return Some(n as f64);
    }
    let body = text.strip_suffix(['f', 'F']).unwrap_or(text);
    let plain = body
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if !plain {
        return None;
    }
    body.parse::<f64>().ok()
}

pub(super) fn parse_float_word(text: &str) -> Option<f64> {
    let (sign, word) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text),
    };
    match word.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => Some(sign * f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_protobuf_reads_them() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-0x10"), Some(-16));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("1e3"), None);
    }

    #[test]
    fn floats_with_suffixes_exponents_and_words() {
        assert_eq!(parse_float("2.5e+1"), Some(25.0));
        assert_eq!(parse_float("-1e-2"), Some(-0.01));
        assert_eq!(parse_float(".5f"), Some(0.5));
        assert_eq!(parse_float("0x10"), Some(16.0));
        assert_eq!(parse_float("1.2.3"), None);
        assert_eq!(parse_float("1x"), None);
        assert_eq!(parse_float_word("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float_word("nan").is_some_and(f64::is_nan));
        assert_eq!(parse_float_word("big"), None);
    }
}

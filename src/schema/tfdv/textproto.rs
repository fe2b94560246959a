//! Protocol Buffers text format, the subset TensorFlow Metadata files use.
//!
//! Hand-written on purpose: the maintained Rust protobuf crates parse text
//! format only against compiled message descriptors (the `.proto` files
//! built into the binary with `protoc` or a build script), which would pull
//! a code generator into the build for one import command. Text format has
//! no types of its own, so this parser produces an untyped tree (field
//! names, scalars kept as written, nested messages); `tfdv.rs` reads it
//! against the fields of TFMD's `schema.proto`.
//!
//! Supported: `name: value` and `name { ... }` / `name < ... >` (the colon is
//! optional before a message), list values `name: [1, 2]` /
//! `name [{...}, {...}]` (each element becomes one repeated field), strings in
//! single or double quotes with C escapes (`\n`, `\"`, octal `\101`, hex
//! `\x41`, `\u00e9`, `\U0001F600`), adjacent strings concatenated, numbers
//! (signs, decimals, exponents, `f` suffixes, hex, `inf`, `nan`),
//! identifiers (enum values, `true`), extension and `Any` names in brackets
//! (`[type.googleapis.com/x.Y] { }`), `#` comments and optional `,`/`;`
//! after each field.

use std::fmt;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A message body: its fields in file order (repeated fields appear once per value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Message {
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Where the field name starts.
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Message(Message),
}

/// A scalar as written; its meaning depends on the field's declared type.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub pos: Pos,
    pub kind: ScalarKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScalarKind {
    /// One or more adjacent quoted strings, escapes resolved (bytes, since
    /// octal and hex escapes may produce any byte).
    String(Vec<u8>),
    /// A numeric literal, with its sign (`-1.5e3`, `0x1F`, `2.5f`).
    Number(String),
    /// A bare identifier, with its sign if any: `true`, `BYTES`, `-inf`.
    Ident(String),
}

/// The first syntax error in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Deeper nesting than this is rejected rather than risking the stack; TFMD
/// schemas nest a handful of levels (struct domains a few more).
const MAX_DEPTH: usize = 100;

/// Parses a whole text-format message.
pub fn parse(text: &str) -> Result<Message, SyntaxError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
    };
    let message = parser.message(None)?;
    Ok(message)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(String),
    String(Vec<u8>),
    Punct(char),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Number(s) => format!("the number {s}"),
            Tok::String(_) => "a string".to_string(),
            Tok::Punct(c) => format!("`{c}`"),
            Tok::Eof => "the end of the file".to_string(),
        }
    }
}

fn error<T>(pos: Pos, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        pos,
        message: message.into(),
    })
}

/// Characters with their positions, one token at a time.
struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Lexer<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }
}

fn tokenize(text: &str) -> Result<Vec<(Pos, Tok)>, SyntaxError> {
    let mut lx = Lexer {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, column: 1 },
    };
    let mut out = Vec::new();
    loop {
        // Whitespace and comments.
        while let Some(c) = lx.peek() {
            if c.is_whitespace() {
                lx.bump();
            } else if c == '#' {
                while lx.peek().is_some_and(|c| c != '\n') {
                    lx.bump();
                }
            } else {
                break;
            }
        }
        let start = lx.pos;
        let Some(c) = lx.peek() else {
            out.push((start, Tok::Eof));
            return Ok(out);
        };
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            Tok::Ident(take_while(&mut lx, |c| {
                c.is_ascii_alphanumeric() || c == '_'
            }))
        } else if c.is_ascii_digit() || (c == '.' && starts_number_after_dot(&lx)) {
            Tok::Number(number(&mut lx))
        } else if c == '"' || c == '\'' {
            Tok::String(string(&mut lx)?)
        } else if "{}<>[]:,;-./".contains(c) {
            lx.bump();
            Tok::Punct(c)
        } else {
            return error(start, format!("unexpected character {c:?}"));
        };
        out.push((start, tok));
    }
}

fn take_while(lx: &mut Lexer<'_>, keep: impl Fn(char) -> bool) -> String {
    let mut s = String::new();
    while let Some(c) = lx.peek().filter(|c| keep(*c)) {
        s.push(c);
        lx.bump();
    }
    s
}

fn starts_number_after_dot(lx: &Lexer<'_>) -> bool {
    let mut ahead = lx.chars.clone();
    ahead.next();
    ahead.next().is_some_and(|c| c.is_ascii_digit())
}

/// A numeric literal: digits, letters (hex digits, exponent, `f` suffix), `.`,
/// and a sign right after a decimal exponent. Checked when converted.
fn number(lx: &mut Lexer<'_>) -> String {
    let mut s = String::new();
    while let Some(c) = lx.peek() {
        let exponent_sign = (c == '+' || c == '-')
            && s.ends_with(['e', 'E'])
            && !s.starts_with("0x")
            && !s.starts_with("0X");
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign {
            s.push(c);
            lx.bump();
        } else {
            break;
        }
    }
    s
}

/// One quoted string with its escapes resolved.
fn string(lx: &mut Lexer<'_>) -> Result<Vec<u8>, SyntaxError> {
    let start = lx.pos;
    let Some(quote) = lx.bump() else {
        return error(start, "expected a string");
    };
    let mut bytes = Vec::new();
    loop {
        let here = lx.pos;
        match lx.bump() {
            None | Some('\n') => {
                return error(
                    start,
                    "string not closed on its line (a newline inside quotes must be written \\n)",
                );
            }
            Some(c) if c == quote => return Ok(bytes),
            Some('\\') => escape(lx, here, &mut bytes)?,
            Some(c) => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn escape(lx: &mut Lexer<'_>, at: Pos, bytes: &mut Vec<u8>) -> Result<(), SyntaxError> {
    let Some(c) = lx.bump() else {
        return error(at, "unfinished escape at the end of the file");
    };
    let simple = match c {
        'n' => Some(b'\n'),
        't' => Some(b'\t'),
        'r' => Some(b'\r'),
        'a' => Some(0x07),
        'b' => Some(0x08),
        'f' => Some(0x0c),
        'v' => Some(0x0b),
        '\\' => Some(b'\\'),
        '\'' => Some(b'\''),
        '"' => Some(b'"'),
        '?' => Some(b'?'),
        _ => None,
    };
    if let Some(b) = simple {
        bytes.push(b);
        return Ok(());
    }
    match c {
        '0'..='7' => {
            // Up to three octal digits, one byte.
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match lx.peek().and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        value = value * 8 + d;
                        lx.bump();
                    }
                    None => break,
                }
            }
            match u8::try_from(value) {
                Ok(b) => bytes.push(b),
                Err(_) => return error(at, format!("octal escape \\{value:o} is above \\377")),
            }
        }
        'x' | 'X' => {
            let digits = take_hex(lx, 2);
            if digits.is_empty() {
                return error(at, "\\x must be followed by one or two hex digits");
            }
            bytes.push(u8::from_str_radix(&digits, 16).unwrap_or(0));
        }
        'u' | 'U' => {
            let len = if c == 'u' { 4 } else { 8 };
            let digits = take_hex(lx, len);
            let ch = (digits.len() == len)
                .then(|| u32::from_str_radix(&digits, 16).ok())
                .flatten()
                .and_then(char::from_u32);
            let Some(ch) = ch else {
                return error(
                    at,
                    format!(
                        "\\{c} must be followed by {len} hex digits naming a Unicode character"
                    ),
                );
            };
            let mut buf = [0; 4];
            bytes.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        other => return error(at, format!("unknown escape \\{other}")),
    }
    Ok(())
}

fn take_hex(lx: &mut Lexer<'_>, max: usize) -> String {
    let mut s = String::new();
    while s.len() < max {
        match lx.peek().filter(char::is_ascii_hexdigit) {
            Some(d) => {
                s.push(d);
                lx.bump();
            }
            None => break,
        }
    }
    s
}

struct Parser {
    tokens: Vec<(Pos, Tok)>,
    next: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &(Pos, Tok) {
        // The token list always ends with Eof, and Eof is never consumed.
        &self.tokens[self.next.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> (Pos, Tok) {
        let tok = self.peek().clone();
        if tok.1 != Tok::Eof {
            self.next += 1;
        }
        tok
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek().1 == Tok::Punct(c) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expected<T>(&self, what: &str) -> Result<T, SyntaxError> {
        let (pos, tok) = self.peek();
        error(*pos, format!("expected {what}, found {}", tok.describe()))
    }

    /// Fields until `close` (or the end of the file at the top level).
    fn message(&mut self, close: Option<(char, Pos)>) -> Result<Message, SyntaxError> {
        let mut fields = Vec::new();
        loop {
            match (&self.peek().1, close) {
                (Tok::Eof, None) => return Ok(Message { fields }),
                (Tok::Eof, Some((c, open))) => {
                    return self.expected(&format!("`{c}` to close the message opened at {open}"));
                }
                (Tok::Punct(c), Some((want, _))) if *c == want => {
                    self.next += 1;
                    return Ok(Message { fields });
                }
                _ => {}
            }
            self.field(&mut fields)?;
            // Either separator may follow any field.
            if !self.eat(',') {
                self.eat(';');
            }
        }
    }

    fn field(&mut self, fields: &mut Vec<Field>) -> Result<(), SyntaxError> {
        let (pos, name) = self.field_name()?;
        let colon = self.eat(':');
        let push = |fields: &mut Vec<Field>, value| {
            fields.push(Field {
                name: name.clone(),
                pos,
                value,
            })
        };
        match self.peek().1 {
            Tok::Punct('{' | '<') => push(fields, Value::Message(self.nested()?)),
            Tok::Punct('[') => {
                let open = self.bump().0;
                if self.eat(']') {
                    return Ok(());
                }
                loop {
                    let value = if matches!(self.peek().1, Tok::Punct('{' | '<')) {
                        Value::Message(self.nested()?)
                    } else if colon {
                        Value::Scalar(self.scalar()?)
                    } else {
                        return self.expected("`{` (a list without `:` holds messages)");
                    };
                    push(fields, value);
                    if self.eat(']') {
                        return Ok(());
                    }
                    if !self.eat(',') {
                        return self
                            .expected(&format!("`,` or `]` to close the list opened at {open}"));
                    }
                }
            }
            _ if colon => push(fields, Value::Scalar(self.scalar()?)),
            _ => {
                return self.expected(&format!("`:` or `{{` after the field name `{name}`"));
            }
        }
        Ok(())
    }

    /// `name`, or a bracketed extension / Any type name.
    fn field_name(&mut self) -> Result<(Pos, String), SyntaxError> {
        let (pos, tok) = self.peek().clone();
        match tok {
            Tok::Ident(name) => {
                self.next += 1;
                Ok((pos, name))
            }
            Tok::Punct('[') => {
                self.next += 1;
                let mut name = String::from("[");
                loop {
                    match self.bump() {
                        (_, Tok::Punct(']')) => break,
                        (_, Tok::Ident(s) | Tok::Number(s)) => name.push_str(&s),
                        (_, Tok::Punct(c @ ('.' | '/' | '-'))) => name.push(c),
                        (at, tok) => {
                            return error(
                                at,
                                format!(
                                    "expected an extension or type name closed by `]`, found {}",
                                    tok.describe()
                                ),
                            );
                        }
                    }
                }
                name.push(']');
                Ok((pos, name))
            }
            _ => self.expected("a field name"),
        }
    }

    fn nested(&mut self) -> Result<Message, SyntaxError> {
        let (open, tok) = self.bump();
        let close = if tok == Tok::Punct('<') { '>' } else { '}' };
        if self.depth >= MAX_DEPTH {
            return error(open, format!("messages nested more than {MAX_DEPTH} deep"));
        }
        self.depth += 1;
        let message = self.message(Some((close, open)));
        self.depth -= 1;
        message
    }

    fn scalar(&mut self) -> Result<Scalar, SyntaxError> {
        let (pos, tok) = self.peek().clone();
        let kind = match tok {
            Tok::String(first) => {
                self.next += 1;
                let mut bytes = first;
                while let Tok::String(more) = &self.peek().1 {
                    bytes.extend_from_slice(more);
                    self.next += 1;
                }
                ScalarKind::String(bytes)
            }
            Tok::Number(n) => {
                self.next += 1;
                ScalarKind::Number(n)
            }
            Tok::Ident(s) => {
                self.next += 1;
                ScalarKind::Ident(s)
            }
            Tok::Punct('-') => {
                self.next += 1;
                match self.bump() {
                    (_, Tok::Number(n)) => ScalarKind::Number(format!("-{n}")),
                    (_, Tok::Ident(s)) => ScalarKind::Ident(format!("-{s}")),
                    (at, tok) => {
                        return error(
                            at,
                            format!("expected a number after `-`, found {}", tok.describe()),
                        );
                    }
                }
            }
            _ => return self.expected("a value (a number, a string or an identifier)"),
        };
        Ok(Scalar { pos, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> ScalarKind {
        let m = parse(&format!("x: {text}")).unwrap();
        match &m.fields[0].value {
            Value::Scalar(s) => s.kind.clone(),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn strings_resolve_escapes_and_concatenate() {
        assert_eq!(
            scalar(r#""a\"b" 'c\'d' "\n\t\\""#),
            ScalarKind::String(b"a\"bc'd\n\t\\".to_vec())
        );
        assert_eq!(
            scalar(r#""\101\x42\u00e9\U0001F600""#),
            ScalarKind::String("ABé😀".as_bytes().to_vec())
        );
    }

    #[test]
    fn numbers_keep_their_text_and_sign() {
        assert_eq!(scalar("-1.5e-3"), ScalarKind::Number("-1.5e-3".into()));
        assert_eq!(scalar(".5f"), ScalarKind::Number(".5f".into()));
        assert_eq!(scalar("- inf"), ScalarKind::Ident("-inf".into()));
        assert_eq!(scalar("0x1F"), ScalarKind::Number("0x1F".into()));
    }

    #[test]
    fn nested_messages_lists_and_separators() {
        let m =
            parse("a { b: 1; c < d: 'x' >, } e: [1, 2] f [{g: 1}, <g: 2>] # done\n[x.y/z.W] {}")
                .unwrap();
        let names: Vec<&str> = m.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "e", "e", "f", "f", "[x.y/z.W]"]);
        assert_eq!(
            m.fields[1].pos,
            Pos {
                line: 1,
                column: 27
            }
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("a {\n  b: 1\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 3, column: 1 });
        assert!(
            e.message.contains("`}` to close the message opened at 1:3"),
            "{}",
            e.message
        );
        let e = parse("a: 'x\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, column: 4 });
        let e = parse("a 1").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, column: 3 });
        let e = parse("a: \"\\q\"").unwrap_err();
        assert_eq!(
            (e.pos, e.message.as_str()),
            (Pos { line: 1, column: 5 }, "unknown escape \\q")
        );
        let deep = "a {".repeat(200);
        assert!(parse(&deep).unwrap_err().message.contains("nested"));
    }
}

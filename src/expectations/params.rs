//! GE suite parameters: an argument written `{"$PARAMETER": "expression"}`
//! takes the expression's value when the suite is read.
//!
//! The expressions GE's own suites and tests use are understood: numbers,
//! `+ - * /` and parentheses, `now()` (the current UTC time, naive),
//! `datetime(year, month, day[, hour, minute, second[, microsecond]])`,
//! `date(year, month, day)` and `timedelta(...)` with Python's positional
//! order and keywords (`days, seconds, microseconds, milliseconds, minutes,
//! hours, weeks`). A date/time result becomes an ISO 8601 text bound; a
//! name is an error, since assay takes no runtime parameter values.

use chrono::{Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value as Json;

/// The key GE marks a suite parameter with.
pub const PARAMETER: &str = "$PARAMETER";

/// The value of `{"$PARAMETER": expression}`, or `None` for any other value.
pub fn resolve(value: &Json) -> Option<Result<Json, String>> {
    let Json::Object(map) = value else {
        return None;
    };
    let expression = map.get(PARAMETER)?;
    let Some(text) = expression.as_str() else {
        return Some(Err(format!("`{PARAMETER}` must be a string expression")));
    };
    Some(evaluate(text).map_err(|e| format!("suite parameter \"{text}\": {e}")))
}

/// Evaluates an expression to a number or an ISO 8601 date/time.
pub fn evaluate(text: &str) -> Result<Json, String> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    let value = parser.sum()?;
    if parser.at != parser.tokens.len() {
        return Err(format!(
            "unexpected {}",
            parser.tokens[parser.at].describe()
        ));
    }
    match value {
        Value::Num(x) => serde_json::Number::from_f64(x)
            .map(Json::Number)
            .ok_or_else(|| "the value is not a finite number".to_string()),
        Value::Time(t) => Ok(Json::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())),
        Value::Span(_) => Err("a time span is not a bound; add it to a date/time".into()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(f64),
    Name(String),
    Op(char),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Num(x) => format!("number {x}"),
            Token::Name(n) => format!("name `{n}`"),
            Token::Op(c) => format!("`{c}`"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            let x = literal
                .parse::<f64>()
                .map_err(|_| format!("`{literal}` is not a number"))?;
            tokens.push(Token::Num(x));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
        } else if "+-*/(),=".contains(c) {
            tokens.push(Token::Op(c));
            i += 1;
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    Ok(tokens)
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Num(f64),
    Time(NaiveDateTime),
    Span(Duration),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, op: char) -> bool {
        if self.peek() == Some(&Token::Op(op)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: char) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(t) => format!("expected `{op}`, found {}", t.describe()),
                None => format!("expected `{op}` at the end"),
            })
        }
    }

    fn sum(&mut self) -> Result<Value, String> {
        let mut left = self.product()?;
        loop {
            if self.eat('+') {
                left = add(left, self.product()?, 1)?;
            } else if self.eat('-') {
                left = add(left, self.product()?, -1)?;
            } else {
                return Ok(left);
            }
        }
    }

    fn product(&mut self) -> Result<Value, String> {
        let mut left = self.unary()?;
        loop {
            if self.eat('*') {
                left = multiply(left, self.unary()?)?;
            } else if self.eat('/') {
                left = divide(left, self.unary()?)?;
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Value, String> {
        if self.eat('-') {
            return multiply(Value::Num(-1.0), self.unary()?);
        }
        if self.eat('+') {
            return self.unary();
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Value, String> {
        match self.peek().cloned() {
            Some(Token::Num(x)) => {
                self.at += 1;
                Ok(Value::Num(x))
            }
            Some(Token::Op('(')) => {
                self.at += 1;
                let value = self.sum()?;
                self.expect(')')?;
                Ok(value)
            }
            Some(Token::Name(name)) => {
                self.at += 1;
                if !self.eat('(') {
                    return Err(format!(
                        "`{name}` has no value (assay takes no runtime suite parameters; write the value instead)"
                    ));
                }
                let (positional, keywords) = self.arguments()?;
                call(&name, &positional, &keywords)
            }
            Some(other) => Err(format!("unexpected {}", other.describe())),
            None => Err("the expression ends early".into()),
        }
    }

    /// Arguments after `(`, through `)`.
    #[allow(clippy::type_complexity)]
    fn arguments(&mut self) -> Result<(Vec<Value>, Vec<(String, Value)>), String> {
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        if self.eat(')') {
            return Ok((positional, keywords));
        }
        loop {
            let keyword = match (self.peek(), self.tokens.get(self.at + 1)) {
                (Some(Token::Name(n)), Some(Token::Op('='))) => {
                    let n = n.clone();
                    self.at += 2;
                    Some(n)
                }
                _ => None,
            };
            let value = self.sum()?;
            match keyword {
                Some(k) => keywords.push((k, value)),
                None if keywords.is_empty() => positional.push(value),
                None => return Err("a positional argument follows a keyword argument".into()),
            }
            if self.eat(')') {
                return Ok((positional, keywords));
            }
            self.expect(',')?;
        }
    }
}

fn add(a: Value, b: Value, sign: i32) -> Result<Value, String> {
    let signed = |d: Duration| if sign < 0 { -d } else { d };
    Ok(match (a, b) {
        (Value::Num(x), Value::Num(y)) => Value::Num(x + f64::from(sign) * y),
        (Value::Time(t), Value::Span(d)) => Value::Time(
            t.checked_add_signed(signed(d))
                .ok_or("the date/time is out of range")?,
        ),
        (Value::Span(d), Value::Time(t)) if sign > 0 => Value::Time(
            t.checked_add_signed(d)
                .ok_or("the date/time is out of range")?,
        ),
        (Value::Time(t), Value::Time(u)) if sign < 0 => Value::Span(t - u),
        (Value::Span(d), Value::Span(e)) => Value::Span(d + signed(e)),
        _ => return Err("these values cannot be added or subtracted".into()),
    })
}

fn multiply(a: Value, b: Value) -> Result<Value, String> {
    Ok(match (a, b) {
        (Value::Num(x), Value::Num(y)) => Value::Num(x * y),
        (Value::Span(d), Value::Num(x)) | (Value::Num(x), Value::Span(d)) => {
            Value::Span(scale(d, x)?)
        }
        _ => return Err("these values cannot be multiplied".into()),
    })
}

fn divide(a: Value, b: Value) -> Result<Value, String> {
    match (a, b) {
        (_, Value::Num(0.0)) => Err("division by zero".into()),
        (Value::Num(x), Value::Num(y)) => Ok(Value::Num(x / y)),
        (Value::Span(d), Value::Num(y)) => Ok(Value::Span(scale(d, 1.0 / y)?)),
        _ => Err("these values cannot be divided".into()),
    }
}

fn scale(d: Duration, factor: f64) -> Result<Duration, String> {
    let micros = d.num_microseconds().ok_or("the time span is too long")? as f64 * factor;
    if !micros.is_finite() || micros.abs() > 9.0e18 {
        return Err("the time span is too long".into());
    }
    Ok(Duration::microseconds(micros.round() as i64))
}

fn whole(value: &Value, what: &str) -> Result<i64, String> {
    match value {
        Value::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => Ok(*x as i64),
        _ => Err(format!("{what} must be a whole number")),
    }
}

fn call(name: &str, positional: &[Value], keywords: &[(String, Value)]) -> Result<Value, String> {
    match name {
        "now" => {
            if !positional.is_empty() || !keywords.is_empty() {
                return Err("now() takes no arguments".into());
            }
            Ok(Value::Time(Utc::now().naive_utc()))
        }
        "datetime" | "date" => {
            let names = [
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "second",
                "microsecond",
            ];
            let limit = if name == "date" { 3 } else { 7 };
            let parts = bind(name, &names[..limit], positional, keywords)?;
            let part = |i: usize| match &parts[i] {
                Some(v) => whole(v, names[i]),
                None if i < 3 => Err(format!("{name}() needs `{}`", names[i])),
                None => Ok(0),
            };
            let day = NaiveDate::from_ymd_opt(part(0)? as i32, part(1)? as u32, part(2)? as u32)
                .ok_or_else(|| format!("{name}(): not a real date"))?;
            let time = if name == "date" {
                chrono::NaiveTime::MIN
            } else {
                chrono::NaiveTime::from_hms_micro_opt(
                    part(3)? as u32,
                    part(4)? as u32,
                    part(5)? as u32,
                    part(6)? as u32,
                )
                .ok_or("datetime(): not a real time of day")?
            };
            Ok(Value::Time(day.and_time(time)))
        }
        "timedelta" => {
            // Python's positional order.
            let names = [
                "days",
                "seconds",
                "microseconds",
                "milliseconds",
                "minutes",
                "hours",
                "weeks",
            ];
            let micros_per = [86_400e6, 1e6, 1.0, 1e3, 60e6, 3_600e6, 604_800e6];
            let parts = bind(name, &names, positional, keywords)?;
            let mut micros = 0.0;
            for (part, per) in parts.iter().zip(micros_per) {
                match part {
                    None => {}
                    Some(Value::Num(x)) => micros += x * per,
                    Some(_) => return Err("timedelta() takes numbers".into()),
                }
            }
            scale(Duration::microseconds(1), micros).map(Value::Span)
        }
        other => Err(format!(
            "unknown function `{other}` (known: now, datetime, date, timedelta)"
        )),
    }
}

/// Python-style argument binding: positional first, then keywords by name.
fn bind(
    function: &str,
    names: &[&str],
    positional: &[Value],
    keywords: &[(String, Value)],
) -> Result<Vec<Option<Value>>, String> {
    if positional.len() > names.len() {
        return Err(format!(
            "{function}() takes at most {} arguments",
            names.len()
        ));
    }
    let mut bound: Vec<Option<Value>> = vec![None; names.len()];
    for (slot, value) in bound.iter_mut().zip(positional) {
        *slot = Some(*value);
    }
    for (key, value) in keywords {
        let i = names
            .iter()
            .position(|n| n == key)
            .ok_or_else(|| format!("{function}() has no argument `{key}`"))?;
        if bound[i].is_some() {
            return Err(format!("{function}(): `{key}` given twice"));
        }
        bound[i] = Some(*value);
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Json {
        evaluate(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn dates_spans_and_arithmetic() {
        assert_eq!(eval("datetime(1969, 1, 1)"), "1969-01-01T00:00:00");
        assert_eq!(
            eval("datetime(2003, 1, 1) - timedelta(weeks=52*100)"),
            // 36,400 days before 2003-01-01.
            "1903-05-06T00:00:00"
        );
        assert_eq!(
            eval("date(2020, 2, 28) + timedelta(1, hours=1.5)"),
            "2020-02-29T01:30:00"
        );
        assert_eq!(eval("2 * (3 + 4) - 1"), 13.0);
        assert_eq!(eval("-3 / 2"), -1.5);
    }

    #[test]
    fn now_is_close_to_the_clock() {
        let text = eval("now() - timedelta(days=1)");
        let t =
            NaiveDateTime::parse_from_str(text.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.f").unwrap();
        let lag = Utc::now().naive_utc() - t;
        assert!(
            lag > Duration::hours(23) && lag < Duration::hours(25),
            "{lag}"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (text, wanted) in [
            (
                "upstream_row_count * 2",
                "`upstream_row_count` has no value",
            ),
            ("datetime(2020, 13, 1)", "not a real date"),
            ("timedelta(fortnights=1)", "no argument `fortnights`"),
            ("now() + now()", "cannot be added"),
            ("timedelta(days=1)", "not a bound"),
            ("1 +", "ends early"),
            ("(1", "expected `)`"),
        ] {
            let err = evaluate(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }
}

//! `row_condition` with `condition_parser = "pandas"`: GE passes it to
//! pandas' `DataFrame.query`. assay reads that syntax and writes the same
//! predicate as polars SQL for the data's schema.
//!
//! Understood: comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`, chained as in
//! `1 < x <= 5`), `in` / `not in` lists, `&` / `and`, `|` / `or`, `~` /
//! `not`, parentheses, a boolean column alone, column names (bare or in
//! backticks) and literals (numbers, '…' or "…" strings, True, False,
//! None). As in pandas, `&` and `|` bind more loosely than comparisons.
//!
//! The semantics are pandas': a missing value makes a comparison false,
//! except `!=`, which is true; a literal of another type than the column is
//! read as the column's type when it can be (`x == "1"` on numbers, `y == 9`
//! on text) and otherwise equals nothing. Anything else (arithmetic, method
//! calls such as `.isnull()`) is an error naming what is not understood.

use arrow::datatypes::Schema;

use super::values::{Family, family};

/// A parsed pandas condition.
#[derive(Debug, Clone)]
pub struct PandasCondition {
    text: String,
    expr: Expr,
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// `a op b [op c ...]`: each adjacent pair compared, all must hold.
    Compare(Vec<Operand>, Vec<Op>),
    In {
        operand: Operand,
        list: Vec<Literal>,
        negate: bool,
    },
    /// A boolean column used as the condition.
    Truthy(String),
}

#[derive(Debug, Clone)]
enum Operand {
    Column(String),
    Literal(Literal),
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Num(f64),
    Text(String),
    Bool(bool),
    None,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// `b op a` for `a op b`.
    fn flipped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Num(f64),
    Text(String),
    Sym(&'static str),
}

const SYMBOLS: &[&str] = &[
    "==", "!=", "<=", ">=", "<", ">", "&", "|", "~", "(", ")", "[", "]", ",",
];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let mut j = i + 1;
            let mut value = String::new();
            while j < chars.len() && chars[j] != c {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    j += 1;
                }
                value.push(chars[j]);
                j += 1;
            }
            if j >= chars.len() {
                return Err(format!("unclosed {c} quote"));
            }
            tokens.push(if c == '`' {
                Token::Name(value)
            } else {
                Token::Text(value)
            });
            i = j + 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || chars[i] == '_'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let literal: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let x = literal
                .parse::<f64>()
                .map_err(|_| format!("`{literal}` is not a number"))?;
            tokens.push(Token::Num(x));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            Some(sym) => {
                tokens.push(Token::Sym(sym));
                i += sym.len();
            }
            None if c == '-' => {
                // A negative number literal.
                tokens.push(Token::Sym("-"));
                i += 1;
            }
            None => return Err(format!("`{c}` is not understood")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is_sym(&self, sym: &str) -> bool {
        matches!(self.peek(), Some(Token::Sym(s)) if *s == sym)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == word)
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None => "the end".into(),
            Some(Token::Name(n)) => format!("`{n}`"),
            Some(Token::Num(x)) => format!("the number {x}"),
            Some(Token::Text(t)) => format!("the string \"{t}\""),
            Some(Token::Sym(s)) => format!("`{s}`"),
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        if self.is_sym(sym) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{sym}`, found {}", self.describe_next()))
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.and()?];
        while self.is_sym("|") || self.is_word("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.not()?];
        while self.is_sym("&") || self.is_word("and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.is_sym("~") || self.is_word("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.is_sym("(") {
            self.at += 1;
            let inner = self.or()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let first = self.operand()?;
        // `x in [...]`, `x not in [...]`
        let negate = self.is_word("not")
            && matches!(self.tokens.get(self.at + 1), Some(Token::Name(n)) if n == "in");
        if negate || self.is_word("in") {
            self.at += if negate { 2 } else { 1 };
            let list = self.list()?;
            return Ok(Expr::In {
                operand: first,
                list,
                negate,
            });
        }
        let mut operands = vec![first];
        let mut ops = Vec::new();
        while let Some(op) = self.op() {
            self.at += 1;
            ops.push(op);
            operands.push(self.operand()?);
        }
        if ops.is_empty() {
            return match operands.remove(0) {
                Operand::Column(name) => Ok(Expr::Truthy(name)),
                Operand::Literal(_) => Err("a literal alone is not a condition".into()),
            };
        }
        Ok(Expr::Compare(operands, ops))
    }

    fn op(&self) -> Option<Op> {
        Some(match self.peek()? {
            Token::Sym("==") => Op::Eq,
            Token::Sym("!=") => Op::Ne,
            Token::Sym("<") => Op::Lt,
            Token::Sym("<=") => Op::Le,
            Token::Sym(">") => Op::Gt,
            Token::Sym(">=") => Op::Ge,
            _ => return None,
        })
    }

    fn list(&mut self) -> Result<Vec<Literal>, String> {
        let (open, close) = if self.is_sym("(") {
            ("(", ")")
        } else {
            ("[", "]")
        };
        self.expect_sym(open)?;
        let mut items = Vec::new();
        while !self.is_sym(close) {
            match self.operand()? {
                Operand::Literal(l) => items.push(l),
                Operand::Column(c) => {
                    return Err(format!("`{c}`: a list holds literals, not columns"));
                }
            }
            if !self.is_sym(close) {
                self.expect_sym(",")?;
            }
        }
        self.at += 1;
        Ok(items)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let negative = self.is_sym("-");
        if negative {
            self.at += 1;
        }
        let token = self.peek().cloned();
        self.at += 1;
        let operand = match token {
            Some(Token::Num(x)) => Operand::Literal(Literal::Num(x)),
            Some(Token::Text(t)) => Operand::Literal(Literal::Text(t)),
            Some(Token::Name(n)) if n == "True" => Operand::Literal(Literal::Bool(true)),
            Some(Token::Name(n)) if n == "False" => Operand::Literal(Literal::Bool(false)),
            Some(Token::Name(n)) if n == "None" || n == "nan" || n == "NaN" => {
                Operand::Literal(Literal::None)
            }
            Some(Token::Name(n)) => {
                if matches!(self.peek(), Some(Token::Name(_)))
                    && !self.is_word("in")
                    && !self.is_word("not")
                    && !self.is_word("and")
                    && !self.is_word("or")
                {
                    return Err(format!("unexpected {} after `{n}`", self.describe_next()));
                }
                Operand::Column(n)
            }
            _ => {
                self.at -= 1;
                return Err(format!(
                    "expected a column or a value, found {}",
                    self.describe_next()
                ));
            }
        };
        match (negative, operand) {
            (false, operand) => Ok(operand),
            (true, Operand::Literal(Literal::Num(x))) => Ok(Operand::Literal(Literal::Num(-x))),
            (true, _) => Err("`-` is understood only before a number".into()),
        }
    }
}

impl PandasCondition {
    /// Parses a `DataFrame.query` condition (argument errors name what is
    /// not understood).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            at: 0,
        };
        let expr = parser.or()?;
        if parser.at < parser.tokens.len() {
            return Err(format!(
                "{} is not understood here (arithmetic and method calls are not supported)",
                parser.describe_next()
            ));
        }
        Ok(Self {
            text: text.to_string(),
            expr,
        })
    }

    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The condition as a polars SQL predicate for data of `schema`.
    pub fn to_sql(&self, schema: &Schema) -> Result<String, String> {
        expr_sql(&self.expr, schema)
    }
}

fn column_sql(name: &str, schema: &Schema) -> Result<(String, Family), String> {
    let field = schema
        .field_with_name(name)
        .map_err(|_| format!("column \"{name}\" is not in the data"))?;
    Ok((
        format!("\"{}\"", name.replace('"', "\"\"")),
        family(field.data_type()),
    ))
}

fn text_sql(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A number as Python prints it (`9`, `9.5`).
fn python_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e16 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The literal as a value of the column's family, or `None` when no value
/// of the column can equal it.
fn coerce(literal: &Literal, fam: Family) -> Option<String> {
    match (literal, fam) {
        (Literal::None, _) => None,
        (Literal::Num(x), Family::Num) => Some(python_number(*x)),
        (Literal::Text(t), Family::Num) => t.trim().parse::<f64>().ok().map(python_number),
        (Literal::Bool(b), Family::Num) => Some(if *b { "1" } else { "0" }.into()),
        (Literal::Text(t), Family::Text | Family::Other) => Some(text_sql(t)),
        (Literal::Num(x), Family::Text | Family::Other) => Some(text_sql(&python_number(*x))),
        (Literal::Bool(b), Family::Text | Family::Other) => {
            Some(text_sql(if *b { "True" } else { "False" }))
        }
        (Literal::Bool(b), Family::Bool) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
        (Literal::Num(x), Family::Bool) if *x == 0.0 || *x == 1.0 => {
            Some(if *x == 1.0 { "TRUE" } else { "FALSE" }.into())
        }
        (Literal::Text(t), Family::Temporal) => {
            super::values::parse_time(t).map(|_| format!("CAST({} AS TIMESTAMP)", text_sql(t)))
        }
        _ => None,
    }
}

/// A literal compared with a literal or another column: its natural type.
fn literal_sql(literal: &Literal) -> String {
    match literal {
        Literal::Num(x) => python_number(*x),
        Literal::Text(t) => text_sql(t),
        Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Literal::None => "NULL".into(),
    }
}

/// One comparison with pandas' missing-value rule: false when a value is
/// missing, except `!=`, which is true.
fn pair_sql(left: &Operand, op: Op, right: &Operand, schema: &Schema) -> Result<String, String> {
    let missing = if op == Op::Ne { "TRUE" } else { "FALSE" };
    let (column, op, other) = match (left, right) {
        (Operand::Column(a), Operand::Column(b)) => {
            let (a, _) = column_sql(a, schema)?;
            let (b, _) = column_sql(b, schema)?;
            return Ok(format!("COALESCE({a} {} {b}, {missing})", op.sql()));
        }
        (Operand::Literal(a), Operand::Literal(b)) => {
            return Ok(format!(
                "COALESCE({} {} {}, {missing})",
                literal_sql(a),
                op.sql(),
                literal_sql(b)
            ));
        }
        (Operand::Column(c), Operand::Literal(l)) => (c, op, l),
        (Operand::Literal(l), Operand::Column(c)) => (c, op.flipped(), l),
    };
    let (column, fam) = column_sql(column, schema)?;
    Ok(match coerce(other, fam) {
        Some(value) => format!("COALESCE({column} {} {value}, {missing})", op.sql()),
        // No value of the column equals it; order comparisons fail too.
        None => missing.to_string(),
    })
}

fn expr_sql(expr: &Expr, schema: &Schema) -> Result<String, String> {
    let join = |parts: &[Expr], word: &str| -> Result<String, String> {
        let parts: Vec<String> = parts
            .iter()
            .map(|p| expr_sql(p, schema))
            .collect::<Result<_, _>>()?;
        Ok(format!("({})", parts.join(&format!(" {word} "))))
    };
    match expr {
        Expr::Or(parts) => join(parts, "OR"),
        Expr::And(parts) => join(parts, "AND"),
        Expr::Not(inner) => Ok(format!("(NOT {})", expr_sql(inner, schema)?)),
        Expr::Truthy(name) => {
            let (column, fam) = column_sql(name, schema)?;
            if fam != Family::Bool {
                return Err(format!(
                    "column \"{name}\" alone is a condition only when it holds booleans"
                ));
            }
            Ok(format!("COALESCE({column}, FALSE)"))
        }
        Expr::Compare(operands, ops) => {
            let pairs: Vec<String> = ops
                .iter()
                .enumerate()
                .map(|(i, op)| pair_sql(&operands[i], *op, &operands[i + 1], schema))
                .collect::<Result<_, _>>()?;
            Ok(if pairs.len() == 1 {
                pairs[0].clone()
            } else {
                format!("({})", pairs.join(" AND "))
            })
        }
        Expr::In {
            operand,
            list,
            negate,
        } => {
            let Operand::Column(name) = operand else {
                return Err("`in` needs a column on its left".into());
            };
            let (column, fam) = column_sql(name, schema)?;
            let values: Vec<String> = list.iter().filter_map(|l| coerce(l, fam)).collect();
            let (word, missing) = if *negate {
                ("NOT IN", "TRUE")
            } else {
                ("IN", "FALSE")
            };
            Ok(if values.is_empty() {
                missing.to_string()
            } else {
                format!(
                    "COALESCE({column} {word} ({}), {missing})",
                    values.join(", ")
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("w", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("my col", DataType::Int64, true),
        ])
    }

    fn sql(text: &str) -> String {
        PandasCondition::parse(text)
            .and_then(|c| c.to_sql(&schema()))
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn ampersands_join_comparisons_and_not_equal_keeps_missing_rows() {
        assert_eq!(
            sql("x!=1 & w!=6"),
            "(COALESCE(\"x\" <> 1, TRUE) AND COALESCE(\"w\" <> 6, TRUE))"
        );
        assert_eq!(
            sql("(x == 5) | ~(s == \"e\")"),
            "(COALESCE(\"x\" = 5, FALSE) OR (NOT COALESCE(\"s\" = 'e', FALSE)))"
        );
    }

    #[test]
    fn literals_take_the_column_type_when_they_can() {
        assert_eq!(sql("x == \"1\""), "COALESCE(\"x\" = 1, FALSE)");
        assert_eq!(sql("s == 9"), "COALESCE(\"s\" = '9', FALSE)");
        assert_eq!(sql("x == 'abc'"), "FALSE");
        assert_eq!(sql("x != 'abc'"), "TRUE");
        assert_eq!(sql("3 < x"), "COALESCE(\"x\" > 3, FALSE)");
        assert_eq!(sql("flag == True"), "COALESCE(\"flag\" = TRUE, FALSE)");
    }

    #[test]
    fn chains_lists_words_and_backticks() {
        assert_eq!(
            sql("1 < x <= 5"),
            "(COALESCE(\"x\" > 1, FALSE) AND COALESCE(\"x\" <= 5, FALSE))"
        );
        assert_eq!(
            sql("s in ['a', 'b'] and not flag"),
            "(COALESCE(\"s\" IN ('a', 'b'), FALSE) AND (NOT COALESCE(\"flag\", FALSE)))"
        );
        assert_eq!(
            sql("x not in [1, 2]"),
            "COALESCE(\"x\" NOT IN (1, 2), TRUE)"
        );
        assert_eq!(
            sql("`my col` >= -2.5"),
            "COALESCE(\"my col\" >= -2.5, FALSE)"
        );
    }

    #[test]
    fn what_is_not_understood_is_named() {
        for (text, wanted) in [
            ("x.isnull()", "`.` is not understood"),
            ("x + 1 > 2", "`+` is not understood"),
            ("x == ", "expected a column or a value"),
            ("(x == 1", "expected `)`"),
            ("s == 'a", "unclosed ' quote"),
        ] {
            let err = PandasCondition::parse(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
        let err = PandasCondition::parse("nope == 1")
            .unwrap()
            .to_sql(&schema())
            .unwrap_err();
        assert!(err.contains("\"nope\" is not in the data"), "{err}");
    }
}

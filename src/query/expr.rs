//! A SQL expression compiled once by polars' SQL front end, plus what is
//! needed to evaluate it on arrow-rs batches: the columns it reads and the
//! text and option it came from (for error messages).

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use polars::prelude::{Column, DataFrame, Expr, IntoLazy, Series, col};

use super::QueryError;
use super::bridge::array_to_series;

/// How many column names an "unknown column" message lists before eliding.
const MAX_LISTED_COLUMNS: usize = 30;

#[derive(Debug, Clone)]
pub(crate) struct CompiledExpr {
    /// The command-line option the expression came from (`--where`, `--slice`).
    pub option: &'static str,
    /// The expression as the user wrote it.
    pub text: String,
    pub expr: Expr,
    /// Columns the expression reads, without duplicates, in first-use order.
    pub columns: Vec<String>,
}

impl CompiledExpr {
    pub fn compile(option: &'static str, text: &str) -> Result<Self, QueryError> {
        let syntax = |message: String| QueryError::Syntax {
            option,
            expr: text.to_string(),
            message,
        };
        if text.trim().is_empty() {
            return Err(syntax("the expression is empty".to_string()));
        }
        quiet_polars_warnings();
        let expr = polars::sql::sql_expr(text).map_err(|e| {
            let message = polars_message(&e);
            // polars' wording ("unable to parse '...' as Expr") repeats the
            // text and names its own type; the parser's detail is not kept.
            if message.contains("unable to parse") {
                syntax("it does not parse (check operators, quotes and parentheses)".to_string())
            } else {
                syntax(message)
            }
        })?;
        if let Some(problem) = unsupported_construct(&expr) {
            return Err(syntax(problem));
        }
        let mut columns: Vec<String> = Vec::new();
        for name in expr.clone().meta().root_names() {
            if !columns.iter().any(|c| c == name.as_str()) {
                columns.push(name.to_string());
            }
        }
        Ok(Self {
            option,
            text: text.to_string(),
            expr,
            columns,
        })
    }

    pub fn evaluation_error(&self, message: impl Into<String>) -> QueryError {
        QueryError::Evaluation {
            option: self.option,
            expr: self.text.clone(),
            message: message.into(),
        }
    }

    /// The error for a referenced column that `schema` lacks; `extra` are
    /// further names the expression could have used (earlier derived columns).
    pub fn unknown_column(&self, column: &str, schema: &Schema, extra: &[&str]) -> QueryError {
        let names: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .chain(extra.iter().copied())
            .collect();
        let mut available = names
            .iter()
            .take(MAX_LISTED_COLUMNS)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > MAX_LISTED_COLUMNS {
            available.push_str(&format!(
                ", ... ({} more)",
                names.len() - MAX_LISTED_COLUMNS
            ));
        }
        if names.is_empty() {
            available = "(none)".to_string();
        }
        // Unquoted SQL identifiers keep their case here, so `AGE` misses `age`.
        if let Some(near) = names.iter().find(|n| n.eq_ignore_ascii_case(column)) {
            available.push_str(&format!(" (did you mean \"{near}\"?)"));
        }
        QueryError::UnknownColumn {
            option: self.option,
            expr: self.text.clone(),
            column: column.to_string(),
            available,
        }
    }

    /// Evaluates the expression on `input` (a frame holding at least the
    /// referenced columns) and returns a Series with one value per input row.
    pub fn evaluate(&self, input: DataFrame, name: &str) -> Result<Series, QueryError> {
        let height = input.height();
        let out = input
            .lazy()
            .with_columns([self.expr.clone().alias(name)])
            .select([col(name)])
            .collect()
            .map_err(|e| self.evaluation_error(polars_message(&e)))?;
        let column = out
            .columns()
            .first()
            .ok_or_else(|| self.evaluation_error("polars returned no result column"))?;
        // `with_columns` broadcasts scalars, except on a frame without columns
        // (an expression of literals only); broadcast those here.
        if column.len() == 1 && height != 1 && self.columns.is_empty() {
            return Ok(column
                .new_from_index(0, height)
                .as_materialized_series()
                .clone());
        }
        // Anything else than one value per input row means the expression
        // changed the row count.
        if column.len() != height {
            return Err(self.evaluation_error(format!(
                "the expression yields {} values for {height} rows; it must yield one value per row",
                column.len()
            )));
        }
        Ok(column.as_materialized_series().clone())
    }
}

/// Explains the first construct that makes no sense in a per-row expression
/// evaluated batch by batch, if any: aggregates, windows, sorting and
/// row-count changes over columns would mean "within this batch", and an
/// alias (`expr AS name`, or `expr name`, which is how a typo such as
/// `CASE WHEN` parses) would silently rename the result. Aggregates over
/// literals only are fine: `x IN ('a', 'b')` implodes its literal list.
fn unsupported_construct(expr: &Expr) -> Option<String> {
    if let Expr::Alias(_, alias) = expr {
        return Some(format!(
            "unexpected alias \"{alias}\" (`expression AS name`, or a word after a complete \
             expression); write just the expression"
        ));
    }
    let per_batch = expr.into_iter().find_map(|node| {
        let reads_columns = || !node.clone().meta().root_names().is_empty();
        match node {
            Expr::Len => Some("aggregate functions"),
            Expr::Agg(_) if reads_columns() => Some("aggregate functions"),
            Expr::Over { .. } => Some("window functions"),
            Expr::Sort { .. } | Expr::SortBy { .. } if reads_columns() => Some("sorting"),
            Expr::Gather { .. }
            | Expr::Slice { .. }
            | Expr::Filter { .. }
            | Expr::Explode { .. }
                if reads_columns() =>
            {
                Some("expressions that select or reorder rows")
            }
            Expr::Selector(_) => Some("wildcards and column selectors"),
            _ => None,
        }
    })?;
    Some(format!(
        "{per_batch} are not supported: the expression is evaluated on each batch of rows \
         separately, so its value would depend on how the input is split"
    ))
}

/// polars prints its warnings to stderr by default, and they address polars'
/// own users (e.g. SQL `DATE '2020-01-01'` triggers "Casting from String to
/// Date is deprecated ... use `str.to_date()`"), which an assay user can
/// neither act on nor avoid. Route them to the debug log instead, once per
/// process (polars keeps a single global warning hook).
fn quiet_polars_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        polars::error::set_warning_function(|message, kind| {
            tracing::debug!("polars {kind:?}: {message}");
        });
    });
}

/// polars appends the resolved query plan to evaluation errors after a blank
/// line; users wrote an expression, not a plan, so keep the first part.
pub(crate) fn polars_message(error: &polars::error::PolarsError) -> String {
    let text = error.to_string();
    match text.split_once("\n\n") {
        Some((head, _)) => head.trim_end().to_string(),
        None => text,
    }
}

/// A polars frame with the named columns of `batch` (shared buffers);
/// `missing` builds the error for a name the batch lacks.
pub(crate) fn input_frame<'a>(
    batch: &RecordBatch,
    names: impl IntoIterator<Item = &'a str>,
    missing: impl Fn(&str) -> QueryError,
) -> Result<DataFrame, QueryError> {
    let schema = batch.schema();
    let mut columns = Vec::new();
    for name in names {
        let index = schema.index_of(name).map_err(|_| missing(name))?;
        columns.push(Column::from(array_to_series(name, batch.column(index))?));
    }
    DataFrame::new(batch.num_rows(), columns).map_err(|e| QueryError::Conversion {
        column: "<batch>".to_string(),
        message: e.to_string(),
    })
}

//! The label values a model accepts, checked where they arrive (a label
//! body, a spool file, a batch with inline labels) so that a bad value is a
//! 400 naming the row and the column and nothing of the body is applied —
//! rather than a window whose quality later cannot be computed.
//!
//! - A label outside the schema's `domain` for the label column is bad.
//! - A regression label must be a number; a classification label must be a
//!   class (an integer, an integral float, a boolean or text).
//! - A binary task has two classes over the model's life: the baseline's,
//!   and every class stored since (labels, and predicted classes), kept in
//!   the pending store so a restart remembers them. A value that would be
//!   a third is bad.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use super::RowError;
use crate::quality::Task;
use crate::quality::class_value::ClassValue;
use crate::schema::Domain;

/// The distinct classes of one body, each with the first row it is on, in
/// row order; and for each row the index of its class (`u32::MAX`: none).
#[derive(Debug, Default, Clone)]
pub struct BodyClasses {
    pub classes: Vec<(ClassValue, usize)>,
    pub of_row: Vec<u32>,
}

impl BodyClasses {
    /// The class names, for the store.
    pub fn names(&self) -> Vec<String> {
        self.classes
            .iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect()
    }
}

/// What a model accepts as a label, and the classes it has stored.
pub struct LabelClasses {
    task: Option<Task>,
    /// The schema's domain for the label column, as classes.
    domain: Option<BTreeSet<ClassValue>>,
    /// Classes stored so far (and the baseline's).
    seen: Mutex<BTreeSet<ClassValue>>,
    /// Held from a body's class check to its commit, so two bodies cannot
    /// each bring a different second class.
    gate: Mutex<()>,
}

/// How values of one array map to classes.
enum Distinct<'a> {
    Int(HashMap<i64, usize>),
    Text(HashMap<&'a str, usize>),
    Bool([Option<usize>; 2]),
}

impl LabelClasses {
    pub fn new(
        task: Option<Task>,
        domain: Option<&Domain>,
        seen: impl IntoIterator<Item = ClassValue>,
    ) -> Self {
        let domain = domain.map(|d| match d {
            Domain::Strings(v) => v.iter().map(ClassValue::new).collect(),
            Domain::Ints(v) => v.iter().map(|i| ClassValue::from_i64(*i)).collect(),
        });
        Self {
            task,
            domain,
            seen: Mutex::new(seen.into_iter().collect()),
            gate: Mutex::new(()),
        }
    }

    /// Whether bodies need their classes collected (a binary task or a
    /// domain to check).
    fn wants_classes(&self) -> bool {
        self.domain.is_some() || self.task == Some(Task::Binary)
    }

    /// Checks every non-null value of `values` (of a kept type: Int64,
    /// Float64, Boolean or Utf8) as labels (or predicted classes) of column
    /// `column`; returns the body's classes. `skip(row)` rows are not
    /// looked at (rows without a request id).
    pub fn check_values(
        &self,
        values: &dyn Array,
        column: &str,
        skip: impl Fn(usize) -> bool,
    ) -> Result<BodyClasses, RowError> {
        let bad = |row: usize, message: String| RowError {
            row,
            column: column.to_string(),
            message,
        };
        if self.task == Some(Task::Regression) {
            check_numbers(values, &skip).map_err(|(row, m)| bad(row, m))?;
            return Ok(BodyClasses::default());
        }
        if !self.wants_classes() {
            // The task is decided per window: a label is at least finite.
            if values.data_type() == &DataType::Float64 {
                check_numbers(values, &skip).map_err(|(row, m)| bad(row, m))?;
            }
            return Ok(BodyClasses::default());
        }
        let n = values.len();
        let mut of_row = vec![u32::MAX; n];
        // First row of each distinct value, then its class.
        let mut distinct = match values.data_type() {
            DataType::Int64 => Distinct::Int(HashMap::new()),
            DataType::Boolean => Distinct::Bool([None; 2]),
            DataType::Float64 => Distinct::Int(HashMap::new()),
            _ => Distinct::Text(HashMap::new()),
        };
        let mut order: Vec<usize> = Vec::new();
        for (row, slot) in of_row.iter_mut().enumerate() {
            if values.is_null(row) || skip(row) {
                continue;
            }
            let next = order.len();
            let index = match (&mut distinct, values.data_type()) {
                (Distinct::Int(m), DataType::Int64) => *m
                    .entry(values.as_primitive::<Int64Type>().value(row))
                    .or_insert(next),
                (Distinct::Int(m), DataType::Float64) => {
                    let v = values.as_primitive::<Float64Type>().value(row);
                    let Some(c) = ClassValue::from_f64(v) else {
                        return Err(bad(
                            row,
                            format!(
                                "{v} is not a class; a classification label is an integer, a boolean or text"
                            ),
                        ));
                    };
                    let i = c.number().unwrap_or_default() as i64;
                    *m.entry(i).or_insert(next)
                }
                (Distinct::Bool(b), _) => {
                    let v = usize::from(values.as_boolean().value(row));
                    *b[v].get_or_insert(next)
                }
                (Distinct::Text(m), _) => *m
                    .entry(values.as_string::<i32>().value(row))
                    .or_insert(next),
                _ => unreachable!("the distinct map follows the type"),
            };
            if index == next {
                order.push(row);
            }
            *slot = index as u32;
        }
        let class_at = |row: usize| -> ClassValue {
            match values.data_type() {
                DataType::Int64 => {
                    ClassValue::from_i64(values.as_primitive::<Int64Type>().value(row))
                }
                DataType::Float64 => {
                    ClassValue::from_f64(values.as_primitive::<Float64Type>().value(row))
                        .expect("checked above")
                }
                DataType::Boolean => ClassValue::from_bool(values.as_boolean().value(row)),
                _ => ClassValue::new(values.as_string::<i32>().value(row)),
            }
        };
        let classes: Vec<(ClassValue, usize)> =
            order.iter().map(|&row| (class_at(row), row)).collect();
        if let Some(domain) = &self.domain
            && let Some((c, row)) = classes.iter().find(|(c, _)| !domain.contains(c))
        {
            let listed: Vec<&str> = domain.iter().map(ClassValue::as_str).collect();
            return Err(bad(
                *row,
                format!(
                    "`{c}` is outside the schema's domain for `{column}`; expected one of {}",
                    listed.join(", ")
                ),
            ));
        }
        Ok(BodyClasses { classes, of_row })
    }

    /// Locks the model's classes for a check and the commit that follows.
    pub fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A binary task: the body's classes with those stored stay at most
    /// two (call under [`Self::gate`]).
    pub fn check_binary(&self, body: &BodyClasses, column: &str) -> Result<(), RowError> {
        if self.task != Some(Task::Binary) {
            return Ok(());
        }
        let mut all = self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (c, row) in &body.classes {
            if all.contains(c) {
                continue;
            }
            if all.len() >= 2 {
                let before: Vec<&str> = all.iter().map(ClassValue::as_str).collect();
                return Err(RowError {
                    row: *row,
                    column: column.to_string(),
                    message: format!(
                        "`{c}` is a third class (after `{}`); the model's task is binary",
                        before.join("`, `")
                    ),
                });
            }
            all.insert(c.clone());
        }
        Ok(())
    }

    /// Classes now stored.
    pub fn record<'a>(&self, classes: impl IntoIterator<Item = &'a str>) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for c in classes {
            if !seen.iter().any(|s| s.as_str() == c) {
                seen.insert(ClassValue::new(c));
            }
        }
    }
}

/// A regression label: a finite number.
fn check_numbers(values: &dyn Array, skip: &impl Fn(usize) -> bool) -> Result<(), (usize, String)> {
    let rows = (0..values.len()).filter(|&r| values.is_valid(r) && !skip(r));
    match values.data_type() {
        DataType::Int64 => Ok(()),
        DataType::Float64 => {
            let f = values.as_primitive::<Float64Type>();
            for row in rows {
                if !f.value(row).is_finite() {
                    return Err((
                        row,
                        format!("the label {} is not a finite number", f.value(row)),
                    ));
                }
            }
            Ok(())
        }
        DataType::Boolean => match rows.into_iter().next() {
            Some(row) => Err((
                row,
                "a regression label is a number, found a boolean".into(),
            )),
            None => Ok(()),
        },
        _ => {
            let s = values.as_string::<i32>();
            for row in rows {
                match s.value(row).trim().parse::<f64>() {
                    Ok(v) if v.is_finite() => {}
                    _ => {
                        return Err((
                            row,
                            format!(
                                "`{}` is not a number; a regression label is a number",
                                s.value(row)
                            ),
                        ));
                    }
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};

    #[test]
    fn domain_third_class_and_numbers() {
        let domain = Domain::Strings(vec!["<=50K".into(), ">50K".into()]);
        let c = LabelClasses::new(Some(Task::Binary), Some(&domain), []);
        let ok = StringArray::from(vec![Some(">50K"), None, Some("<=50K"), Some(">50K")]);
        let body = c.check_values(&ok, "income", |_| false).unwrap();
        assert_eq!(body.names(), vec![">50K", "<=50K"]);
        assert_eq!(body.of_row, vec![0, u32::MAX, 1, 0]);
        let bad = StringArray::from(vec![">50K", "<=50K", "50K"]);
        let e = c.check_values(&bad, "income", |_| false).unwrap_err();
        assert_eq!((e.row, e.column.as_str()), (2, "income"));
        assert!(e.message.contains("outside the schema's domain"), "{e:?}");
        // Skipped rows are not looked at.
        assert!(c.check_values(&bad, "income", |r| r == 2).is_ok());

        // Binary without a domain: the third class is bad, counting those stored.
        let c = LabelClasses::new(Some(Task::Binary), None, [ClassValue::from_i64(0)]);
        let body = c
            .check_values(&Int64Array::from(vec![0, 1, 1]), "label", |_| false)
            .unwrap();
        c.check_binary(&body, "label").unwrap();
        c.record(body.names().iter().map(String::as_str));
        let floats = Float64Array::from(vec![1.0, 0.0, 2.0]);
        let body = c.check_values(&floats, "label", |_| false).unwrap();
        let e = c.check_binary(&body, "label").unwrap_err();
        assert_eq!(e.row, 2);
        assert!(e.message.contains("third class"), "{e:?}");
        let e = c
            .check_values(&Float64Array::from(vec![0.0, 0.5]), "label", |_| false)
            .unwrap_err();
        assert_eq!(e.row, 1);
        let bools = BooleanArray::from(vec![true, false]);
        assert_eq!(
            c.check_values(&bools, "label", |_| false)
                .unwrap()
                .classes
                .len(),
            2
        );

        // Regression: numbers only.
        let c = LabelClasses::new(Some(Task::Regression), None, []);
        let e = c
            .check_values(&StringArray::from(vec!["1.5", "x"]), "y", |_| false)
            .unwrap_err();
        assert_eq!((e.row, e.column.as_str()), (1, "y"));
        let e = c
            .check_values(&Float64Array::from(vec![1.0, f64::NAN]), "y", |_| false)
            .unwrap_err();
        assert_eq!(e.row, 1);
        assert!(
            c.check_values(&Int64Array::from(vec![3]), "y", |_| false)
                .is_ok()
        );
    }
}

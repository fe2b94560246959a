//! Class labels as values with one order, whatever column type they come
//! from.
//!
//! A class is kept as its text: an integer as its decimal digits, a boolean
//! as `true`/`false`, a float with an integral value as the integer (`1.0`
//! is class `1`, so a CSV label read as floats still meets an integer
//! prediction), a string as itself. Classes sort numbers first, by value
//! (ties by text), then everything else by text: so `2 < 10`, and `<=50K`
//! sorts before `>50K`. This is the order of confusion matrices and of
//! "the last of the two classes" in the default positive class.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// One class label (see the module docs for its order).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassValue(String);

impl ClassValue {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn from_i64(v: i64) -> Self {
        Self(v.to_string())
    }

    pub fn from_bool(v: bool) -> Self {
        Self(if v { "true" } else { "false" }.to_string())
    }

    /// A float label: its integer when integral (and exactly representable),
    /// else `None` (not a class).
    pub fn from_f64(v: f64) -> Option<Self> {
        (v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15)
            .then(|| Self::from_i64(v as i64))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number this class is, when it is one.
    pub fn number(&self) -> Option<f64> {
        self.0.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    /// Whether `text` names this class: the same text, or the same number
    /// (`--positive 1.0` names class `1`).
    pub fn matches(&self, text: &str) -> bool {
        if self.0 == text {
            return true;
        }
        match (self.number(), text.trim().parse::<f64>()) {
            (Some(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for ClassValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ord for ClassValue {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.number(), other.number()) {
            (Some(a), Some(b)) => a.total_cmp(&b).then_with(|| self.0.cmp(&other.0)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.0.cmp(&other.0),
        }
    }
}

impl PartialOrd for ClassValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The positive class of a binary task among `classes` (sorted, at most
/// two): the one `given` names; else `1` when every class is a number in
/// {0, 1} or {-1, 1}; else `true` when the classes are booleans; else the
/// last class. `None` when `given` names no class and the classes are
/// empty. A given positive class that was never seen is still the positive
/// class (a window where it never occurs has a recall of 0, not another
/// positive class).
pub fn positive_class(classes: &[ClassValue], given: Option<&str>) -> Option<ClassValue> {
    if let Some(text) = given {
        return Some(
            classes
                .iter()
                .find(|c| c.matches(text))
                .cloned()
                .unwrap_or_else(|| ClassValue::new(text)),
        );
    }
    let numbers: Option<Vec<f64>> = classes.iter().map(ClassValue::number).collect();
    if let Some(numbers) = &numbers
        && !numbers.is_empty()
        && (numbers.iter().all(|v| *v == 0.0 || *v == 1.0)
            || numbers.iter().all(|v| *v == -1.0 || *v == 1.0))
    {
        return Some(
            classes
                .iter()
                .find(|c| c.number() == Some(1.0))
                .cloned()
                .unwrap_or_else(|| ClassValue::from_i64(1)),
        );
    }
    if !classes.is_empty()
        && classes
            .iter()
            .all(|c| c.as_str() == "true" || c.as_str() == "false")
    {
        return Some(ClassValue::from_bool(true));
    }
    classes.iter().max().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(texts: &[&str]) -> Vec<ClassValue> {
        let mut v: Vec<ClassValue> = texts.iter().map(|t| ClassValue::new(*t)).collect();
        v.sort();
        v
    }

    #[test]
    fn numbers_sort_by_value_before_text() {
        let v = classes(&["10", "2", "b", "a", "-1", "1a"]);
        let texts: Vec<&str> = v.iter().map(ClassValue::as_str).collect();
        assert_eq!(texts, ["-1", "2", "10", "1a", "a", "b"]);
    }

    #[test]
    fn default_positive_class_follows_the_documented_rule() {
        let pos = |t: &[&str]| positive_class(&classes(t), None).map(|c| c.to_string());
        assert_eq!(pos(&["0", "1"]).as_deref(), Some("1"));
        assert_eq!(pos(&["0"]).as_deref(), Some("1"), "1 even when unseen");
        assert_eq!(pos(&["-1", "1"]).as_deref(), Some("1"));
        assert_eq!(pos(&["false", "true"]).as_deref(), Some("true"));
        assert_eq!(pos(&["false"]).as_deref(), Some("true"));
        assert_eq!(pos(&["<=50K", ">50K"]).as_deref(), Some(">50K"));
        assert_eq!(pos(&["2", "10"]).as_deref(), Some("10"));
        assert_eq!(pos(&[]), None);
        let given = positive_class(&classes(&["0", "1"]), Some("0.0")).unwrap();
        assert_eq!(given.as_str(), "0");
    }

    #[test]
    fn integral_floats_are_integer_classes() {
        assert_eq!(ClassValue::from_f64(1.0).unwrap().as_str(), "1");
        assert_eq!(ClassValue::from_f64(-0.0).unwrap().as_str(), "0");
        assert!(ClassValue::from_f64(0.5).is_none());
        assert!(ClassValue::from_f64(f64::NAN).is_none());
    }
}

//! `[models.NAME.quality]`: joining labels to predictions, and the model's
//! quality and fairness per window (`server::labels`).
//!
//! ```toml
//! [models.credit.quality]
//! label = "label"              # default: the baseline's label column
//! score = "prediction"         # binary: the probability of the positive class
//! prediction = "predicted"     # the predicted class or value
//! task = "binary"              # binary | multiclass | regression; default: inferred
//! threshold = 0.5
//! positive = "1"
//! sensitive = ["sex", "race"]  # fairness groups (and their intersections)
//! slices = [["sex"]]           # default: the model's slices
//! min_group_size = 30
//! label_ttl = "7d"             # s, m, h or d; labels later than this are `expired`
//! duplicates = "last"          # or "first"
//! reference_windows = 1        # when the baseline has no labelled predictions
//! alpha = 0.01
//! min_effect = 0.02
//! four_fifths = false          # opt-in level alarms
//! max_disparity = 0.2
//! ```

use serde::Deserialize;

use super::read::Read;
use super::rules::{Problems, check_positive};
use super::{PathSegment, toml_key};

pub(super) const QUALITY_KEYS: &[&str] = &[
    "label",
    "score",
    "prediction",
    "task",
    "threshold",
    "positive",
    "sensitive",
    "slices",
    "min_group_size",
    "label_ttl",
    "duplicates",
    "reference_windows",
    "alpha",
    "min_effect",
    "four_fifths",
    "max_disparity",
];

/// Seven days, in seconds.
pub const DEFAULT_LABEL_TTL_SECONDS: u64 = 7 * 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQuality {
    label: Option<String>,
    score: Option<String>,
    prediction: Option<String>,
    task: Option<String>,
    threshold: Option<f64>,
    positive: Option<String>,
    #[serde(default)]
    sensitive: Vec<String>,
    slices: Option<Vec<Vec<String>>>,
    min_group_size: Option<i64>,
    label_ttl: Option<String>,
    duplicates: Option<String>,
    reference_windows: Option<i64>,
    alpha: Option<f64>,
    min_effect: Option<f64>,
    #[serde(default)]
    four_fifths: bool,
    max_disparity: Option<f64>,
}

/// Which label wins when one request id is labelled twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// The later label replaces the earlier one.
    #[default]
    Last,
    /// The first label stays; later ones are counted as duplicates.
    First,
}

/// A model's quality configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    pub label: Option<String>,
    pub score: Option<String>,
    pub prediction: Option<String>,
    pub task: Option<crate::quality::Task>,
    pub threshold: f64,
    pub positive: Option<String>,
    pub sensitive: Vec<String>,
    pub slices: Option<Vec<Vec<String>>>,
    pub min_group_size: u64,
    pub label_ttl_seconds: u64,
    pub duplicates: Duplicates,
    pub reference_windows: u64,
    pub alpha: f64,
    pub min_effect: f64,
    pub four_fifths: bool,
    pub max_disparity: Option<f64>,
}

// Every float is checked finite by the rules, so equality is reflexive.
impl Eq for QualityConfig {}

/// `7d`, `36h`, `90m`, `3600s` or `3600` (seconds) → seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor).filter(|s| *s > 0)
}

pub(super) fn check(
    model: &str,
    quality: &Read<RawQuality>,
    request_id_column: Option<&str>,
    c: &mut Problems,
) {
    let Read::Present(raw) = quality else { return };
    let at = |key: &str| -> Vec<PathSegment> {
        vec![
            PathSegment::from("models"),
            PathSegment::from(model),
            PathSegment::from("quality"),
            PathSegment::from(key),
        ]
    };
    if request_id_column.is_none() {
        c.add(
            vec![
                PathSegment::from("models"),
                PathSegment::from(model),
                PathSegment::from("quality"),
            ],
            format!(
                "joining labels to predictions needs `models.{}.request_id_column`",
                toml_key(model)
            ),
        );
    }
    if let Some(task) = &raw.task
        && crate::quality::Task::parse(task).is_none()
    {
        c.add(
            at("task"),
            format!("expected binary, multiclass or regression, found {task:?}"),
        );
    }
    if let Some(t) = raw.threshold
        && !(0.0..=1.0).contains(&t)
    {
        c.add(at("threshold"), format!("must be in [0, 1], found {t}"));
    }
    if let Some(a) = raw.alpha
        && !(a > 0.0 && a < 1.0)
    {
        c.add(at("alpha"), format!("must be in (0, 1), found {a}"));
    }
    for (key, value) in [
        ("min_effect", raw.min_effect),
        ("max_disparity", raw.max_disparity),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            c.add(at(key), format!("must be a number ≥ 0, found {v}"));
        }
    }
    check_positive(c, at("min_group_size"), raw.min_group_size);
    check_positive(c, at("reference_windows"), raw.reference_windows);
    if let Some(ttl) = &raw.label_ttl
        && parse_duration(ttl).is_none()
    {
        c.add(
            at("label_ttl"),
            format!(
                "expected a duration such as \"7d\", \"36h\", \"90m\" or \"3600s\", found {ttl:?}"
            ),
        );
    }
    if let Some(d) = &raw.duplicates
        && d != "last"
        && d != "first"
    {
        c.add(
            at("duplicates"),
            format!("expected \"last\" or \"first\", found {d:?}"),
        );
    }
}

pub(super) fn build(raw: RawQuality) -> QualityConfig {
    QualityConfig {
        label: raw.label,
        score: raw.score,
        prediction: raw.prediction,
        task: raw.task.as_deref().and_then(crate::quality::Task::parse),
        threshold: raw.threshold.unwrap_or(0.5),
        positive: raw.positive,
        sensitive: raw.sensitive,
        slices: raw.slices,
        min_group_size: raw
            .min_group_size
            .filter(|n| *n > 0)
            .map_or(crate::quality::DEFAULT_MIN_GROUP_SIZE, |n| n as u64),
        label_ttl_seconds: raw
            .label_ttl
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_LABEL_TTL_SECONDS),
        duplicates: if raw.duplicates.as_deref() == Some("first") {
            Duplicates::First
        } else {
            Duplicates::Last
        },
        reference_windows: raw.reference_windows.filter(|n| *n > 0).unwrap_or(1) as u64,
        alpha: raw.alpha.unwrap_or(0.01),
        min_effect: raw.min_effect.unwrap_or(0.02),
        four_fifths: raw.four_fifths,
        max_disparity: raw.max_disparity,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("36h"), Some(129_600));
        assert_eq!(parse_duration("90m"), Some(5_400));
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("30"), Some(30));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("7w"), None);
        assert_eq!(parse_duration("d"), None);
    }
}

//! Int features: categories or counts.
//!
//! An int column is categorical (an int `domain`, and categorical drift
//! tests) when it is declared so ([`InferOptions::categorical`]) or when the
//! data says so: few values ([`InferOptions::max_int_categories`]), each seen
//! at least [`InferOptions::min_category_count`] times. A count (Poisson,
//! binomial, ...) tails off into values seen a few times, and the next value
//! past them is merely unseen, not wrong: such a column is numeric, with a
//! [sanity range](super::range).

use super::domain::{self, set_domain};
use super::{
    ColumnSummary, FeatureNotes, FeatureSchema, InferOptions, NOTE_WIDTH, range, thousands, wrap,
};
use crate::schema::Domain;

/// An int feature: categorical with a domain when declared or when every
/// value is established; otherwise numeric, with a range.
pub(super) fn int_feature(
    c: &ColumnSummary,
    options: &InferOptions,
    f: &mut FeatureSchema,
    notes: &mut FeatureNotes,
) {
    let int_domain =
        |values: Vec<(i64, u64)>| Domain::Ints(values.into_iter().map(|(v, _)| v).collect());
    if options.categorical.contains(&c.name) {
        f.categorical = true;
        notes.lines.push(
            "categorical int: declared categorical, the domain lists every observed value".into(),
        );
        match domain::categories(c, options.max_domain_size, options)
            .and_then(|values| domain::domain_rule(values, options))
            .and_then(|rule| int_values(&rule.values).map(|values| (rule, values)))
        {
            Ok((rule, mut values)) => {
                values.sort();
                set_domain(f, notes, &rule, &values, |v| v.to_string(), int_domain);
            }
            Err(why) => notes
                .lines
                .extend(wrap(&format!("no domain: {why}"), NOTE_WIDTH)),
        }
        return;
    }
    let verdict = domain::categories(c, options.max_int_categories, options).and_then(|values| {
        let rule = domain::domain_rule(values, options)?;
        if !rule.established {
            return Err(count_like(&rule.values, options.min_category_count));
        }
        let ints = int_values(&rule.values)?;
        Ok((rule, ints))
    });
    match verdict {
        Ok((rule, mut values)) => {
            values.sort();
            f.categorical = true;
            notes.lines.push(
                "categorical int: few distinct values, each seen often, listed in the domain"
                    .into(),
            );
            set_domain(f, notes, &rule, &values, |v| v.to_string(), int_domain);
        }
        Err(why) => {
            let why = format!("numeric, not categorical: {why}");
            notes.lines.extend(wrap(&why, NOTE_WIDTH));
            if options.ranges {
                f.range = range::tight_range(c, options);
            } else {
                let (bounds, note) = range::sanity_range(c, options);
                f.range = bounds;
                notes.lines.extend(wrap(&note, NOTE_WIDTH));
            }
        }
    }
}

/// Why few int values seen rarely make a count rather than categories.
fn count_like(values: &[(String, u64)], min_count: u64) -> String {
    let rare = values.iter().filter(|(_, n)| *n < min_count).count();
    let (value, count) = values
        .iter()
        .min_by_key(|(_, n)| *n)
        .map_or(("", 0), |(v, n)| (v.as_str(), *n));
    let seen = match count {
        1 => "once".to_string(),
        n => format!("{} times", thousands(n)),
    };
    format!(
        "{rare} of its {} values seen fewer than {} times (the rarest, {value}, {seen}): \
         like a count, it tails off into rare values, and values past them are merely unseen",
        values.len(),
        thousands(min_count),
    )
}

fn int_values(values: &[(String, u64)]) -> Result<Vec<(i64, u64)>, String> {
    values
        .iter()
        .map(|(v, n)| {
            v.trim()
                .parse::<i64>()
                .map(|v| (v, *n))
                .map_err(|_| format!("value {v:?} is not an integer"))
        })
        .collect()
}

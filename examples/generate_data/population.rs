//! The applicant population of `generate_data`: categorical domains with
//! realistic weights and the per-applicant sampling helpers.

use rand::Rng;
use rand_distr::{Distribution, Normal};

// Weights are rough US shares: good enough to give the profiles realistic skew.
#[rustfmt::skip]
pub const STATES: [(&str, f64); 51] = [
    ("CA", 39.0), ("TX", 30.0), ("FL", 22.0), ("NY", 19.5), ("PA", 13.0), ("IL", 12.5),
    ("OH", 11.8), ("GA", 11.0), ("NC", 10.7), ("MI", 10.0), ("NJ", 9.3), ("VA", 8.7), ("WA", 7.8),
    ("AZ", 7.4), ("TN", 7.0), ("MA", 7.0), ("IN", 6.8), ("MO", 6.2), ("MD", 6.2), ("WI", 5.9),
    ("CO", 5.8), ("MN", 5.7), ("SC", 5.3), ("AL", 5.1), ("LA", 4.6), ("KY", 4.5), ("OR", 4.2),
    ("OK", 4.0), ("CT", 3.6), ("UT", 3.4), ("IA", 3.2), ("NV", 3.2), ("AR", 3.0), ("MS", 2.9),
    ("KS", 2.9), ("NM", 2.1), ("NE", 2.0), ("ID", 1.9), ("WV", 1.8), ("HI", 1.4), ("NH", 1.4),
    ("ME", 1.4), ("RI", 1.1), ("MT", 1.1), ("DE", 1.0), ("SD", 0.9), ("ND", 0.8), ("AK", 0.7),
    ("DC", 0.7), ("VT", 0.65), ("WY", 0.58),
];

/// Loan purposes in Zipf order (weight 1/rank^1.1).
#[rustfmt::skip]
pub const PURPOSES: [&str; 10] = [
    "debt_consolidation", "credit_card", "home_improvement", "car", "medical", "small_business",
    "major_purchase", "moving", "vacation", "wedding",
];

#[rustfmt::skip]
pub const RACES: [(&str, f64); 5] = [
    ("white", 0.60), ("hispanic", 0.18), ("black", 0.13), ("asian", 0.06), ("other", 0.03),
];

#[rustfmt::skip]
pub const SENIORITY: [(&str, f64); 8] = [
    ("", 10.0), ("Senior ", 2.5), ("Junior ", 1.0), ("Lead ", 0.8), ("Assistant ", 0.7),
    ("Chief ", 0.15), ("Principal ", 0.3), ("Associate ", 0.6),
];

#[rustfmt::skip]
pub const FIELDS: [&str; 30] = [
    "Software", "Sales", "Marketing", "Accounting", "Nursing", "Warehouse", "Retail",
    "Customer Service", "Operations", "Logistics", "Finance", "HR", "IT", "Maintenance",
    "Construction", "Project", "Product", "Data", "Quality", "Security", "Office", "Food Service",
    "Manufacturing", "Legal", "Medical", "Research", "Network", "Account", "Facilities", "Fleet",
];

#[rustfmt::skip]
pub const ROLES: [&str; 15] = [
    "Manager", "Engineer", "Analyst", "Specialist", "Associate", "Technician", "Coordinator",
    "Consultant", "Director", "Representative", "Clerk", "Supervisor", "Assistant", "Administrator",
    "Officer",
];

/// Stand-alone titles that many applicants share (the head of the distribution).
#[rustfmt::skip]
pub const COMMON_TITLES: [&str; 16] = [
    "Teacher", "Registered Nurse", "Driver", "Cashier", "Owner", "Manager", "Sales", "Self",
    "Electrician", "Truck Driver", "Server", "Mechanic", "Accountant", "Engineer", "Nurse",
    "Laborer",
];

/// Draws one item with probability proportional to its weight. The tables
/// are small constants, so a linear scan is fast enough.
pub fn pick<R: Rng, T: Copy>(rng: &mut R, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    // Only reachable through rounding at the very top of the range.
    items[items.len() - 1].0
}

pub fn employment_for<R: Rng>(rng: &mut R, age: i64) -> &'static str {
    if age < 24 && rng.random_bool(0.35) {
        return "student";
    }
    if age >= 62 && rng.random_bool(0.6) {
        return "retired";
    }
    pick(
        rng,
        &[
            ("employed", 0.75),
            ("self_employed", 0.12),
            ("part_time", 0.06),
            ("unemployed", 0.07),
        ],
    )
}

/// Annual income before it is (sometimes) left blank on the form.
pub fn latent_income<R: Rng>(
    rng: &mut R,
    age: i64,
    employment: &str,
    race: &str,
    noise: &Normal<f64>,
) -> f64 {
    let age = age as f64;
    // Income rises to the mid-forties and then flattens.
    let career = 0.45 * (1.0 - (-(age - 18.0) / 12.0).exp()) - 0.004 * (age - 45.0).max(0.0);
    let employment_effect = match employment {
        "self_employed" => 0.1,
        "part_time" => -0.6,
        "unemployed" => -1.4,
        "student" => -1.2,
        "retired" => -0.5,
        _ => 0.0,
    };
    // A modest structural gap, so that fairness metrics have something to find.
    let group_effect = match race {
        "white" | "asian" => 0.05,
        _ => -0.08,
    };
    let mu = 45_000f64.ln() + career + employment_effect + group_effect;
    (mu + 0.55 * noise.sample(rng))
        .exp()
        .clamp(1_000.0, 2_000_000.0)
}

pub fn home_for<R: Rng>(rng: &mut R, age: i64) -> &'static str {
    let table = match age {
        ..25 => [
            ("rent", 0.75),
            ("other", 0.12),
            ("mortgage", 0.10),
            ("own", 0.03),
        ],
        25..40 => [
            ("rent", 0.50),
            ("mortgage", 0.38),
            ("own", 0.07),
            ("other", 0.05),
        ],
        40..60 => [
            ("rent", 0.30),
            ("mortgage", 0.50),
            ("own", 0.17),
            ("other", 0.03),
        ],
        _ => [
            ("rent", 0.22),
            ("mortgage", 0.30),
            ("own", 0.45),
            ("other", 0.03),
        ],
    };
    pick(rng, &table)
}

pub fn term_for<R: Rng>(rng: &mut R, loan: f64) -> i64 {
    let weights: [f64; 5] = if loan < 5_000.0 {
        [0.35, 0.35, 0.20, 0.05, 0.05]
    } else if loan < 20_000.0 {
        [0.10, 0.20, 0.40, 0.15, 0.15]
    } else {
        [0.02, 0.08, 0.35, 0.20, 0.35]
    };
    let terms = [12, 24, 36, 48, 60];
    let table: Vec<(i64, f64)> = terms.into_iter().zip(weights).collect();
    pick(rng, &table)
}

/// Free-text job titles as people type them: a few common titles, many
/// composed ones, inconsistent casing and stray whitespace; empty or null
/// when there is no employer.
pub fn employer_title<R: Rng>(rng: &mut R, employment: &str) -> Option<String> {
    if rng.random_bool(0.03) {
        return None;
    }
    if matches!(employment, "unemployed" | "student" | "retired") {
        return if rng.random_bool(0.6) {
            Some(String::new())
        } else {
            None
        };
    }
    let title = if rng.random_bool(0.35) {
        COMMON_TITLES[rng.random_range(0..COMMON_TITLES.len())].to_string()
    } else {
        let seniority = pick(rng, &SENIORITY);
        // Squaring a uniform draw favours the first fields and roles.
        let field = FIELDS[(rng.random::<f64>().powi(2) * FIELDS.len() as f64) as usize];
        let role = ROLES[(rng.random::<f64>().powi(2) * ROLES.len() as f64) as usize];
        format!("{seniority}{field} {role}")
    };
    Some(match rng.random::<f64>() {
        x if x < 0.10 => title.to_lowercase(),
        x if x < 0.14 => title.to_uppercase(),
        x if x < 0.16 => format!("{title} "),
        _ => title,
    })
}

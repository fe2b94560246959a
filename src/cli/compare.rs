//! `assay drift` and `assay skew`: load or profile both sides, plan, compare,
//! print. All the statistics live in `assay::checks::compare`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use assay::AssayError;
use assay::checks::compare::{self, CompareOptions, Comparison, ExactSample, Side};
use assay::checks::drift::Method;
use assay::pipeline::{ProfileRequest, exact_sample};
use assay::profile::{Profile, ProfileOptions, io as profile_io};
use assay::report::html::comparison_html;
use assay::report::{OutputFormat, comparison_json, comparison_table};
use assay::schema;
use assay::sources::ReadOptions;

use crate::{
    Common, profile_with_progress, read_options_for, schema_slices, slice_specs, usage, write_file,
};

#[derive(Args)]
pub struct CompareArgs {
    /// The reference: data (a file, glob or directory) or a saved profile (`.json`).
    /// For `skew`, the training data or its profile.
    pub reference: String,
    /// The data compared against it (data or a saved profile).
    /// For `skew`, the serving data.
    pub current: String,
    /// The schema: per-feature methods and thresholds (`[features.NAME.drift]`
    /// or `.skew`), dataset settings (`[drift]` / `[skew]`), kinds, roles and slices.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Use this method for every feature it applies to: ks, wasserstein, psi,
    /// jensenshannon, kl_div, hellinger, anderson, cramer_von_mises, energy,
    /// t_test, z_test, chisquare, chi2_contingency, linf.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Also compute every applicable method per feature (listed under `methods`).
    #[arg(long)]
    pub all_methods: bool,
    /// Compare raw values instead of profiles' sketches (both sides must be data).
    #[arg(long)]
    pub exact: bool,
    /// Compare slices too (data sides): a comma-separated column list, or
    /// `NAME=SQL` for a derived column. Repeatable. Saved profiles bring their own.
    #[arg(long = "slice", value_name = "SPEC")]
    pub slices: Vec<String>,
    /// Input format, when the file name does not tell (csv, tsv, parquet, ndjson, ipc, ipc-stream).
    #[arg(long)]
    pub input_format: Option<String>,
    /// Write the JSON report here (the table, or JSON with --format json, still goes to stdout);
    /// with --format html, the HTML page instead.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// One side as given on the command line.
enum Input {
    Saved(Profile),
    Data(Vec<String>),
}

pub fn run(args: CompareArgs, comparison: Comparison) -> Result<u8> {
    if args.common.format == OutputFormat::Junit {
        return Err(usage(format!(
            "--format junit is not available for `assay {}`; use table or json",
            comparison.as_str()
        )));
    }
    let method = args
        .method
        .as_deref()
        .map(|name| {
            Method::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
                usage(format!(
                    "--method {name}: unknown method; expected one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()?;
    let schema = match &args.schema {
        Some(path) => Some(schema::load(path).map_err(AssayError::from)?),
        None => None,
    };
    let read = read_options_for(args.input_format.as_deref(), false, ReadOptions::default())?;
    let inputs = [&args.reference, &args.current].map(|arg| {
        if profile_io::looks_like_profile(std::path::Path::new(arg)) {
            profile_io::load(std::path::Path::new(arg))
                .map(Input::Saved)
                .map_err(AssayError::from)
        } else {
            Ok(Input::Data(vec![arg.clone()]))
        }
    });
    let [reference, current] = inputs;
    let (reference, current) = (reference?, current?);
    if args.exact {
        for (input, arg) in [(&reference, &args.reference), (&current, &args.current)] {
            if matches!(input, Input::Saved(_)) {
                return Err(usage(format!(
                    "--exact compares raw values, but {arg} is a saved profile; give the data instead"
                )));
            }
        }
    }
    // Slices: the ones asked for, the schema's, and a saved side's, so both
    // sides are sliced alike.
    let (mut specs, derived) = slice_specs(&args.slices);
    for input in [&reference, &current] {
        if let Input::Saved(p) = input {
            specs.extend(p.slice_specs.iter().cloned());
        }
    }
    let quiet = args.common.quiet;
    let profile_side = |input: &Input| -> Result<Profile> {
        match input {
            Input::Saved(p) => Ok(p.clone()),
            Input::Data(paths) => {
                let mut slices = specs.clone();
                if let Some(schema) = &schema {
                    slices.extend(schema_slices(paths, &read, schema)?);
                }
                slices.sort();
                slices.dedup();
                let request = ProfileRequest {
                    read: read.clone(),
                    profile: ProfileOptions {
                        slices,
                        ..ProfileOptions::default()
                    },
                    derived: derived.clone(),
                    ..ProfileRequest::default()
                };
                profile_with_progress(paths, &request, quiet)
            }
        }
    };
    let (reference_profile, current_profile) = (profile_side(&reference)?, profile_side(&current)?);
    let options = CompareOptions {
        method,
        all_methods: args.all_methods,
        ..CompareOptions::new(comparison)
    };
    let plan = compare::plan(
        &reference_profile,
        &current_profile,
        schema.as_ref(),
        &options,
    )
    .map_err(AssayError::from)?;
    let samples: Option<(ExactSample, ExactSample)> = if args.exact {
        let wanted: Vec<_> = plan
            .features
            .iter()
            .map(|f| (f.name.clone(), f.kind))
            .collect();
        let sample = |input: &Input| -> Result<ExactSample> {
            let Input::Data(paths) = input else {
                unreachable!("--exact with a saved profile is rejected above")
            };
            Ok(exact_sample(paths, &read, &wanted)?)
        };
        Some((sample(&reference)?, sample(&current)?))
    } else {
        None
    };
    let report = compare::compare(
        &plan,
        Side {
            label: &args.reference,
            profile: &reference_profile,
            exact: samples.as_ref().map(|s| &s.0),
        },
        Side {
            label: &args.current,
            profile: &current_profile,
            exact: samples.as_ref().map(|s| &s.1),
        },
    )
    .map_err(AssayError::from)?;
    if args.common.format == OutputFormat::Html {
        let html = comparison_html(&report, &reference_profile, &current_profile);
        crate::cli::html::emit(&html, args.output.as_deref())?;
        return Ok(u8::from(report.drifted()));
    }
    let json = serde_json::to_string_pretty(&comparison_json(&report))
        .context("serializing the report")?;
    if let Some(path) = &args.output {
        write_file(path, &json)?;
    }
    if !quiet {
        match args.common.format {
            OutputFormat::Json => println!("{json}"),
            _ => print!("{}", comparison_table(&report)),
        }
    }
    Ok(u8::from(report.drifted()))
}

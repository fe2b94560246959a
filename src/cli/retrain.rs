//! `assay retrain run` (one job in the foreground: cron, Kubernetes Jobs,
//! Airflow) and `assay retrain serve` (the signed webhook receiver that runs
//! the daemon's retrain requests). docs/retrain.md, "The job runner".

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use assay::retrain::{self, JobRequest, Outcome};

use crate::usage;

#[derive(Subcommand)]
pub enum RetrainCommand {
    /// Run one retrain job now: assemble, validate, train, evaluate, gate,
    /// register. Exit 0 promoted, 1 not promoted, 2 bad input.
    Run(RunArgs),
    /// Receive the daemon's signed retrain webhooks and run the jobs, one
    /// at a time (`POST /v1/webhook`, `GET /v1/jobs`, `/metrics`).
    Serve(ServeArgs),
}

#[derive(Args)]
pub struct RunArgs {
    /// The job's configuration (`retrain.toml`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Labelled data beyond the configured baseline (e.g. the daemon's
    /// partitions), oldest first.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub data: Vec<String>,
    /// The job id (default: `run-` and the time).
    #[arg(long)]
    pub id: Option<String>,
    /// Print the report as JSON instead of a summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The job's configuration (`retrain.toml`, with a `[serve]` table).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Listen here instead of `[serve] listen` (default 127.0.0.1:9500).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
}

pub fn run(command: RetrainCommand) -> Result<u8> {
    match command {
        RetrainCommand::Run(args) => run_job(args),
        RetrainCommand::Serve(args) => serve(args),
    }
}

fn run_job(args: RunArgs) -> Result<u8> {
    let config = retrain::config::load(&args.config).map_err(|e| usage(e.to_string()))?;
    let id = args
        .id
        .unwrap_or_else(|| format!("run-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")));
    let request = JobRequest {
        id,
        data: args.data,
        trigger: json!({"trigger": "run"}),
        windows: serde_json::Value::Null,
    };
    let quiet = args.json;
    let result = retrain::job::run(
        &config,
        &request,
        Box::new(move |line| {
            if !quiet {
                eprintln!("{line}");
            }
        }),
    )
    .map_err(|e| usage(e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result.report)?);
    } else {
        let version = result
            .version
            .map_or("no version".to_string(), |v| format!("version {v}"));
        println!("{}: {} ({version})", request.id, result.outcome.as_str());
        for reason in &result.reasons {
            println!("  {reason}");
        }
        println!(
            "  report: {}",
            config
                .registry
                .join("jobs")
                .join(&request.id)
                .join("report.json")
                .display()
        );
    }
    Ok(match result.outcome {
        Outcome::Promoted => 0,
        Outcome::Rejected => 1,
        Outcome::Failed => 2,
    })
}

/// `assay check-config retrain.toml`: every problem, or a summary.
pub fn check_config(path: &std::path::Path) -> Result<u8> {
    let config = retrain::config::load(path).map_err(|e| usage(e.to_string()))?;
    println!(
        "{}: ok (retrain job for model `{}`, registry {}, {} model, {} gated metric{}, serve on {})",
        path.display(),
        config.model,
        config.registry.display(),
        config.train.model.as_str(),
        config.gate_metrics.len() + config.gate_disparities.len(),
        if config.gate_metrics.len() + config.gate_disparities.len() == 1 {
            ""
        } else {
            "s"
        },
        config.serve.listen
    );
    Ok(0)
}

fn serve(args: ServeArgs) -> Result<u8> {
    let config = retrain::config::load(&args.config).map_err(|e| usage(e.to_string()))?;
    retrain::serve::run(config, args.listen).map_err(|e| usage(e.to_string()))?;
    Ok(0)
}

//! `assay alerts test`: a test notification to each receiver of a daemon
//! configuration, through the same outbox and delivery loop as real
//! alerts; prints each receiver's outcome, exits 1 if any failed.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::usage;

#[derive(Subcommand)]
pub enum AlertsCommand {
    /// Send a test notification to every receiver of the config's
    /// [alerts] (or one), through the outbox and its retries; print each
    /// receiver's outcome. Exit 1 if any failed.
    Test(TestArgs),
}

#[derive(Args)]
pub struct TestArgs {
    /// The daemon's configuration (TOML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Only this receiver.
    #[arg(long, value_name = "NAME")]
    receiver: Option<String>,
    /// Give up on a receiver after this long (retrying meanwhile), e.g. 30s.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    timeout: String,
}

pub fn run(command: AlertsCommand) -> Result<u8> {
    let AlertsCommand::Test(args) = command;
    let config = assay::server::config::load(&args.config).map_err(|e| usage(e.to_string()))?;
    let Some(alerts) = &config.alerts else {
        return Err(usage(format!(
            "{}: no [alerts] section: nothing to test",
            args.config.display()
        )));
    };
    let timeout: Duration = assay::alerts::config::parse_duration(&args.timeout)
        .map_err(|e| usage(format!("--timeout: {e}")))?;
    let base_url = alerts
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let outcomes = assay::alerts::probe::run(alerts, args.receiver.as_deref(), &base_url, timeout)
        .map_err(usage)?;
    let mut failed = 0;
    for o in &outcomes {
        let attempts = if o.attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{} attempts", o.attempts)
        };
        match &o.error {
            None => println!(
                "{} ({}): delivered ({attempts}, delivery id {})",
                o.receiver,
                o.kind,
                o.delivery_id.as_deref().unwrap_or("-")
            ),
            Some(e) => {
                failed += 1;
                println!("{} ({}): FAILED ({attempts}): {e}", o.receiver, o.kind);
            }
        }
    }
    println!(
        "{} of {} receivers delivered",
        outcomes.len() - failed,
        outcomes.len()
    );
    Ok(if failed == 0 { 0 } else { 1 })
}

//! Where `--format html` pages go: the `-o` file (in place of the JSON or
//! profile it holds otherwise), or stdout without `-o`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::write_file;

pub fn emit(html: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_file(path, html),
        None => std::io::stdout()
            .write_all(html.as_bytes())
            .context("writing the HTML page to stdout"),
    }
}

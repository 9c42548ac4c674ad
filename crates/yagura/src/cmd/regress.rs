//! `yagura rules test`.

use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `rules test`.
#[derive(Args)]
pub struct TestArgs {}

/// Runs the manifest.
pub fn run(_a: TestArgs) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}

//! `yagura hunt`.

use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

/// Arguments of `hunt`.
#[derive(Args)]
pub struct HuntArgs {}

/// Runs a hunt.
pub fn run(_a: HuntArgs) -> Result<ExitCode> {
    anyhow::bail!("not yet")
}

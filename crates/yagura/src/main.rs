//! `yagura`: the one binary. It only parses the command line and wires the library crates
//! (collect → normalize → store → detect); all behaviour lives in those crates.

mod cmd;
mod hunt;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: EVTX decoding allocates per JSON node, and glibc's
/// malloc/free took about a quarter of a hunt's CPU time (perf, bench/hunt.sh). Built without
/// transparent huge pages (`no_thp`): with them, a fifth of a hunt was the kernel zeroing 2 MiB
/// pages, and peak RSS was ~100 MB higher (perf and /usr/bin/time, bench/hunt.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "yagura",
    version,
    about = "Yagura (櫓): SOC platform — hunt, detect, triage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hunt through EVTX and JSON logs (files, folders, zip/gzip archives) with Sigma rules.
    Hunt(cmd::hunt::HuntArgs),
    /// Collect logs from shippers (syslog, HEC, _bulk, OTLP, NDJSON, files), normalize them to
    /// ECS and store them; nothing acknowledged is lost.
    Serve(cmd::serve::ServeArgs),
    /// List and triage the alerts of streaming detection (serve).
    Alerts {
        #[command(subcommand)]
        command: cmd::alerts::AlertsCommand,
    },
    /// Print every stored event as one JSON line.
    Dump(cmd::data::DumpArgs),
    /// Load EVTX, JSON and text log files into the store (through the same parsers as serve).
    Import(cmd::store::ImportArgs),
    /// Search the store with the pipe query language (docs/query.md).
    Search(cmd::store::SearchArgs),
    /// Recompute every hash and signature of the store; exits 1 when anything fails.
    Verify(cmd::store::VerifyArgs),
    /// Print the inclusion proof of one stored event (checkable with the public key alone).
    Prove(cmd::store::ProveArgs),
    /// Check an inclusion proof against a public key.
    VerifyProof(cmd::store::VerifyProofArgs),
    /// Disk use per source: partitions, events, bytes, days held, retention drops.
    Usage(cmd::store::UsageArgs),
    /// Records that could not be accepted: list or replay them.
    Deadletter {
        #[command(subcommand)]
        command: cmd::data::DeadletterCommand,
    },
    /// Rule tools: lint and regression tests.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rules and report every rule loaded or rejected, with the reason.
    Lint(cmd::lint::LintArgs),
    /// Run a regression manifest (SigmaHQ regression contract).
    Test(cmd::regress::TestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hunt(a) => cmd::hunt::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Alerts { command } => cmd::alerts::run(command),
        Command::Dump(a) => cmd::data::dump(a),
        Command::Import(a) => cmd::store::import_cmd(a),
        Command::Search(a) => cmd::store::search_cmd(a),
        Command::Verify(a) => cmd::store::verify_cmd(a),
        Command::Prove(a) => cmd::store::prove_cmd(a),
        Command::VerifyProof(a) => cmd::store::verify_proof_cmd(a),
        Command::Usage(a) => cmd::store::usage_cmd(a),
        Command::Deadletter { command } => cmd::data::deadletter(command),
        Command::Rules {
            command: RulesCommand::Lint(a),
        } => cmd::lint::run(a),
        Command::Rules {
            command: RulesCommand::Test(a),
        } => cmd::regress::run(a),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`yagura rules lint DIR | head`): stop quietly, as `cat` does.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// True when `e` comes from writing to a pipe whose reader has exited.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

//! `yagura alerts`: list and triage alerts. Reads `DATA/alerts.redb` directly, or, while
//! `yagura serve` holds it, goes through the server's API (its address is in `DATA/serve.json`).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use yagura_alert::db::{Filter, Update};
use yagura_alert::{Alert, AlertDb, DbError, Status};
use yagura_api::alerts::ListParams;

/// `yagura alerts …`.
#[derive(Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List(ListArgs),
    /// Change an alert's status, add a note, set its assignee.
    Set(SetArgs),
    /// Volume and false-positive rate per rule, from the verdicts.
    Rules(DataArgs),
    /// Exceptions: hide occurrences by rule, entities and alert fields, optionally until a time.
    Exception {
        #[command(subcommand)]
        command: ExceptionCommand,
    },
}

/// `yagura alerts exception …`.
#[derive(Subcommand)]
pub enum ExceptionCommand {
    /// Show what an exception would have hidden, without saving it.
    Preview(ExceptionArgs),
    /// Save an exception (its preview is printed first).
    Add(ExceptionArgs),
    /// The exceptions, with how many occurrences each hid.
    List(DataArgs),
    /// Remove an exception.
    Remove {
        #[command(flatten)]
        data: DataArgs,
        /// The exception's number.
        id: u64,
    },
}

/// An exception on the command line.
#[derive(Args)]
pub struct ExceptionArgs {
    #[command(flatten)]
    data: DataArgs,
    /// A short name.
    #[arg(long)]
    name: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
    /// Only this rule (id or title).
    #[arg(long)]
    rule: Option<String>,
    /// Allow-listed user (`*` wildcards; repeatable).
    #[arg(long = "user", value_name = "NAME")]
    users: Vec<String>,
    /// Allow-listed host (`*` wildcards; repeatable).
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Allow-listed address or CIDR network (repeatable).
    #[arg(long = "ip", value_name = "ADDR")]
    ips: Vec<String>,
    /// A field condition `FIELD OP VALUE[,VALUE]` (OP: equals, contains, starts_with,
    /// ends_with, cidr; FIELD: rule_id, title, severity, kind, tag, technique, user, host, ip,
    /// group.NAME), repeatable.
    #[arg(long = "field", value_name = "COND")]
    fields: Vec<String>,
    /// A snooze: the exception ends at this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Days of alerts the preview looks at.
    #[arg(long, default_value_t = 30)]
    days: u32,
}

impl ExceptionArgs {
    fn exception(&self) -> Result<yagura_alert::Exception> {
        let mut fields = Vec::new();
        for f in &self.fields {
            let mut parts = f.splitn(3, ' ');
            let (Some(field), Some(op), Some(values)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("--field {f:?}: expected `FIELD OP VALUE[,VALUE]`");
            };
            let op: yagura_alert::exception::Op =
                serde_json::from_value(serde_json::Value::String(op.to_owned())).map_err(|_| {
                    anyhow::anyhow!(
                        "--field {f:?}: `{op}` is not one of equals, contains, starts_with, ends_with, cidr"
                    )
                })?;
            fields.push(yagura_alert::exception::FieldCondition {
                field: field.to_owned(),
                op,
                values: values.split(',').map(|v| v.trim().to_owned()).collect(),
            });
        }
        let until_ms = match &self.until {
            Some(t) => Some(
                yagura_store::query::parse_time(t)
                    .with_context(|| format!("--until: `{t}` is not a time"))?,
            ),
            None => None,
        };
        Ok(yagura_alert::Exception {
            id: 0,
            name: self.name.clone(),
            reason: self.reason.clone(),
            rule: self.rule.clone(),
            users: self.users.clone(),
            hosts: self.hosts.clone(),
            ips: self.ips.clone(),
            fields,
            until_ms,
            created_ms: 0,
            created_by: String::new(),
            hidden: 0,
            last_hidden_ms: None,
        })
    }
}

/// The data folder.
#[derive(Args)]
pub struct DataArgs {
    /// Data folder (as `serve --data-dir`).
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
}

/// Output format of `alerts list`.
#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per alert.
    Jsonl,
}

/// Arguments of `alerts list`.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Statuses, comma-separated (new, acknowledged, in_progress, closed_true_positive,
    /// closed_false_positive, closed_benign), or open, closed, all.
    #[arg(long, value_name = "S", default_value = "all")]
    status: String,
    /// Only rules whose id or title contains this.
    #[arg(long, value_name = "TEXT")]
    rule: Option<String>,
    /// Only this severity or above.
    #[arg(long, value_name = "LEVEL")]
    min_severity: Option<String>,
    /// Only alerts last seen at or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Most alerts (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Output format (default: table on a terminal, jsonl when piped).
    #[arg(long, value_enum)]
    format: Option<ListFormat>,
}

/// Arguments of `alerts set`.
#[derive(Args)]
pub struct SetArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The alert's number.
    id: u64,
    /// New status (new, acknowledged, in_progress, closed_true_positive / tp,
    /// closed_false_positive / fp, closed_benign / benign).
    #[arg(long, value_name = "S")]
    status: Option<String>,
    /// A note to add.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Assignee ("" to clear).
    #[arg(long, value_name = "NAME")]
    assignee: Option<String>,
}

/// Runs `yagura alerts`.
pub fn run(c: AlertsCommand) -> Result<ExitCode> {
    match c {
        AlertsCommand::List(a) => list(a),
        AlertsCommand::Set(a) => set(a),
        AlertsCommand::Rules(a) => rules(a),
        AlertsCommand::Exception { command } => exception(command),
    }
}

fn print_preview(p: &serde_json::Value, days: u32) {
    println!(
        "would have hidden {} alerts ({} occurrences) in the last {days} days",
        p["would_hide"], p["occurrences"]
    );
    for a in p["alerts"].as_array().into_iter().flatten().take(20) {
        println!(
            "  {:>6}  {:<21}  {:>6}  {}",
            a["id"],
            a["status"].as_str().unwrap_or(""),
            a["count"],
            a["title"].as_str().unwrap_or("")
        );
    }
}

fn exception(c: ExceptionCommand) -> Result<ExitCode> {
    let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    match c {
        ExceptionCommand::Preview(a) => {
            let x = a.exception()?;
            let p = match access(&a.data.data_dir)? {
                Access::Db(db) => {
                    let since = yagura_alert::alert::now_ms() - i64::from(a.days) * 86_400_000;
                    serde_json::to_value(db.preview(&x, since)?)?
                }
                Access::Http(base) => {
                    let resp = agent()
                        .post(format!("{base}/api/v1/exceptions/preview"))
                        .query("days", a.days.to_string())
                        .header("content-type", "application/json")
                        .send(serde_json::to_string(&x)?);
                    serde_json::from_str(&answer(resp)?)?
                }
            };
            print_preview(&p, a.days);
        }
        ExceptionCommand::Add(a) => {
            let x = a.exception()?;
            let (saved, p) = match access(&a.data.data_dir)? {
                Access::Db(db) => {
                    let since = yagura_alert::alert::now_ms() - i64::from(a.days) * 86_400_000;
                    let p = serde_json::to_value(db.preview(&x, since)?)?;
                    (serde_json::to_value(db.add_exception(x, &by)?)?, p)
                }
                Access::Http(base) => {
                    let resp = agent()
                        .post(format!("{base}/api/v1/exceptions"))
                        .query("days", a.days.to_string())
                        .header("content-type", "application/json")
                        .header("x-yagura-user", &by)
                        .send(serde_json::to_string(&x)?);
                    let v: serde_json::Value = serde_json::from_str(&answer(resp)?)?;
                    (v["exception"].clone(), v["preview"].clone())
                }
            };
            print_preview(&p, a.days);
            println!(
                "saved exception {}: {}",
                saved["id"],
                saved["name"].as_str().unwrap_or("")
            );
        }
        ExceptionCommand::List(a) => {
            let list: Vec<serde_json::Value> = match access(&a.data_dir)? {
                Access::Db(db) => db
                    .exceptions()
                    .iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()?,
                Access::Http(base) => serde_json::from_str(&answer(
                    agent().get(format!("{base}/api/v1/exceptions")).call(),
                )?)?,
            };
            let mut out = std::io::stdout().lock();
            for x in list {
                writeln!(out, "{x}")?;
            }
        }
        ExceptionCommand::Remove { data, id } => {
            match access(&data.data_dir)? {
                Access::Db(db) => {
                    db.remove_exception(id)?;
                }
                Access::Http(base) => {
                    answer(
                        agent()
                            .delete(format!("{base}/api/v1/exceptions/{id}"))
                            .call(),
                    )?;
                }
            }
            println!("removed exception {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the alerts are: the file, or the running server.
enum Access {
    Db(AlertDb),
    Http(String),
}

fn access(data_dir: &Path) -> Result<Access> {
    let path = data_dir.join("alerts.redb");
    if !data_dir.exists() {
        bail!(
            "{}: no such data folder (give the one `yagura serve --data-dir` uses)",
            data_dir.display()
        );
    }
    match AlertDb::open(&path) {
        Ok(db) => Ok(Access::Db(db)),
        Err(DbError::Busy(_)) => {
            let file = data_dir.join(super::serve::SERVE_FILE);
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "{} is in use and {} cannot be read",
                    path.display(),
                    file.display()
                )
            })?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON", file.display()))?;
            let Some(http) = v["listening"]["http"].as_str() else {
                bail!(
                    "{} is in use by `yagura serve`, which has no HTTP listener to ask",
                    path.display()
                );
            };
            Ok(Access::Http(format!("http://{http}")))
        }
        Err(e) => Err(e.into()),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// The body of an API answer, or its error message.
fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<String> {
    let mut resp = resp.context("cannot reach yagura serve")?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .read_to_string()
        .context("cannot read the answer of yagura serve")?;
    if !status.is_success() {
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        bail!("{msg}");
    }
    Ok(body)
}

fn list(a: ListArgs) -> Result<ExitCode> {
    let params = ListParams {
        status: Some(a.status.clone()),
        rule: a.rule.clone(),
        min_severity: a.min_severity.clone(),
        since: a.since.clone(),
        limit: Some(a.limit),
    };
    let filter: Filter = params.filter().map_err(anyhow::Error::msg)?;
    let alerts: Vec<Alert> = match access(&a.data.data_dir)? {
        Access::Db(db) => db.list(&filter)?,
        Access::Http(base) => {
            let mut req = agent()
                .get(format!("{base}/api/v1/alerts"))
                .query("status", &a.status)
                .query("limit", a.limit.to_string());
            for (k, v) in [
                ("rule", &a.rule),
                ("min_severity", &a.min_severity),
                ("since", &a.since),
            ] {
                if let Some(v) = v {
                    req = req.query(k, v);
                }
            }
            serde_json::from_str(&answer(req.call())?).context("alerts from yagura serve")?
        }
    };
    let format = a.format.unwrap_or_else(|| {
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            ListFormat::Table
        } else {
            ListFormat::Jsonl
        }
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        ListFormat::Jsonl => {
            for al in &alerts {
                let mut v = serde_json::to_value(al)?;
                v["first_seen"] = crate::hunt::time::format_utc(al.first_seen_ms).into();
                v["last_seen"] = crate::hunt::time::format_utc(al.last_seen_ms).into();
                writeln!(out, "{v}")?;
            }
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:>6}  {:<21}  {:<13}  {:>6}  {:<20}  {:<20}  {:<48}  ENTITIES",
                "ID", "STATUS", "SEVERITY", "COUNT", "FIRST SEEN", "LAST SEEN", "RULE"
            )?;
            for al in &alerts {
                let title: String = al.title.chars().take(48).collect();
                writeln!(
                    out,
                    "{:>6}  {:<21}  {:<13}  {:>6}  {:<20}  {:<20}  {:<48}  {}",
                    al.id,
                    al.status.as_str(),
                    al.severity.as_str(),
                    al.count,
                    short_time(al.first_seen_ms),
                    short_time(al.last_seen_ms),
                    title,
                    al.entities.summary()
                )?;
            }
            writeln!(out, "{} alerts", alerts.len())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn short_time(ms: i64) -> String {
    let t = crate::hunt::time::format_utc(ms);
    t.get(..19).map_or(t.clone(), |s| s.replace('T', " "))
}

fn set(a: SetArgs) -> Result<ExitCode> {
    let status = match &a.status {
        Some(s) => Some(Status::parse(s).with_context(|| {
            format!(
                "`{s}` is not a status (expected one of {})",
                Status::ALL.map(|s| s.as_str()).join(", ")
            )
        })?),
        None => None,
    };
    if status.is_none() && a.note.is_none() && a.assignee.is_none() {
        bail!("nothing to change: give --status, --note or --assignee");
    }
    let change = Update {
        status,
        note: a.note.clone(),
        assignee: a.assignee.clone(),
    };
    let by = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let alert: Alert = match access(&a.data.data_dir)? {
        Access::Db(db) => db.update(a.id, &change, &by)?,
        Access::Http(base) => {
            let body = serde_json::json!({
                "status": status.map(|s| s.as_str()),
                "note": a.note,
                "assignee": a.assignee,
            });
            let resp = agent()
                .patch(format!("{base}/api/v1/alerts/{}", a.id))
                .header("content-type", "application/json")
                .header("x-yagura-user", &by)
                .send(body.to_string());
            serde_json::from_str(&answer(resp)?).context("alert from yagura serve")?
        }
    };
    println!(
        "alert {}: {} ({}, {} occurrences)",
        alert.id, alert.status, alert.title, alert.count
    );
    Ok(ExitCode::SUCCESS)
}

fn rules(a: DataArgs) -> Result<ExitCode> {
    let stats: Vec<yagura_alert::db::RuleStats> = match access(&a.data_dir)? {
        Access::Db(db) => db.rule_stats()?,
        Access::Http(base) => {
            let resp = agent().get(format!("{base}/api/v1/alerts/rules")).call();
            let v: serde_json::Value = serde_json::from_str(&answer(resp)?)?;
            // Printed from the JSON as the server computed it.
            let mut out = std::io::stdout().lock();
            for r in v.as_array().into_iter().flatten() {
                writeln!(out, "{r}")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut out = std::io::stdout().lock();
    for r in &stats {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

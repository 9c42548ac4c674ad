//! The alert routes: list, read and triage the alerts streaming detection raised.
//!
//! - `GET /api/v1/alerts?status=new,acknowledged|open|closed&rule=TEXT&min_severity=LEVEL&since=TIME&limit=N`:
//!   a JSON array, newest first (default limit 1000, 0: all).
//! - `GET /api/v1/alerts/{id}`: one alert.
//! - `PATCH /api/v1/alerts/{id}` (or `POST`) with `{"status": "...", "note": "...", "assignee": "..."}`:
//!   the alert after the change; the note names the caller (`X-Yagura-User`, else `api`).
//! - `GET /api/v1/alerts/rules`: volume and false-positive rate per rule, from the verdicts.
//! - `GET /api/v1/notify/stats`: delivery counters per notification channel.
//! - `GET /api/v1/exceptions`: the exceptions, with how many occurrences each hid.
//! - `POST /api/v1/exceptions/preview?days=30` with an exception: the alerts of the last `days`
//!   it would have hidden (`would_hide`, `occurrences`, the first 100 alerts).
//! - `POST /api/v1/exceptions?days=30`: saves it; answers `{"exception": ..., "preview": ...}`.
//! - `DELETE /api/v1/exceptions/{id}`.
//! - `GET /api/v1/assets`: the asset inventory; `PUT /api/v1/assets` replaces it with a CSV body
//!   (`kind,name,criticality,tags,owner`) or a JSON array of the same rows.

use crate::{error, json};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query as UrlQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use yagura_alert::db::{Filter, Update};
use yagura_alert::{AlertDb, DbError, Severity, Status};

/// Query string of `GET /api/v1/alerts`.
#[derive(Deserialize, Default)]
pub struct ListParams {
    /// Comma-separated statuses, or `open` (new, acknowledged, in progress) or `closed`.
    pub status: Option<String>,
    /// Rule id or title contains.
    pub rule: Option<String>,
    /// Lowest severity.
    pub min_severity: Option<String>,
    /// Last seen at or after (RFC 3339 or YYYY-MM-DD).
    pub since: Option<String>,
    /// Most alerts (default 1000; 0: all).
    pub limit: Option<usize>,
}

/// Parses a status list: names, `open`, `closed`, `all`.
pub fn parse_statuses(s: &str) -> Result<Vec<Status>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "all" => return Ok(Vec::new()),
            "open" => out.extend(Status::ALL.iter().filter(|s| !s.is_closed())),
            "closed" => out.extend(Status::ALL.iter().filter(|s| s.is_closed())),
            other => out.push(Status::parse(other).ok_or_else(|| {
                format!(
                    "`{other}` is not a status (expected one of {}, open, closed, all)",
                    Status::ALL.map(|s| s.as_str()).join(", ")
                )
            })?),
        }
    }
    Ok(out)
}

impl ListParams {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Result<Filter, String> {
        let statuses = match &self.status {
            Some(s) => parse_statuses(s)?,
            None => Vec::new(),
        };
        let min_severity = match &self.min_severity {
            Some(s) => Some(Severity::parse(s).ok_or_else(|| format!("`{s}` is not a level"))?),
            None => None,
        };
        let since_ms = match &self.since {
            Some(t) => Some(
                yagura_store::query::parse_time(t).ok_or_else(|| format!("`{t}` is not a time"))?,
            ),
            None => None,
        };
        Ok(Filter {
            statuses,
            rule: self.rule.clone(),
            min_severity,
            since_ms,
            limit: self.limit.unwrap_or(1000),
        })
    }
}

/// The routes over `db`.
pub fn router(db: Arc<AlertDb>) -> Router {
    Router::new()
        .route("/api/v1/alerts", get(list))
        .route("/api/v1/alerts/rules", get(rules))
        .route("/api/v1/alerts/{id}", get(one).patch(update).post(update))
        .route("/api/v1/assets", get(assets).put(set_assets))
        .route("/api/v1/exceptions", get(exceptions).post(add_exception))
        .route("/api/v1/exceptions/preview", axum::routing::post(preview))
        .route(
            "/api/v1/exceptions/{id}",
            axum::routing::delete(remove_exception),
        )
        .with_state(db)
}

/// `GET /api/v1/notify/stats`: per channel, sent, failed attempts, pending, given up, last error.
pub fn notify_router(notifier: Arc<yagura_alert::notify::Notifier>) -> Router {
    Router::new()
        .route("/api/v1/notify/stats", get(notify_stats))
        .with_state(notifier)
}

async fn notify_stats(State(n): State<Arc<yagura_alert::notify::Notifier>>) -> Response {
    json(serde_json::to_value(n.stats()).unwrap_or_default())
}

/// Query string of the exception routes.
#[derive(Deserialize, Default)]
pub struct PreviewParams {
    /// Days looked back (default 30).
    pub days: Option<u32>,
}

fn since(days: Option<u32>) -> i64 {
    yagura_alert::alert::now_ms() - i64::from(days.unwrap_or(30)) * 86_400_000
}

fn exception_body(body: &[u8]) -> Result<yagura_alert::Exception, Response> {
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

async fn assets(State(db): State<Arc<AlertDb>>) -> Response {
    json(serde_json::to_value(db.assets()).unwrap_or_default())
}

async fn set_assets(State(db): State<Arc<AlertDb>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let rows = if text.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<yagura_alert::asset::Asset>>(&text)
            .map_err(|e| format!("request body: {e}"))
    } else {
        yagura_alert::asset::parse_csv(&text).map_err(|e| e.to_string())
    };
    match rows {
        Ok(rows) => {
            blocking(move || {
                let n = db.set_assets(rows)?;
                Ok(serde_json::json!({ "assets": n }))
            })
            .await
        }
        Err(m) => error(StatusCode::BAD_REQUEST, m),
    }
}

async fn exceptions(State(db): State<Arc<AlertDb>>) -> Response {
    json(serde_json::to_value(db.exceptions()).unwrap_or_default())
}

async fn preview(
    State(db): State<Arc<AlertDb>>,
    UrlQuery(p): UrlQuery<PreviewParams>,
    body: Bytes,
) -> Response {
    let x = match exception_body(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let from = since(p.days);
    blocking(move || db.preview(&x, from)).await
}

async fn add_exception(
    State(db): State<Arc<AlertDb>>,
    UrlQuery(p): UrlQuery<PreviewParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let x = match exception_body(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let by = headers
        .get("x-yagura-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("api")
        .to_owned();
    let from = since(p.days);
    blocking(move || {
        let preview = db.preview(&x, from)?;
        let saved = db.add_exception(x, &by)?;
        Ok(serde_json::json!({ "exception": saved, "preview": preview }))
    })
    .await
}

async fn remove_exception(State(db): State<Arc<AlertDb>>, UrlPath(id): UrlPath<u64>) -> Response {
    blocking(move || db.remove_exception(id)).await
}

fn db_error(e: DbError) -> Response {
    match e {
        DbError::NotFound(_) | DbError::NoException(_) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        DbError::Exception(_) | DbError::Asset(_) => error(StatusCode::BAD_REQUEST, e.to_string()),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

async fn blocking<T: serde::Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => json(serde_json::to_value(v).unwrap_or_default()),
        Ok(Err(e)) => db_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn list(State(db): State<Arc<AlertDb>>, UrlQuery(p): UrlQuery<ListParams>) -> Response {
    let filter = match p.filter() {
        Ok(f) => f,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    blocking(move || db.list(&filter)).await
}

async fn one(State(db): State<Arc<AlertDb>>, UrlPath(id): UrlPath<u64>) -> Response {
    blocking(move || db.get(id)).await
}

async fn rules(State(db): State<Arc<AlertDb>>) -> Response {
    blocking(move || db.rule_stats()).await
}

async fn update(
    State(db): State<Arc<AlertDb>>,
    UrlPath(id): UrlPath<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let change: Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("request body: {e}")),
    };
    let by = headers
        .get("x-yagura-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("api")
        .to_owned();
    blocking(move || db.update(id, &change, &by))
        .await
        .into_response()
}

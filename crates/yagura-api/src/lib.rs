//! The REST API: search over the store, and what a third party needs to check its integrity.
//!
//! **Owns:** the routes under `/api/v1/` that read the store — `GET /api/v1/search` (a query of
//! the pipe language; events streamed as NDJSON, newest first, with `offset`/`limit` paging; a
//! `stats`/`timechart` query answered as one JSON table), `GET /api/v1/store/public-key` (the
//! installation's ed25519 key, to check tree heads and proofs), `GET /api/v1/store/proof/{id}`
//! (an event's inclusion proof), `GET /api/v1/store/partitions` (events per partition) and
//! `GET /api/v1/store/usage` (disk use per source).
//!
//! The alert routes (`/api/v1/alerts`, see [`alerts`]) list and triage what streaming detection
//! raised, over `yagura-alert`'s database.
//!
//! **Must not:** write the store, or know how it lays out its files (that is `yagura-store`);
//! accept events (that is `yagura-collect`); detect or decide alerts (that is `yagura-alert`).
//! Access control and the console come here as the issues that need them land.

#![warn(missing_docs)]
// Handlers return `Response` errors as they go to the client; boxing them gains nothing.
#![allow(clippy::result_large_err)]

pub mod alerts;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query as UrlQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use yagura_store::query;
use yagura_store::search::{Reader, SearchOptions, SearchStats};

/// State shared by the routes.
pub struct Api {
    dir: PathBuf,
    reader: Mutex<Option<Reader>>,
}

/// Query string of `/api/v1/search`.
#[derive(Deserialize)]
pub struct SearchParams {
    /// The query.
    pub q: String,
    /// From (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// To (exclusive).
    pub to: Option<String>,
    /// Events skipped (paging).
    #[serde(default)]
    pub offset: usize,
    /// Events at most (default 1000; 0: all, streamed).
    pub limit: Option<usize>,
}

fn error(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": msg }).to_string(),
    )
        .into_response()
}

fn json(v: serde_json::Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

impl Api {
    /// The API over the store in `dir` (`DATA/store`).
    pub fn new(dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            dir,
            reader: Mutex::new(None),
        })
    }

    /// Runs `f` with a reader refreshed to what the store holds now.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, yagura_store::StoreError>,
    ) -> Result<T, Response> {
        let mut g = self
            .reader
            .lock()
            .map_err(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "reader poisoned".into()))?;
        let fail =
            |e: yagura_store::StoreError| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        match g.as_mut() {
            Some(r) => r.refresh().map_err(fail)?,
            None => *g = Some(Reader::open(&self.dir).map_err(fail)?),
        }
        let r = g
            .as_ref()
            .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "no reader".into()))?;
        f(r).map_err(|e| match e {
            yagura_store::StoreError::Query(m) => error(StatusCode::BAD_REQUEST, m),
            other => fail(other),
        })
    }
}

/// The routes, to serve on their own listener or merge into another router.
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/store/public-key", get(public_key))
        .route("/api/v1/store/partitions", get(partitions))
        .route("/api/v1/store/usage", get(usage))
        .route("/api/v1/store/proof/{id}", get(proof))
        .with_state(api)
}

fn time(s: Option<&str>) -> Result<Option<i64>, Response> {
    s.map(|t| {
        query::parse_time(t)
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, format!("`{t}` is not a time")))
    })
    .transpose()
}

async fn search(State(api): State<Arc<Api>>, UrlQuery(p): UrlQuery<SearchParams>) -> Response {
    let q = match query::parse(&p.q) {
        Ok(q) => q,
        Err(e) => return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "error": e.to_string(), "column": e.column, "expected": e.expected, "found": e.found
            })
            .to_string(),
        )
            .into_response(),
    };
    let o = match (time(p.from.as_deref()), time(p.to.as_deref())) {
        (Ok(from_ms), Ok(to_ms)) => SearchOptions { from_ms, to_ms },
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if !q.stages.is_empty() {
        // A table: computed whole (its size is the number of groups or the head).
        let res =
            tokio::task::spawn_blocking(move || api.with_reader(|r| r.run(&q, &o, p.limit))).await;
        return match res {
            Ok(Ok((t, stats))) => json(serde_json::json!({
                "columns": t.columns, "rows": t.rows, "stats": stats
            }))
            .into_response(),
            Ok(Err(resp)) => resp,
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    // Events: streamed as NDJSON while they are read, newest first.
    let limit = match p.limit {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1000,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let offset = p.offset;
    tokio::task::spawn_blocking(move || {
        let mut seen = 0usize;
        let mut sent = 0usize;
        let mut buf = Vec::with_capacity(64 << 10);
        let res = api.with_reader(|r| {
            let mut st = SearchStats::default();
            r.events(q.filter.as_ref(), &o, &mut st, |doc| {
                seen += 1;
                if seen <= offset {
                    return true;
                }
                if serde_json::to_writer(&mut buf, &doc).is_ok() {
                    buf.push(b'\n');
                }
                sent += 1;
                if buf.len() >= 32 << 10 && tx.blocking_send(std::mem::take(&mut buf)).is_err() {
                    return false; // the client went away
                }
                sent < limit
            })
        });
        if let Err(resp) = res {
            tracing::warn!("search failed: {:?}", resp.status());
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(buf);
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn public_key(State(api): State<Arc<Api>>) -> Response {
    match yagura_store::verify::store_public_key(&api.dir) {
        Ok(k) => json(serde_json::json!({
            "algorithm": "ed25519",
            "public_key": yagura_store::proof::to_hex(&k),
        }))
        .into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn partitions(State(api): State<Arc<Api>>) -> Response {
    let res = tokio::task::spawn_blocking(move || api.with_reader(|r| Ok(r.partitions()))).await;
    match res {
        Ok(Ok(p)) => json(
            p.into_iter()
                .map(|(k, n)| serde_json::json!({ "partition": k, "events": n }))
                .collect::<serde_json::Value>(),
        )
        .into_response(),
        Ok(Err(r)) => r,
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn proof(State(api): State<Arc<Api>>, UrlPath(id): UrlPath<u64>) -> Response {
    let dir = api.dir.clone();
    match tokio::task::spawn_blocking(move || yagura_store::verify::prove(&dir, id)).await {
        Ok(Ok(p)) => ([(header::CONTENT_TYPE, "application/json")], p.to_json()).into_response(),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn usage(State(api): State<Arc<Api>>) -> Response {
    let dir = api.dir.clone();
    match tokio::task::spawn_blocking(move || yagura_store::store::usage(&dir)).await {
        Ok(Ok(u)) => json(serde_json::to_value(u).unwrap_or_default()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

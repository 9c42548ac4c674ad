//! HTTP listeners on one port: Yagura's NDJSON endpoint, a Splunk-HEC-compatible endpoint, an
//! Elasticsearch-`_bulk`-compatible endpoint, OTLP/HTTP logs, and `/metrics`, `/healthz`.
//!
//! Every endpoint answers 2xx only once the records it accepted are durable in the log (HEC
//! with a channel answers at once with an `ackId`, whose status turns true when durable, as
//! Splunk's indexer acknowledgement does). When the log is at its bound the answer is 429 with
//! `Retry-After`. Records that cannot be accepted (invalid JSON, oversized, not UTF-8) go to the
//! dead-letter file and are named in the answer; the rest of the request is accepted.

use crate::deadletter::DeadLetter;
use crate::intake::{check_json_object, check_text, finish, Intake, IntakeError};
use crate::metrics::SourceStats;
use crate::raw::{now_ms, Batch, Envelope, Format};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Options of the HTTP listeners.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Largest request body (after decompression).
    pub max_body_bytes: usize,
    /// HEC tokens accepted (`Authorization: Splunk <token>`); empty accepts any token.
    pub hec_tokens: Vec<String>,
    /// Source type of each endpoint's records (`auto` to detect).
    pub source_types: SourceTypes,
}

/// Source type per endpoint.
#[derive(Clone, Debug)]
pub struct SourceTypes {
    /// `POST /api/v1/ingest` (overridden by `?source_type=`).
    pub ndjson: String,
    /// HEC (a HEC `sourcetype` is used when this is `auto`).
    pub hec: String,
    /// `_bulk`.
    pub bulk: String,
    /// OTLP.
    pub otlp: String,
}

impl Default for SourceTypes {
    fn default() -> Self {
        Self {
            ndjson: "auto".into(),
            hec: "auto".into(),
            bulk: "auto".into(),
            otlp: "otlp".into(),
        }
    }
}

/// What `/healthz` reports besides the counters.
pub type HealthExtra = Arc<dyn Fn() -> Vec<(&'static str, &'static str, f64)> + Send + Sync>;

struct HttpState {
    intake: Arc<Intake>,
    opts: HttpOptions,
    acks: Mutex<HashMap<String, AckChannel>>,
    gauges: HealthExtra,
}

#[derive(Default)]
struct AckChannel {
    next: u64,
    /// ackId → durable yet.
    status: BTreeMap<u64, bool>,
}

/// The router of every HTTP endpoint. `gauges` adds lines to `/metrics` (WAL and consumer).
pub fn router(intake: Arc<Intake>, opts: HttpOptions, gauges: HealthExtra) -> Router {
    let limit = opts.max_body_bytes;
    let state = Arc::new(HttpState {
        intake,
        opts,
        acks: Mutex::new(HashMap::new()),
        gauges,
    });
    Router::new()
        .route("/api/v1/ingest", post(ingest_ndjson))
        .route("/services/collector", post(hec_event))
        .route("/services/collector/event", post(hec_event))
        .route("/services/collector/event/1.0", post(hec_event))
        .route("/services/collector/raw", post(hec_raw))
        .route("/services/collector/raw/1.0", post(hec_raw))
        .route("/services/collector/ack", post(hec_ack))
        .route("/services/collector/health", get(hec_health))
        .route("/services/collector/health/1.0", get(hec_health))
        .route("/", get(es_info).head(es_info))
        .route("/_bulk", post(bulk_root).put(bulk_root))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route("/_license", get(es_license))
        .route("/_xpack", get(es_xpack))
        .route("/_cluster/health", get(es_health))
        .route("/v1/logs", post(otlp_logs))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(es_fallback)
        .layer(DefaultBodyLimit::max(limit.saturating_add(1024)))
        .with_state(state)
}

type St = State<Arc<HttpState>>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn busy(what: &str) -> Response {
    retry_later(json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"error": format!("{what}: the write-ahead log is at its bound; retry later")}),
    ))
}

/// Adds `Retry-After: 1` to a refusal.
fn retry_later(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn intake_error(e: IntakeError, what: &str) -> Response {
    match e {
        IntakeError::Busy => busy(what),
        IntakeError::Unavailable(m) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": format!("{what}: {m}")}),
        ),
    }
}

/// The body, gunzipped when `Content-Encoding: gzip`, within the size limit.
fn body_bytes(headers: &HeaderMap, body: &Bytes, max: usize) -> Result<Vec<u8>, Box<Response>> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gzip {
        if body.len() > max {
            return Err(Box::new(too_large(max)));
        }
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(&body[..]).take(max as u64 + 1);
    dec.read_to_end(&mut out).map_err(|e| {
        Box::new(json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("gzip body: {e}")}),
        ))
    })?;
    if out.len() > max {
        return Err(Box::new(too_large(max)));
    }
    Ok(out)
}

fn too_large(max: usize) -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({"error": format!("request body over {max} bytes")}),
    )
}

/// What every ingesting handler starts with: the body (gunzipped, within the limit), who sent
/// it, their counters, and the arrival time.
struct Request {
    body: Vec<u8>,
    source: String,
    stats: Arc<SourceStats>,
    peer: String,
    now: i64,
}

impl Request {
    fn new(
        st: &HttpState,
        listener: &str,
        peer: &SocketAddr,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Self, Box<Response>> {
        let body = body_bytes(headers, body, st.opts.max_body_bytes)?;
        let source = source_of(peer);
        let stats = st.intake.metrics.source(listener, &source);
        Ok(Self {
            body,
            source,
            stats,
            peer: peer.to_string(),
            now: now_ms(),
        })
    }

    /// Appends `batch` (`bytes` of records) and waits until it is durable, counting it as
    /// accepted, or as dropped when refused.
    async fn commit(&self, st: &HttpState, batch: Batch, bytes: u64) -> Result<(), IntakeError> {
        let n = batch.len() as u64;
        match st.intake.append_or_refuse(batch).await {
            Ok(_) => {
                self.stats.accepted(n, bytes, self.now);
                Ok(())
            }
            Err(e) => {
                self.stats.drops.fetch_add(n, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// [`Request::new`] for HEC: the token is checked first; also returns the ack channel.
    fn hec(
        st: &HttpState,
        peer: &SocketAddr,
        headers: &HeaderMap,
        uri: &Uri,
        body: &Bytes,
    ) -> Result<(Self, Option<String>), Box<Response>> {
        hec_auth(st, headers, uri)?;
        Ok((
            Self::new(st, "hec", peer, headers, body)?,
            hec_channel(headers, uri),
        ))
    }
}

fn source_of(peer: &SocketAddr) -> String {
    peer.ip().to_string()
}

/// Lines of `body` (without `\r`), with their 1-based numbers, skipping blank ones.
fn lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
}

#[derive(Deserialize, Default)]
struct IngestQuery {
    source_type: Option<String>,
    host: Option<String>,
}

/// `POST /api/v1/ingest`: NDJSON, one JSON object per line.
async fn ingest_ndjson(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match Request::new(&st, "http", &peer, &headers, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Request {
        ref body,
        ref source,
        ref stats,
        peer: ref peer_text,
        now,
    } = req;
    let source_type = q
        .source_type
        .as_deref()
        .unwrap_or(&st.opts.source_types.ndjson);
    let host = q.host.as_deref().unwrap_or("");
    let mut batch = Batch::new();
    let mut letters = Vec::new();
    let mut rejected = Vec::new();
    let mut bytes = 0u64;
    for (n, line) in lines(body) {
        match check_json_object(line, st.intake.max_record_bytes) {
            Ok(()) => {
                bytes += line.len() as u64;
                batch.push(
                    &Envelope::received(
                        "http",
                        source_type,
                        peer_text,
                        host,
                        "",
                        now,
                        Format::Json,
                    ),
                    line,
                );
            }
            Err(reason) => {
                rejected.push(json!({"line": n, "reason": reason}));
                letters.push(DeadLetter::new(
                    "http",
                    source,
                    format!("line {n}: {reason}"),
                    line,
                ));
            }
        }
    }
    st.intake.dead_letters(stats, &letters);
    let accepted = batch.len() as u64;
    match req.commit(&st, batch, bytes).await {
        Ok(()) => json_response(
            StatusCode::OK,
            &json!({"accepted": accepted, "rejected": rejected.len(), "errors": rejected}),
        ),
        Err(e) => intake_error(e, "ingest"),
    }
}

// ---------------------------------------------------------------- Splunk HEC

fn hec_reply(status: StatusCode, text: &str, code: u32, extra: Option<(&str, Value)>) -> Response {
    let mut body = json!({"text": text, "code": code});
    if let (Some((k, v)), Some(obj)) = (extra, body.as_object_mut()) {
        obj.insert(k.to_owned(), v);
    }
    json_response(status, &body)
}

/// Checks the HEC token: `Authorization: Splunk <token>` (or `Bearer`, or `?token=`).
fn hec_auth(st: &HttpState, headers: &HeaderMap, uri: &Uri) -> Result<(), Box<Response>> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            (scheme.eq_ignore_ascii_case("splunk") || scheme.eq_ignore_ascii_case("bearer"))
                .then(|| token.trim().to_owned())
        });
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(str::to_owned))
    });
    let Some(token) = from_header.or(from_query) else {
        return Err(Box::new(hec_reply(
            StatusCode::UNAUTHORIZED,
            "Token is required",
            2,
            None,
        )));
    };
    if st.opts.hec_tokens.is_empty() || st.opts.hec_tokens.contains(&token) {
        Ok(())
    } else {
        Err(Box::new(hec_reply(
            StatusCode::FORBIDDEN,
            "Invalid token",
            4,
            None,
        )))
    }
}

fn hec_channel(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get("x-splunk-request-channel")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            uri.query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("channel=").map(str::to_owned))
            })
        })
}

#[derive(Deserialize)]
struct HecEvent<'a> {
    #[serde(borrow, default)]
    event: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    sourcetype: Option<String>,
}

/// Sends the batch; with a channel, answers with an ackId at once and marks it when durable.
async fn hec_commit(
    st: &Arc<HttpState>,
    channel: Option<String>,
    batch: Batch,
    stats: Arc<SourceStats>,
    bytes: u64,
    now: i64,
) -> Result<Option<u64>, Response> {
    let n = batch.len() as u64;
    let ticket = match st.intake.try_queue(batch) {
        Ok(t) => t,
        Err(e) => {
            stats.drops.fetch_add(n, Ordering::Relaxed);
            return Err(intake_error(e, "HEC"));
        }
    };
    match channel {
        None => match finish(ticket).await {
            Ok(_) => {
                stats.accepted(n, bytes, now);
                Ok(None)
            }
            Err(e) => Err(intake_error(e, "HEC")),
        },
        Some(ch) => {
            let id = {
                let Ok(mut acks) = st.acks.lock() else {
                    return Err(hec_reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal server error",
                        8,
                        None,
                    ));
                };
                let c = acks.entry(ch.clone()).or_default();
                let id = c.next;
                c.next += 1;
                c.status.insert(id, false);
                // Bound the ids kept per channel (Splunk keeps a window too).
                while c.status.len() > 100_000 {
                    c.status.pop_first();
                }
                id
            };
            let st = st.clone();
            tokio::spawn(async move {
                if finish(ticket).await.is_ok() {
                    stats.accepted(n, bytes, now);
                    if let Ok(mut acks) = st.acks.lock() {
                        if let Some(s) = acks.get_mut(&ch).and_then(|c| c.status.get_mut(&id)) {
                            *s = true;
                        }
                    }
                }
            });
            Ok(Some(id))
        }
    }
}

/// `POST /services/collector/event`: JSON event objects, back to back.
async fn hec_event(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, channel) = match Request::hec(&st, &peer, &headers, &uri, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Request {
        ref body,
        ref source,
        ref stats,
        peer: ref peer_text,
        now,
    } = req;
    let mut batch = Batch::new();
    let mut bytes = 0u64;
    let mut invalid: Option<(usize, &str, u32)> = None;
    let mut stream =
        serde_json::Deserializer::from_slice(body).into_iter::<&serde_json::value::RawValue>();
    let mut index = 0usize;
    let mut consumed = 0usize;
    loop {
        let item = stream.next();
        let Some(item) = item else { break };
        let raw = match item {
            Ok(r) => r,
            Err(_) => {
                invalid = Some((index, "Invalid data format", 6));
                break;
            }
        };
        consumed = stream.byte_offset();
        let text = raw.get();
        let ev: HecEvent<'_> = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(_) => {
                invalid = Some((index, "Invalid data format", 6));
                break;
            }
        };
        match ev.event {
            None => {
                invalid = Some((index, "Event field is required", 12));
                break;
            }
            Some(e) if e.get() == "\"\"" || e.get() == "null" => {
                invalid = Some((index, "Event field cannot be blank", 13));
                break;
            }
            Some(_) => {}
        }
        if text.len() > st.intake.max_record_bytes {
            invalid = Some((index, "Event too large", 6));
            break;
        }
        let source_type = match (&ev.sourcetype, st.opts.source_types.hec.as_str()) {
            (Some(s), "auto") => s.as_str(),
            (_, configured) => configured,
        };
        bytes += text.len() as u64;
        batch.push(
            &Envelope::received(
                "hec",
                source_type,
                peer_text,
                ev.host.as_deref().unwrap_or(""),
                channel.as_deref().unwrap_or(""),
                now,
                Format::Json,
            ),
            text.as_bytes(),
        );
        index += 1;
    }
    if batch.is_empty() && invalid.is_none() {
        return hec_reply(StatusCode::BAD_REQUEST, "No data", 5, None);
    }
    if let Some((n, text, _)) = invalid {
        let rest = &body[consumed.min(body.len())..];
        st.intake.dead_letters(
            stats,
            &[DeadLetter::new(
                "hec",
                source,
                format!("event {n}: {text}"),
                rest,
            )],
        );
    }
    let ack = if batch.is_empty() {
        None
    } else {
        match hec_commit(&st, channel, batch, stats.clone(), bytes, now).await {
            Ok(a) => a,
            Err(r) => return r,
        }
    };
    match invalid {
        Some((n, text, code)) => hec_reply(
            StatusCode::BAD_REQUEST,
            text,
            code,
            Some(("invalid-event-number", json!(n))),
        ),
        None => hec_reply(
            StatusCode::OK,
            "Success",
            0,
            ack.map(|a| ("ackId", json!(a))),
        ),
    }
}

#[derive(Deserialize, Default)]
struct HecRawQuery {
    sourcetype: Option<String>,
    host: Option<String>,
}

/// `POST /services/collector/raw`: text, one event per line.
async fn hec_raw(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HecRawQuery>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (req, channel) = match Request::hec(&st, &peer, &headers, &uri, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Request {
        ref body,
        ref source,
        ref stats,
        peer: ref peer_text,
        now,
    } = req;
    let source_type = match (&q.sourcetype, st.opts.source_types.hec.as_str()) {
        (Some(s), "auto") => s.as_str(),
        (_, configured) => configured,
    };
    let mut batch = Batch::new();
    let mut letters = Vec::new();
    let mut bytes = 0u64;
    for (n, line) in lines(body) {
        match check_text(line, st.intake.max_record_bytes) {
            Ok(_) => {
                bytes += line.len() as u64;
                batch.push(
                    &Envelope::received(
                        "hec",
                        source_type,
                        peer_text,
                        q.host.as_deref().unwrap_or(""),
                        channel.as_deref().unwrap_or(""),
                        now,
                        Format::Text,
                    ),
                    line,
                );
            }
            Err(reason) => letters.push(DeadLetter::new(
                "hec",
                source,
                format!("line {n}: {reason}"),
                line,
            )),
        }
    }
    st.intake.dead_letters(stats, &letters);
    if batch.is_empty() {
        return hec_reply(StatusCode::BAD_REQUEST, "No data", 5, None);
    }
    match hec_commit(&st, channel, batch, stats.clone(), bytes, now).await {
        Ok(ack) => hec_reply(
            StatusCode::OK,
            "Success",
            0,
            ack.map(|a| ("ackId", json!(a))),
        ),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct AckRequest {
    acks: Vec<u64>,
}

/// `POST /services/collector/ack`: `{"acks":[0,1]}` → `{"acks":{"0":true,"1":false}}`.
/// An id reported true is forgotten, as Splunk does.
async fn hec_ack(State(st): St, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = hec_auth(&st, &headers, &uri) {
        return *r;
    }
    let Some(channel) = hec_channel(&headers, &uri) else {
        return hec_reply(StatusCode::BAD_REQUEST, "Data channel is missing", 10, None);
    };
    let Ok(req) = serde_json::from_slice::<AckRequest>(&body) else {
        return hec_reply(StatusCode::BAD_REQUEST, "Invalid data format", 6, None);
    };
    let mut out = serde_json::Map::new();
    if let Ok(mut acks) = st.acks.lock() {
        let c = acks.entry(channel).or_default();
        for id in req.acks {
            let done = c.status.get(&id).copied().unwrap_or(false);
            if done {
                c.status.remove(&id);
            }
            out.insert(id.to_string(), Value::Bool(done));
        }
    }
    json_response(StatusCode::OK, &json!({"acks": out}))
}

async fn hec_health(State(st): St) -> Response {
    if st.intake.wal.at_bound(1) {
        return hec_reply(StatusCode::SERVICE_UNAVAILABLE, "Server is busy", 9, None);
    }
    hec_reply(StatusCode::OK, "HEC is healthy", 17, None)
}

// ---------------------------------------------------------------- Elasticsearch _bulk

/// Version Yagura reports to Elasticsearch clients (shippers check the major version).
const ES_VERSION: &str = "8.17.0";

fn es(status: StatusCode, body: &Value) -> Response {
    let mut r = json_response(status, body);
    r.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    r
}

async fn es_info(method: Method) -> Response {
    let body = json!({
        "name": "yagura",
        "cluster_name": "yagura",
        "cluster_uuid": "yagura-embedded-0000000000",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "yagura",
            "build_hash": "yagura",
            "build_date": "2026-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    });
    let mut r = es(StatusCode::OK, &body);
    if method == Method::HEAD {
        *r.body_mut() = axum::body::Body::empty();
    }
    r
}

async fn es_license() -> Response {
    es(
        StatusCode::OK,
        &json!({"license": {"status": "active", "uid": "yagura", "type": "basic", "issue_date_in_millis": 0, "max_nodes": 1000, "issued_to": "yagura", "issuer": "yagura", "start_date_in_millis": -1}}),
    )
}

async fn es_xpack() -> Response {
    es(
        StatusCode::OK,
        &json!({"build": {"hash": "yagura", "date": "2026-01-01T00:00:00.000Z"}, "license": {"uid": "yagura", "type": "basic", "mode": "basic", "status": "active"}, "features": {}}),
    )
}

async fn es_health() -> Response {
    es(
        StatusCode::OK,
        &json!({"cluster_name": "yagura", "status": "green", "timed_out": false, "number_of_nodes": 1, "number_of_data_nodes": 1, "active_primary_shards": 1, "active_shards": 1, "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": 0}),
    )
}

/// Set-up calls of shippers (index templates, ILM policies, ingest pipelines): a `GET` finds
/// nothing (so the shipper `PUT`s it), a `PUT`/`POST` is acknowledged. Yagura keeps its own
/// schema; these calls only let shippers start unchanged.
async fn es_fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if !path.starts_with("/_") && !path.contains("/_") {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no such endpoint: {path}")}),
        );
    }
    match method {
        Method::GET | Method::HEAD => es(
            StatusCode::NOT_FOUND,
            &json!({"error": {"root_cause": [{"type": "resource_not_found_exception", "reason": format!("{path} not found")}], "type": "resource_not_found_exception", "reason": format!("{path} not found")}, "status": 404}),
        ),
        _ => es(StatusCode::OK, &json!({"acknowledged": true})),
    }
}

async fn bulk_root(
    st: St,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(st, peer, None, headers, body).await
}

async fn bulk_index(
    st: St,
    peer: ConnectInfo<SocketAddr>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(st, peer, Some(index), headers, body).await
}

/// `POST /_bulk`: action lines (`index`, `create`: a document follows; `update`: its `doc`
/// is taken; `delete`: acknowledged, nothing is deleted from an append-only log).
async fn bulk(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    default_index: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    let req = match Request::new(&st, "bulk", &peer, &headers, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Request {
        ref body,
        ref source,
        ref stats,
        peer: ref peer_text,
        now,
    } = req;
    let mut batch = Batch::new();
    let mut letters = Vec::new();
    let mut items = Vec::new();
    let mut errors = false;
    let mut bytes = 0u64;
    let mut it = lines(body);
    while let Some((n, action_line)) = it.next() {
        let action: Value = match serde_json::from_slice(action_line) {
            Ok(v) => v,
            Err(e) => {
                return es(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": {"type": "illegal_argument_exception", "reason": format!("line {n}: malformed action/metadata line: {e}")}, "status": 400}),
                );
            }
        };
        let Some((op, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return es(
                StatusCode::BAD_REQUEST,
                &json!({"error": {"type": "illegal_argument_exception", "reason": format!("line {n}: action/metadata line is empty")}, "status": 400}),
            );
        };
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| default_index.clone())
            .unwrap_or_default();
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_owned);
        let op = op.as_str();
        if op == "delete" {
            items.push(json!({"delete": {"_index": index, "_id": id, "status": 404, "result": "not_found"}}));
            continue;
        }
        let Some((_, doc_line)) = it.next() else {
            return es(
                StatusCode::BAD_REQUEST,
                &json!({"error": {"type": "illegal_argument_exception", "reason": format!("line {n}: {op} action without a document")}, "status": 400}),
            );
        };
        let doc_text: std::borrow::Cow<'_, [u8]> = if op == "update" {
            match serde_json::from_slice::<Value>(doc_line)
                .ok()
                .and_then(|v| v.get("doc").cloned())
            {
                Some(d) => d.to_string().into_bytes().into(),
                None => doc_line.into(),
            }
        } else {
            doc_line.into()
        };
        match check_json_object(&doc_text, st.intake.max_record_bytes) {
            Ok(()) => {
                bytes += doc_text.len() as u64;
                batch.push(
                    &Envelope::received(
                        "bulk",
                        &st.opts.source_types.bulk,
                        peer_text,
                        "",
                        &index,
                        now,
                        Format::Json,
                    ),
                    &doc_text,
                );
                let id = id.unwrap_or_else(|| format!("y{now:x}{:x}", batch.len()));
                items.push(json!({op: {"_index": index, "_id": id, "_version": 1, "result": "created", "status": 201, "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1}}));
            }
            Err(reason) => {
                errors = true;
                items.push(json!({op: {"_index": index, "_id": id, "status": 400, "error": {"type": "document_parsing_exception", "reason": reason}}}));
                letters.push(DeadLetter::new(
                    "bulk",
                    source,
                    format!("line {}: {reason}", n + 1),
                    &doc_text,
                ));
            }
        }
    }
    st.intake.dead_letters(stats, &letters);
    match req.commit(&st, batch, bytes).await {
        Ok(()) => es(
            StatusCode::OK,
            &json!({"took": started.elapsed().as_millis() as u64, "errors": errors, "items": items}),
        ),
        Err(IntakeError::Busy) => retry_later(es(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"type": "es_rejected_execution_exception", "reason": "the write-ahead log is at its bound; retry later"}, "status": 429}),
        )),
        Err(e) => intake_error(e, "bulk"),
    }
}

// ---------------------------------------------------------------- OTLP/HTTP

/// `POST /v1/logs`: `ExportLogsServiceRequest`, protobuf or JSON.
async fn otlp_logs(
    State(st): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = match Request::new(&st, "otlp", &peer, &headers, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Request {
        ref body,
        ref source,
        ref stats,
        peer: ref peer_text,
        now,
    } = req;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let records = if is_json {
        crate::otlp::records_from_json(body)
    } else {
        crate::otlp::records_from_protobuf(body)
    };
    let records = match records {
        Ok(r) => r,
        Err(reason) => {
            st.intake.dead_letters(
                stats,
                &[DeadLetter::new("otlp", source, reason.clone(), body)],
            );
            return otlp_reply(is_json, StatusCode::BAD_REQUEST, Some(&reason));
        }
    };
    let mut batch = Batch::new();
    let mut bytes = 0u64;
    for (host, doc) in &records {
        bytes += doc.len() as u64;
        batch.push(
            &Envelope::received(
                "otlp",
                &st.opts.source_types.otlp,
                peer_text,
                host,
                "",
                now,
                Format::Json,
            ),
            doc.as_bytes(),
        );
    }
    match req.commit(&st, batch, bytes).await {
        Ok(()) => otlp_reply(is_json, StatusCode::OK, None),
        Err(IntakeError::Busy) => retry_later(otlp_reply(
            is_json,
            StatusCode::TOO_MANY_REQUESTS,
            Some("busy"),
        )),
        Err(e) => intake_error(e, "otlp"),
    }
}

fn otlp_reply(is_json: bool, status: StatusCode, error: Option<&str>) -> Response {
    if is_json {
        let body = match error {
            Some(e) => json!({"code": 3, "message": e}),
            None => json!({}),
        };
        return json_response(status, &body);
    }
    let body = match error {
        Some(e) => crate::otlp::status_protobuf(e),
        None => Vec::new(),
    };
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    r
}

// ---------------------------------------------------------------- metrics, health

async fn metrics(State(st): St) -> Response {
    let extra = (st.gauges)();
    let text = st.intake.metrics.render(&extra);
    let mut r = (StatusCode::OK, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn healthz(State(st): St) -> Response {
    let now = now_ms();
    let quiet: Vec<Value> = st
        .intake
        .metrics
        .quiet_sources(now)
        .into_iter()
        .map(|(l, s, since)| json!({"listener": l, "source": s, "idle_seconds": since / 1000}))
        .collect();
    let lag = st.intake.wal.lag();
    let busy = st.intake.wal.at_bound(1);
    let status = if busy {
        "busy"
    } else if quiet.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    json_response(
        if busy {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        },
        &json!({"status": status, "wal_durable_seq": st.intake.wal.durable(), "wal_lag_records": lag, "quiet_sources": quiet}),
    )
}

//! The tantivy index of a partition: which events hold which values, for filters, full text,
//! time ranges and aggregations. The index is derived data: the blocks are the record, and a
//! partition's index can always be rebuilt from them (and is, after a crash, for the blocks
//! it had not yet committed).
//!
//! One document per event:
//! - `f`: every ECS field but the text ones, as a JSON object (dotted keys expanded), indexed
//!   raw (exact values, case-sensitive).
//! - `c`: the [`COLUMN_FIELDS`] again, as columns (fast fields) for `stats` and `exists`.
//! - `text`: the event's text (`message`, else `event.original`) cut by
//!   [`crate::query::text_tokens`] (words, and bigrams for Japanese, Chinese and Korean), without
//!   positions: a phrase is looked up as all of its words, then checked on the events.
//! - `ts`: `@timestamp` in epoch milliseconds; `seq`: the store's sequence number; `loc`: block
//!   number in the partition × 2^24 + position in the block.
//! - `ip_*`: the usual IP fields as IP values, for CIDR ranges.

use crate::query::text_token_spans;
use serde_json::Value;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use tantivy::schema::{
    Field, IndexRecordOption, IpAddrOptions, JsonObjectOptions, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, FAST,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, TantivyDocument};
use yagura_event::{Field as RecField, Record};

/// Name of the full-text tokenizer.
pub const TOKENIZER: &str = "yagura";

/// Fields whose values are also indexed as IP addresses (CIDR queries use them).
pub const IP_FIELDS: &[&str] = &[
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "host.ip",
    "related.ip",
    "observer.ip",
];

/// Fields kept in columns (`c`, fast fields) as well as in the index: what `stats … by`,
/// `exists` and top-value views read without fetching events. Columns for every one of the
/// hundreds of fields vendors send cost more disk than the events themselves (bench/store.sh),
/// so other fields are aggregated from the stored events instead.
pub const COLUMN_FIELDS: &[&str] = &[
    "host.name",
    "host.hostname",
    "host.ip",
    "user.name",
    "user.domain",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "client.ip",
    "server.ip",
    "event.code",
    "event.action",
    "event.outcome",
    "event.category",
    "event.type",
    "event.kind",
    "event.module",
    "event.dataset",
    "event.provider",
    "log.level",
    "process.name",
    "process.executable",
    "process.parent.name",
    "service.name",
    "url.domain",
    "http.request.method",
    "http.response.status_code",
    "dns.question.name",
    "dns.question.registered_domain",
    "dns.question.type",
    "network.transport",
    "network.protocol",
    "observer.name",
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "rule.name",
    "winlog.channel",
    "winlog.event_id",
    "winlog.computer_name",
];

/// True when `field` has a column ([`COLUMN_FIELDS`]).
pub fn is_column(field: &str) -> bool {
    class(field).column
}

/// Fields that are not put in `f`.
pub fn is_text_field(key: &str) -> bool {
    matches!(
        key,
        "message" | "event.original" | "@timestamp" | "yagura.seq"
    )
}

/// The schema's fields.
#[derive(Clone)]
pub struct Fields {
    /// Schema.
    pub schema: Schema,
    /// JSON of ECS fields (indexed).
    pub f: Field,
    /// JSON of the [`COLUMN_FIELDS`] (columns only).
    pub c: Field,
    /// Full text.
    pub text: Field,
    /// Time, epoch ms.
    pub ts: Field,
    /// Sequence number.
    pub seq: Field,
    /// Block location.
    pub loc: Field,
    /// IP fields, in [`IP_FIELDS`] order.
    pub ips: Vec<Field>,
}

/// The tantivy field name of an IP field.
pub fn ip_field_name(ecs: &str) -> String {
    format!("ip_{}", ecs.replace('.', "_"))
}

impl Fields {
    /// Builds the schema.
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let json = JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_expand_dots_enabled();
        let f = b.add_json_field("f", json);
        let c = b.add_json_field(
            "c",
            JsonObjectOptions::default()
                .set_fast("raw")
                .set_expand_dots_enabled(),
        );
        let text = b.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TOKENIZER)
                    .set_fieldnorms(false)
                    // No positions (a third of the index): phrases are answered as "all their
                    // words", then checked on the events (search.rs).
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        // Columns only, no terms: time ranges are answered from the column (tantivy's range
        // query reads a fast field when there is one), and nothing looks a sequence number up
        // by term. Indexed, the two nearly unique values per event cost a term and a posting
        // list each: 14 B/event on the bench/store.sh data (204 → 190 B/event on its first 1 M
        // events), and the load ran 8% faster without them.
        let ts = b.add_i64_field("ts", NumericOptions::default().set_fast());
        let seq = b.add_u64_field("seq", NumericOptions::default().set_fast());
        let loc = b.add_u64_field("loc", FAST);
        let ips = IP_FIELDS
            .iter()
            .map(|n| b.add_ip_addr_field(&ip_field_name(n), IpAddrOptions::default().set_indexed()))
            .collect();
        Self {
            schema: b.build(),
            f,
            c,
            text,
            ts,
            seq,
            loc,
            ips,
        }
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

/// Tantivy tokenizer over [`text_tokens`].
#[derive(Clone, Default)]
pub struct TextTokenizer {
    buf: String,
    spans: Vec<(usize, usize)>,
}

/// Token stream of [`TextTokenizer`].
pub struct Tokens<'a> {
    buf: &'a str,
    spans: &'a [(usize, usize)],
    i: usize,
    token: Token,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = Tokens<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens<'a> {
        self.buf.clear();
        self.spans.clear();
        text_token_spans(text, &mut self.buf, &mut self.spans);
        Tokens {
            buf: &self.buf,
            spans: &self.spans,
            i: 0,
            token: Token::default(),
        }
    }
}

impl TokenStream for Tokens<'_> {
    fn advance(&mut self) -> bool {
        let Some(&(a, b)) = self.spans.get(self.i) else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(&self.buf[a..b]);
        self.token.position = self.i;
        self.token.position_length = 1;
        self.i += 1;
        true
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Opens a partition's index, creating it if absent; the tokenizer is registered.
pub fn open(dir: &Path, fields: &Fields) -> tantivy::Result<Index> {
    std::fs::create_dir_all(dir)?;
    let index = if dir.join("meta.json").exists() {
        Index::open_in_dir(dir)?
    } else {
        // The document store holds nothing (events are in the blocks), but an empty document
        // per event still cost 5 bytes uncompressed.
        let settings = tantivy::IndexSettings {
            docstore_compression: tantivy::store::Compressor::Zstd(Default::default()),
            ..Default::default()
        };
        Index::builder()
            .schema(fields.schema.clone())
            .settings(settings)
            .create_in_dir(dir)?
    };
    index
        .tokenizers()
        .register(TOKENIZER, TextTokenizer::default());
    Ok(index)
}

/// `v` as a tantivy value, its strings moved, not copied.
fn owned(v: Value) -> tantivy::schema::OwnedValue {
    use tantivy::schema::OwnedValue as O;
    match v {
        Value::Null => O::Null,
        Value::Bool(b) => O::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => O::I64(i),
            (_, Some(u), _) => O::U64(u),
            (_, _, Some(f)) => O::F64(f),
            _ => O::Str(n.to_string()),
        },
        // Strings stay strings (tantivy would turn date-like ones into dates).
        Value::String(s) => O::Str(s),
        Value::Array(a) => O::Array(a.into_iter().map(owned).collect()),
        Value::Object(o) => O::Object(o.into_iter().map(|(k, v)| (k, owned(v))).collect()),
    }
}

fn ip_of(s: &str) -> Option<Ipv6Addr> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => Some(v6),
    }
}

/// The text that is searched in full text: `message`, else `event.original`.
pub fn text_of(doc: &serde_json::Map<String, Value>) -> Option<&str> {
    crate::query::event_text(doc)
}

/// The tantivy document of one event, without its sequence number and block location
/// ([`set_loc`] adds them once they are known). Takes the parsed event: its strings move into
/// the document, so an event waiting for its block's flush is held once, in the index's
/// compact form.
pub fn document(
    fields: &Fields,
    doc: serde_json::Map<String, Value>,
    ts_ms: i64,
) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    if let Some(t) = text_of(&doc) {
        d.add_text(fields.text, t);
    }
    let mut obj = Vec::with_capacity(doc.len());
    let mut cols = Vec::new();
    for (k, v) in doc {
        if is_text_field(&k) {
            continue;
        }
        if let Some(i) = IP_FIELDS.iter().position(|f| *f == k) {
            let mut add = |s: &str| {
                if let Some(ip) = ip_of(s) {
                    d.add_ip_addr(fields.ips[i], ip);
                }
            };
            match &v {
                Value::String(s) => add(s),
                Value::Array(a) => a.iter().filter_map(Value::as_str).for_each(add),
                _ => {}
            }
        }
        let o = owned(v);
        if is_column(&k) {
            cols.push((k.clone(), o.clone()));
        }
        obj.push((k, o));
    }
    d.add_field_value(fields.f, &tantivy::schema::OwnedValue::Object(obj));
    if !cols.is_empty() {
        d.add_field_value(fields.c, &tantivy::schema::OwnedValue::Object(cols));
    }
    d.add_i64(fields.ts, ts_ms);
    d
}

/// Adds the sequence number of an event's [`document`].
pub fn set_seq(fields: &Fields, d: &mut TantivyDocument, seq: u64) {
    d.add_u64(fields.seq, seq);
}

/// Adds the block location of an event's [`document`].
pub fn set_loc(fields: &Fields, d: &mut TantivyDocument, block: usize, pos: usize) {
    d.add_u64(fields.loc, loc(block, pos));
}

/// Packs a block number and a position in it.
pub fn loc(block: usize, pos: usize) -> u64 {
    ((block as u64) << 24) | pos as u64
}

/// Unpacks [`loc`].
pub fn unloc(l: u64) -> (usize, usize) {
    ((l >> 24) as usize, (l & 0xff_ffff) as usize)
}

/// A value of a normalized [`Record`] as tantivy reads it: the record's fields as one object
/// (`f`, or `c` with [`COLUMN_FIELDS`] only), or one field's value. Tantivy copies what it
/// reads into its document, so an event goes into the index without a JSON round trip and
/// without an allocation per field (the parsed `serde_json` map took a fifth of the lanes'
/// time).
#[derive(Clone, Copy, Debug)]
enum RecValue<'a> {
    Fields { rec: &'a Record, columns: bool },
    Leaf(Scalar<'a>),
}

#[derive(Clone, Copy, Debug)]
enum Scalar<'a> {
    Str(&'a str),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
}

/// A JSON number's text as `serde_json` reads it (the form [`owned`] gets).
fn number(text: &str) -> Scalar<'_> {
    if let Ok(i) = text.parse::<i64>() {
        if text != "-0" {
            return Scalar::I64(i);
        }
    }
    match serde_json::from_str::<serde_json::Number>(text) {
        Ok(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Scalar::I64(i),
            (_, Some(u), _) => Scalar::U64(u),
            (_, _, Some(f)) => Scalar::F64(f),
            _ => Scalar::Str(text),
        },
        Err(_) => Scalar::Str(text),
    }
}

/// A field's value as the stored JSON has it ([`yagura_normalize::parse::write_json`]).
fn scalar<'a>(f: &RecField<'a>) -> Scalar<'a> {
    use yagura_normalize::parse::Leaf;
    match yagura_normalize::parse::leaf(f.value, f.kind) {
        Leaf::Str(s) => Scalar::Str(s),
        Leaf::Num(n) => number(n),
        Leaf::Bool(b) => Scalar::Bool(b),
        Leaf::Null => Scalar::Null,
    }
}

/// What the index does with a field name: looked up once per field in a hash table (a scan of
/// [`COLUMN_FIELDS`] and [`IP_FIELDS`] per field cost more than indexing some fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Class {
    /// One of the names [`is_text_field`] lists (not in `f`), by [`Special`].
    special: Special,
    column: bool,
    /// Position in [`IP_FIELDS`].
    ip: Option<u8>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Special {
    #[default]
    No,
    Timestamp,
    Message,
    Original,
    Seq,
}

static CLASSES: std::sync::LazyLock<rustc_hash::FxHashMap<&'static str, Class>> =
    std::sync::LazyLock::new(|| {
        let mut m = rustc_hash::FxHashMap::<&'static str, Class>::default();
        for (k, sp) in [
            ("@timestamp", Special::Timestamp),
            ("message", Special::Message),
            ("event.original", Special::Original),
            ("yagura.seq", Special::Seq),
        ] {
            m.entry(k).or_default().special = sp;
        }
        for k in COLUMN_FIELDS {
            m.entry(k).or_default().column = true;
        }
        for (i, k) in IP_FIELDS.iter().enumerate() {
            m.entry(k).or_default().ip = Some(i as u8);
        }
        m
    });

fn class(key: &str) -> Class {
    CLASSES.get(key).copied().unwrap_or_default()
}

/// The fields of a record in a [`RecValue::Fields`] object.
struct RecFields<'a> {
    rec: &'a Record,
    columns: bool,
    i: usize,
}

impl<'a> Iterator for RecFields<'a> {
    type Item = (&'a str, RecValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let f = self.rec.at(self.i)?;
            self.i += 1;
            let c = class(f.key);
            if c.special != Special::No || (self.columns && !c.column) {
                continue;
            }
            return Some((f.key, RecValue::Leaf(scalar(&f))));
        }
    }
}

impl<'a> tantivy::schema::Value<'a> for RecValue<'a> {
    type ArrayIter = std::iter::Empty<RecValue<'a>>;
    type ObjectIter = RecFields<'a>;

    fn as_value(&self) -> tantivy::schema::document::ReferenceValue<'a, Self> {
        use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf as L};
        match *self {
            RecValue::Fields { rec, columns } => {
                ReferenceValue::Object(RecFields { rec, columns, i: 0 })
            }
            RecValue::Leaf(s) => ReferenceValue::Leaf(match s {
                Scalar::Str(s) => L::Str(s),
                Scalar::I64(i) => L::I64(i),
                Scalar::U64(u) => L::U64(u),
                Scalar::F64(f) => L::F64(f),
                Scalar::Bool(b) => L::Bool(b),
                Scalar::Null => L::Null,
            }),
        }
    }
}

/// What [`record_document`] found of the fields that are not indexed as they are.
#[derive(Debug, Default)]
pub struct RecordHead<'a> {
    /// `@timestamp`, when the record holds it once.
    pub timestamp: Option<yagura_normalize::parse::Leaf<'a>>,
    /// `event.module`, when the record holds it once as text.
    pub module: Option<&'a str>,
    /// The record holds `yagura.seq`.
    pub has_seq: bool,
}

/// A field's value when its key comes once (`Some(Some)`); `Some(None)` once it came twice
/// (an array in the stored JSON: not a string, not a time).
fn once<'a>(slot: &mut Option<Option<yagura_normalize::parse::Leaf<'a>>>, f: &RecField<'a>) {
    *slot = match slot {
        None => Some(Some(yagura_normalize::parse::leaf(f.value, f.kind))),
        Some(_) => Some(None),
    };
}

fn as_str<'a>(v: Option<Option<yagura_normalize::parse::Leaf<'a>>>) -> Option<&'a str> {
    match v {
        Some(Some(yagura_normalize::parse::Leaf::Str(s))) => Some(s),
        _ => None,
    }
}

/// [`document`] of a normalized record, read from the record itself: the same index entries
/// as [`document`] of the JSON that [`yagura_normalize::parse::write_json`] writes of it
/// (tested in `record_documents_equal_json_documents`), and what it found of the fields
/// that decide the partition. `ts_ms` is added once known (see [`set_ts`]).
pub fn record_document<'a>(fields: &Fields, rec: &'a Record) -> (TantivyDocument, RecordHead<'a>) {
    let mut d = TantivyDocument::new();
    let (mut ts, mut module, mut message, mut original) = (None, None, None, None);
    let mut has_seq = false;
    let mut columns = false;
    for f in rec.fields() {
        let c = class(f.key);
        match c.special {
            Special::Timestamp => once(&mut ts, &f),
            Special::Message => once(&mut message, &f),
            Special::Original => once(&mut original, &f),
            Special::Seq => has_seq = true,
            Special::No => {}
        }
        if c.special != Special::No {
            continue;
        }
        if f.key == "event.module" {
            once(&mut module, &f);
        }
        columns |= c.column;
        if let Some(i) = c.ip {
            if let yagura_normalize::parse::Leaf::Str(s) =
                yagura_normalize::parse::leaf(f.value, f.kind)
            {
                if let (Some(ip), Some(field)) = (ip_of(s), fields.ips.get(i as usize)) {
                    d.add_ip_addr(*field, ip);
                }
            }
        }
    }
    if let Some(t) = as_str(message).or_else(|| as_str(original)) {
        d.add_text(fields.text, t);
    }
    d.add_field_value(
        fields.f,
        RecValue::Fields {
            rec,
            columns: false,
        },
    );
    if columns {
        d.add_field_value(fields.c, RecValue::Fields { rec, columns: true });
    }
    let head = RecordHead {
        timestamp: ts.flatten(),
        module: as_str(module),
        has_seq,
    };
    (d, head)
}

/// Adds the time of an event's [`record_document`].
pub fn set_ts(fields: &Fields, d: &mut TantivyDocument, ts_ms: i64) {
    d.add_i64(fields.ts, ts_ms);
}

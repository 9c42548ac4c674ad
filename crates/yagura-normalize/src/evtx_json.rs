//! EVTX records as the `evtx` crate renders them (`{"Event": {"#attributes": .., "System": ..,
//! "EventData": .. | "UserData": ..}}`), flattened straight from their JSON text: the fields go
//! into the [`Record`] while the text is read, without building a [`serde_json::Value`].
//!
//! The result is exactly what [`crate::flatten`] gives for the parsed document (same fields in
//! the same order, same [`EventMeta`]): the rules of `windows.rs` are mirrored here. Text that
//! these rules cannot follow while reading — a repeated key (a parsed document keeps only its
//! last value), `System` after `EventData`, nested elements where text is expected, anything
//! not shaped like an EVTX record — is parsed into a `Value` and flattened the usual way.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use yagura_event::{Kind, Record};

use crate::lean_json::Lean;
use crate::{flatten, parse_timestamp, EventMeta, NormalizeError, Shape};

/// Flattens one EVTX record rendered as JSON text into `rec` (which is cleared first), giving
/// the same record, shape and meta as [`crate::flatten`] on the parsed text.
///
/// ```
/// use yagura_event::Record;
/// let json = r##"{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7036},
///     "Channel":"System","TimeCreated":{"#attributes":{"SystemTime":"2020-06-10T02:50:56.537Z"}}},
///     "EventData":{"param1":"Windows Update"}}}"##;
/// let mut rec = Record::new();
/// let (shape, meta) = yagura_normalize::flatten_evtx_json(json, &mut rec).unwrap();
/// assert_eq!(shape, yagura_normalize::Shape::EvtxXml);
/// let fields: Vec<_> = rec.fields().map(|f| (f.key, f.value)).collect();
/// assert_eq!(fields[..2], [("EventID", "7036"), ("EventID_Qualifiers", "16384")]);
/// assert_eq!(meta.event_id, Some(7036));
/// assert_eq!(meta.timestamp, Some(1_591_757_456_537));
/// ```
pub fn flatten_evtx_json(
    json: &str,
    rec: &mut Record,
) -> Result<(Shape, EventMeta), NormalizeError> {
    if let Some(meta) = stream_evtx_json(json, rec) {
        return Ok((Shape::EvtxXml, meta));
    }
    let doc: Value = serde_json::from_str(json).map_err(|e| NormalizeError::Json(e.to_string()))?;
    flatten(&doc, rec)
}

/// [`flatten_evtx_json`] for JSON bytes (checked to be UTF-8 first).
pub fn flatten_evtx_json_bytes(
    json: &[u8],
    rec: &mut Record,
) -> Result<(Shape, EventMeta), NormalizeError> {
    match std::str::from_utf8(json) {
        Ok(text) => flatten_evtx_json(text, rec),
        Err(e) => {
            rec.clear();
            Err(NormalizeError::Json(e.to_string()))
        }
    }
}

/// The streaming part of [`flatten_evtx_json`] alone: `None` (and `rec` cleared) when the text
/// needs the parsed-document path. Public for the equivalence tests.
#[doc(hidden)]
pub fn stream_evtx_json(json: &str, rec: &mut Record) -> Option<EventMeta> {
    rec.clear();
    let mut scratch = SCRATCH.with(Cell::take);
    scratch.keys.clear();
    scratch.attrs.clear();
    scratch.others.clear();
    let mut ctx = Ctx {
        rec,
        s: &mut scratch,
        meta: EventMeta::default(),
    };
    let mut de = Lean::new(json, std::mem::take(&mut ctx.s.unescaped));
    let ok = Walk {
        ctx: &mut ctx,
        mode: Mode::Root,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .is_ok();
    let meta = std::mem::take(&mut ctx.meta);
    scratch.unescaped = de.into_scratch();
    SCRATCH.with(|s| s.set(scratch));
    if ok {
        Some(meta)
    } else {
        rec.clear();
        None
    }
}

/// Buffers reused record after record (per thread).
#[derive(Default)]
struct Scratch {
    /// Hashes of the keys of the objects being read, innermost last (repeated-key check).
    keys: Vec<u64>,
    /// A `System` element's attributes, pushed after its `#text`.
    attrs: Record,
    /// A `System` element's other children, pushed after its attributes.
    others: Record,
    /// A number's decimal text.
    num: String,
    /// The JSON reader's unescape buffer.
    unescaped: String,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

struct Ctx<'r> {
    rec: &'r mut Record,
    s: &'r mut Scratch,
    meta: EventMeta,
}

/// Marks the end of streaming: the text is read again as a `Value`.
fn bail<E: de::Error>() -> E {
    E::custom("not read as streamed EVTX JSON")
}

/// Starts the keys of an object in `keys`: a 64-bit filter of their hashes, which their hashes
/// follow. Returns its index, the `base` of [`repeated`]; truncating `keys` to it ends the
/// object.
fn open_object(keys: &mut Vec<u64>) -> usize {
    keys.push(0);
    keys.len() - 1
}

/// True when `key` was already seen in the object started at `base` (records it if not). The
/// filter rules most keys out without comparing them with the object's other keys (that search
/// was 1.7% of a hunt, perf).
fn repeated(keys: &mut Vec<u64>, base: usize, key: &str) -> bool {
    let h = key_hash(key);
    let bit = 1u64 << (h >> 58);
    let Some(filter) = keys.get_mut(base) else {
        return false;
    };
    let maybe = *filter & bit != 0;
    *filter |= bit;
    if maybe && keys.get(base + 1..).is_some_and(|seen| seen.contains(&h)) {
        return true;
    }
    keys.push(h);
    false
}

/// A hash of `key` from its length and its first and last 8 bytes (all of it up to 16 bytes).
/// A collision only sends the record to the parsed path, so the middle of longer keys can be
/// left out: hashing every byte was most of the check's cost.
fn key_hash(key: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let b = key.as_bytes();
    let word = |bytes: &[u8]| {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    };
    let (head, tail) = if b.len() <= 8 {
        (word(b), 0)
    } else {
        (word(&b[..8]), word(&b[b.len().saturating_sub(8).max(8)..]))
    };
    let h = ((b.len() as u64) ^ head).wrapping_mul(K);
    (h.rotate_left(29) ^ tail).wrapping_mul(K)
}

/// `name` without its spaces (`Threat Name` -> `ThreatName`).
fn no_spaces(name: &str) -> Cow<'_, str> {
    // A plain loop: names are short, and `str::contains` (memchr) cost more per call than it
    // saved (8% of flattening, callgrind).
    if name.bytes().any(|b| b == b' ') {
        Cow::Owned(name.chars().filter(|c| *c != ' ').collect())
    } else {
        Cow::Borrowed(name)
    }
}

/// A scalar JSON value as the parsed document would hold it.
enum Scalar<'s> {
    Str(&'s str),
    Num(Number),
    Bool(bool),
    Null,
}

/// Which record a `push_value` goes to.
#[derive(Clone, Copy)]
enum Target {
    Rec,
    Attrs,
    Others,
}

/// What the value being read is, i.e. which rule of `windows.rs` applies to it.
#[derive(Clone, Copy)]
enum Mode<'n> {
    /// The document: `{"Event": ..}`.
    Root,
    /// `Event`'s value.
    Event,
    /// `Event.System`.
    System,
    /// A `System` element (`system_element`), by its tag.
    SysElem { tag: &'n str },
    /// The `#text` of a `System` element object (`push_number_like`).
    SysText { tag: &'n str },
    /// The `#attributes` of a `System` element object.
    SysAttrs { tag: &'n str },
    /// `push_value` under the key `key[0] + key[1] + key[2]`; `time`: the value is
    /// `TimeCreated.#attributes.SystemTime` (the event time when it is text).
    Push {
        key: [&'n str; 3],
        target: Target,
        time: bool,
    },
    /// `leaves` under `name` (spaces already removed).
    Leaves { name: &'n str },
    /// The `#attributes` of an element read by `leaves`.
    LeafAttrs,
    /// `Event.EventData` (`event_data`).
    EventData,
    /// `EventData.Data` (`data_items`).
    DataItems,
    /// Read and dropped.
    Skip,
}

struct Walk<'c, 'r, 'n> {
    ctx: &'c mut Ctx<'r>,
    mode: Mode<'n>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A key (or a text value): borrowed from the JSON text unless it holds escapes.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The `#attributes` of an `EventData.Data` element when it is exactly `{"Name": "<text>"}`:
/// that name. Anything else ends streaming.
struct DataName;

impl<'de> DeserializeSeed<'de> for DataName {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataName {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"{"Name": "<text>"}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if map.next_key_seed(Text)?.as_deref() != Some("Name") {
            return Err(bail());
        }
        let name = map.next_value_seed(Text)?;
        if map.next_key_seed(Text)?.is_some() {
            return Err(bail());
        }
        Ok(name)
    }
}

/// `v` as text (`meta::as_text`).
fn as_text(v: &Scalar<'_>) -> String {
    match v {
        Scalar::Str(s) => (*s).to_owned(),
        Scalar::Num(n) => n.to_string(),
        Scalar::Bool(_) | Scalar::Null => String::new(),
    }
}

/// `v` as an unsigned integer (`meta::as_u64`).
fn as_u64(v: &Scalar<'_>) -> Option<u64> {
    match v {
        Scalar::Num(n) => n.as_u64(),
        Scalar::Str(s) => s.trim().parse().ok(),
        Scalar::Bool(_) | Scalar::Null => None,
    }
}

impl<'r> Ctx<'r> {
    /// `push_value` (or `push_number_like` when `number_like`) of scalar `v` under `key`.
    fn push(&mut self, target: Target, key: &[&str], v: &Scalar<'_>, number_like: bool) {
        let rec = match target {
            Target::Rec => &mut *self.rec,
            Target::Attrs => &mut self.s.attrs,
            Target::Others => &mut self.s.others,
        };
        match v {
            Scalar::Str(s) => {
                let kind = if number_like && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
                {
                    Kind::Num
                } else {
                    Kind::Str
                };
                rec.push_parts(key, kind, s);
            }
            Scalar::Num(n) => {
                let num = &mut self.s.num;
                num.clear();
                // Writing into a String cannot fail.
                let _ = write!(num, "{n}");
                rec.push_parts(key, Kind::Num, num);
            }
            Scalar::Bool(b) => rec.push_parts(key, Kind::Bool, if *b { "true" } else { "false" }),
            Scalar::Null => rec.push_parts(key, Kind::Null, ""),
        }
    }

    /// The meta the `System` element `tag` gives when its text is `v`.
    fn system_meta(&mut self, tag: &str, v: &Scalar<'_>) {
        match tag {
            "Computer" => self.meta.computer = as_text(v),
            "Channel" => self.meta.channel = as_text(v),
            "EventID" => self.meta.event_id = as_u64(v).and_then(|n| u32::try_from(n).ok()),
            "EventRecordID" => self.meta.record_id = as_u64(v),
            _ => {}
        }
    }
}

impl<'c, 'r, 'n> Walk<'c, 'r, 'n> {
    fn scalar<E: de::Error>(self, v: Scalar<'_>) -> Result<(), E> {
        let ctx = self.ctx;
        match self.mode {
            Mode::Root | Mode::Event => return Err(bail()),
            Mode::System => {
                if !matches!(v, Scalar::Null) {
                    return Err(bail());
                }
            }
            Mode::SysAttrs { .. } | Mode::LeafAttrs | Mode::Skip => {}
            Mode::SysElem { tag } => {
                ctx.push(Target::Rec, &[&no_spaces(tag)], &v, tag == "EventID");
                ctx.system_meta(tag, &v);
            }
            Mode::SysText { tag } => {
                ctx.push(Target::Rec, &[&no_spaces(tag)], &v, true);
                ctx.system_meta(tag, &v);
            }
            Mode::Push { key, target, time } => {
                if time {
                    if let Scalar::Str(s) = v {
                        ctx.meta.timestamp = parse_timestamp(s);
                    }
                }
                ctx.push(target, &key, &v, false);
            }
            Mode::Leaves { name } => ctx.push(Target::Rec, &[name], &v, false),
            Mode::EventData => {
                if !matches!(v, Scalar::Null) {
                    ctx.push(Target::Rec, &["Data"], &v, false);
                }
            }
            Mode::DataItems => ctx.push(Target::Rec, &["Data"], &v, false),
        }
        Ok(())
    }

    /// Reads the next value of `map` as `mode`.
    fn value<'de, A: MapAccess<'de>>(
        ctx: &mut Ctx<'r>,
        map: &mut A,
        mode: Mode<'_>,
    ) -> Result<(), A::Error> {
        map.next_value_seed(Walk { ctx, mode })
    }

    /// `leaves(name, ..)` of one entry `key: <next value>` of an object read by `leaves`.
    fn leaf_entry<'de, A: MapAccess<'de>>(
        ctx: &mut Ctx<'r>,
        map: &mut A,
        name: &str,
        key: &str,
    ) -> Result<(), A::Error> {
        match key {
            "#text" => Self::value(ctx, map, Mode::Leaves { name }),
            "#attributes" => Self::value(ctx, map, Mode::LeafAttrs),
            child => Self::value(
                ctx,
                map,
                Mode::Leaves {
                    name: &no_spaces(child),
                },
            ),
        }
    }

    fn event<'de, A: MapAccess<'de>>(ctx: &mut Ctx<'r>, mut map: A) -> Result<(), A::Error> {
        let base = open_object(&mut ctx.s.keys);
        let (mut evtx_shaped, mut pushed) = (false, false);
        while let Some(key) = map.next_key_seed(Text)? {
            if repeated(&mut ctx.s.keys, base, &key) {
                return Err(bail());
            }
            match &*key {
                "#attributes" | "RenderingInfo" => Self::value(ctx, &mut map, Mode::Skip)?,
                "System" => {
                    // The parsed path reads `System` first, wherever it is.
                    if pushed {
                        return Err(bail());
                    }
                    evtx_shaped = true;
                    Self::value(ctx, &mut map, Mode::System)?;
                }
                "EventData" => {
                    (evtx_shaped, pushed) = (true, true);
                    Self::value(ctx, &mut map, Mode::EventData)?;
                }
                other => {
                    evtx_shaped |= other == "UserData";
                    pushed = true;
                    Self::value(
                        ctx,
                        &mut map,
                        Mode::Leaves {
                            name: &no_spaces(other),
                        },
                    )?;
                }
            }
        }
        ctx.s.keys.truncate(base);
        if evtx_shaped {
            Ok(())
        } else {
            Err(bail())
        }
    }

    /// A `System` element object: `#text` under the tag, then the attributes as `Tag_Attr`,
    /// then the other children as `Tag_Child`, whatever their order in the text.
    fn system_element<'de, A: MapAccess<'de>>(
        ctx: &mut Ctx<'r>,
        mut map: A,
        tag: &str,
    ) -> Result<(), A::Error> {
        let tag_ns = no_spaces(tag);
        let base = open_object(&mut ctx.s.keys);
        while let Some(key) = map.next_key_seed(Text)? {
            if repeated(&mut ctx.s.keys, base, &key) {
                return Err(bail());
            }
            match &*key {
                "#text" => Self::value(ctx, &mut map, Mode::SysText { tag })?,
                "#attributes" => Self::value(ctx, &mut map, Mode::SysAttrs { tag })?,
                child => {
                    let child_ns = no_spaces(child);
                    let mode = Mode::Push {
                        key: [&tag_ns, "_", &child_ns],
                        target: Target::Others,
                        time: false,
                    };
                    Self::value(ctx, &mut map, mode)?;
                }
            }
        }
        ctx.s.keys.truncate(base);
        for f in ctx.s.attrs.fields().chain(ctx.s.others.fields()) {
            ctx.rec.push(f.key, f.kind, f.value);
        }
        ctx.s.attrs.clear();
        ctx.s.others.clear();
        Ok(())
    }

    /// An `EventData.Data` object: `{"#attributes": {"Name": n}, "#text": v}` is field `n`
    /// (null without `#text`); one without `#attributes` is read by `leaves("Data", ..)`.
    fn data_object<'de, A: MapAccess<'de>>(ctx: &mut Ctx<'r>, mut map: A) -> Result<(), A::Error> {
        let base = open_object(&mut ctx.s.keys);
        let Some(first) = map.next_key_seed(Text)? else {
            return Ok(());
        };
        repeated(&mut ctx.s.keys, base, &first);
        if first == "#attributes" {
            let name = map.next_value_seed(DataName)?;
            let name = no_spaces(&name);
            let mut text = false;
            while let Some(key) = map.next_key_seed(Text)? {
                if repeated(&mut ctx.s.keys, base, &key) {
                    return Err(bail());
                }
                if key == "#text" {
                    text = true;
                    Self::value(ctx, &mut map, Mode::Leaves { name: &name })?;
                } else {
                    Self::value(ctx, &mut map, Mode::Skip)?;
                }
            }
            if !text {
                ctx.rec.push(&name, Kind::Null, "");
            }
        } else {
            // No name: `leaves("Data", ..)`, unless `#attributes` (perhaps with a name) follows.
            Self::leaf_entry(ctx, &mut map, "Data", &first)?;
            while let Some(key) = map.next_key_seed(Text)? {
                if key == "#attributes" || repeated(&mut ctx.s.keys, base, &key) {
                    return Err(bail());
                }
                Self::leaf_entry(ctx, &mut map, "Data", &key)?;
            }
        }
        ctx.s.keys.truncate(base);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an EVTX record rendered as JSON")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::Num(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::Num(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // As `serde_json::Value` reads it: a non-finite number is null.
        match Number::from_f64(v) {
            Some(n) => self.scalar(Scalar::Num(n)),
            None => self.scalar(Scalar::Null),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let tag_ns;
        let item = match self.mode {
            Mode::Root | Mode::Event | Mode::System => return Err(bail()),
            // `push_value` of an array: each item under the same key, no digit-text numbers.
            Mode::SysElem { tag } | Mode::SysText { tag } => {
                tag_ns = no_spaces(tag);
                Mode::Push {
                    key: [&tag_ns, "", ""],
                    target: Target::Rec,
                    time: false,
                }
            }
            Mode::Push { key, target, .. } => Mode::Push {
                key,
                target,
                time: false,
            },
            Mode::SysAttrs { .. } | Mode::LeafAttrs | Mode::Skip => Mode::Skip,
            Mode::Leaves { name } => Mode::Leaves { name },
            Mode::EventData => Mode::Leaves { name: "Data" },
            Mode::DataItems => Mode::DataItems,
        };
        while seq
            .next_element_seed(Walk {
                ctx: &mut *ctx,
                mode: item,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        match self.mode {
            Mode::Root => {
                let Some(key) = map.next_key_seed(Text)? else {
                    return Err(bail());
                };
                if key != "Event" {
                    return Err(bail());
                }
                map.next_value_seed(Walk {
                    ctx,
                    mode: Mode::Event,
                })?;
                if map.next_key_seed(Text)?.is_some() {
                    return Err(bail());
                }
                Ok(())
            }
            Mode::Event => Walk::event(ctx, map),
            Mode::System => {
                let base = open_object(&mut ctx.s.keys);
                while let Some(tag) = map.next_key_seed(Text)? {
                    if repeated(&mut ctx.s.keys, base, &tag) {
                        return Err(bail());
                    }
                    Walk::value(ctx, &mut map, Mode::SysElem { tag: &tag })?;
                }
                ctx.s.keys.truncate(base);
                Ok(())
            }
            Mode::SysElem { tag } => Walk::system_element(ctx, map, tag),
            // `push_number_like` of an object: only its `#text`, rare enough to leave to the
            // parsed path.
            Mode::SysText { .. } => Err(bail()),
            Mode::SysAttrs { tag } => {
                let tag_ns = no_spaces(tag);
                let base = open_object(&mut ctx.s.keys);
                while let Some(attr) = map.next_key_seed(Text)? {
                    if repeated(&mut ctx.s.keys, base, &attr) {
                        return Err(bail());
                    }
                    let attr_ns = no_spaces(&attr);
                    let mode = Mode::Push {
                        key: [&tag_ns, "_", &attr_ns],
                        target: Target::Attrs,
                        time: tag == "TimeCreated" && attr == "SystemTime",
                    };
                    Walk::value(ctx, &mut map, mode)?;
                }
                ctx.s.keys.truncate(base);
                Ok(())
            }
            Mode::Leaves { name } => {
                let base = open_object(&mut ctx.s.keys);
                while let Some(key) = map.next_key_seed(Text)? {
                    if repeated(&mut ctx.s.keys, base, &key) {
                        return Err(bail());
                    }
                    Walk::leaf_entry(ctx, &mut map, name, &key)?;
                }
                ctx.s.keys.truncate(base);
                Ok(())
            }
            Mode::LeafAttrs => {
                let base = open_object(&mut ctx.s.keys);
                while let Some(attr) = map.next_key_seed(Text)? {
                    if repeated(&mut ctx.s.keys, base, &attr) {
                        return Err(bail());
                    }
                    if attr.starts_with("xmlns") {
                        Walk::value(ctx, &mut map, Mode::Skip)?;
                    } else {
                        let name = no_spaces(&attr);
                        Walk::value(ctx, &mut map, Mode::Leaves { name: &name })?;
                    }
                }
                ctx.s.keys.truncate(base);
                Ok(())
            }
            Mode::EventData => {
                let base = open_object(&mut ctx.s.keys);
                while let Some(key) = map.next_key_seed(Text)? {
                    if repeated(&mut ctx.s.keys, base, &key) {
                        return Err(bail());
                    }
                    match &*key {
                        "Data" => Walk::value(ctx, &mut map, Mode::DataItems)?,
                        "#attributes" => Walk::value(ctx, &mut map, Mode::Skip)?,
                        name => {
                            let name = no_spaces(name);
                            Walk::value(ctx, &mut map, Mode::Leaves { name: &name })?;
                        }
                    }
                }
                ctx.s.keys.truncate(base);
                Ok(())
            }
            Mode::DataItems => Walk::data_object(ctx, map),
            // `push_value` of an object pushes nothing; a dropped value is read whole, so the
            // text is checked exactly as the parsed path checks it.
            Mode::Push { .. } | Mode::Skip => {
                while map.next_key_seed(Text)?.is_some() {
                    Walk::value(ctx, &mut map, Mode::Skip)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{key_hash, open_object, repeated};

    #[test]
    fn repeated_keys_are_found_per_object() {
        let mut keys = vec![key_hash("outer")];
        let base = open_object(&mut keys);
        for k in ["SubjectUserSid", "TargetUserSid", "", "a", "SubjectUserSie"] {
            assert!(!repeated(&mut keys, base, k), "{k}");
        }
        assert!(repeated(&mut keys, base, "TargetUserSid"));
        assert!(repeated(&mut keys, base, ""));
        // Keys of the enclosing object do not count.
        assert!(!repeated(&mut keys, base, "outer"));
        assert_ne!(key_hash("abcdefgh"), key_hash("abcdefgh\0"));
        assert_ne!(key_hash("SubjectUserName"), key_hash("SubjectUserSid"));
        assert_ne!(key_hash("param1"), key_hash("param10"));
        assert_ne!(key_hash("abcdefghij"), key_hash("abcdefghik"));
    }

    #[test]
    fn repeated_keys_are_found_past_filter_collisions() {
        let mut keys = Vec::new();
        let base = open_object(&mut keys);
        let names: Vec<String> = (0..300).map(|i| format!("Field{i}")).collect();
        assert!(names.iter().all(|k| !repeated(&mut keys, base, k)));
        assert!(names.iter().all(|k| repeated(&mut keys, base, k)));
        // A nested object starts its own filter.
        let inner = open_object(&mut keys);
        assert!(!repeated(&mut keys, inner, "Field7"));
        keys.truncate(inner);
        assert!(repeated(&mut keys, base, "Field7"));
    }
}

//! Search: a parsed query ([`crate::query`]) run over the partitions of a time range.
//!
//! The filter is compiled into a tantivy query per partition. Predicates the index answers
//! exactly (values, `in`, numbers, time, CIDR on the IP fields, full-text phrases, and — by
//! walking the field's term dictionary — case-insensitive equality, `contains`, `startswith`,
//! `endswith` and regexes) are answered there; the others (on `message` and `event.original`,
//! ranges on strings) make the index return a superset that the plain evaluator
//! ([`crate::query::matches`]) then filters on the stored event. So every answer equals a plain
//! scan of the same events; the tests check that.
//!
//! `stats … by …` over indexed fields is computed from the index's columns without reading a
//! single stored event; everything else reads the matching events from their blocks.

use crate::block::{self, BlockMeta};
use crate::index::{self, Fields, IP_FIELDS};
use crate::query::{self, Agg, AggFunc, CmpOp, Expr, Lit, Query, Stage, Table};
use crate::store::{day_start, read_groups};
use crate::{io, StoreError};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, Query as TQuery, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Type};
use tantivy::{DocId, IndexReader, ReloadPolicy, Score, Searcher, SegmentReader, Term};

/// Time range and limits of a search.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    /// Events at or after (epoch ms).
    pub from_ms: Option<i64>,
    /// Events before (epoch ms).
    pub to_ms: Option<i64>,
}

/// What a search did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SearchStats {
    /// Partitions searched.
    pub partitions: usize,
    /// Events the index matched.
    pub candidates: u64,
    /// Events read from blocks.
    pub fetched: u64,
    /// Whether the index answered the filter exactly (no event had to be checked).
    pub exact: bool,
}

struct PartReader {
    key: String,
    day: i64,
    reader: IndexReader,
    path: PathBuf,
    blocks: Vec<BlockMeta>,
}

/// Reads a store (while `yagura serve` writes it, or not).
pub struct Reader {
    dir: PathBuf,
    fields: Fields,
    parts: Vec<PartReader>,
}

fn tv(e: tantivy::TantivyError) -> StoreError {
    StoreError::Index(e.to_string())
}

impl Reader {
    /// Opens the store in `dir` for reading.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let mut r = Self {
            dir: dir.to_owned(),
            fields: Fields::new(),
            parts: Vec::new(),
        };
        r.refresh()?;
        Ok(r)
    }

    /// Picks up partitions, blocks and index commits written since opening.
    pub fn refresh(&mut self) -> Result<(), StoreError> {
        // Only blocks the log names count (a block being written is not there yet).
        let (groups, _, _) = read_groups(&self.dir.join("log").join("leaves.dat"))?;
        let mut logged: HashMap<String, usize> = HashMap::new();
        for g in &groups {
            for l in &g.leaves {
                match crate::merkle::Leaf::decode(l) {
                    Ok(crate::merkle::Leaf::Block(b)) => {
                        *logged.entry(b.partition).or_default() += 1;
                    }
                    Ok(crate::merkle::Leaf::Deletion(d)) => {
                        logged.remove(&d.partition);
                    }
                    Err(_) => {}
                }
            }
        }
        let mut keys: Vec<(&String, &usize)> = logged.iter().collect();
        keys.sort();
        let mut parts = Vec::with_capacity(keys.len());
        let mut old: HashMap<String, PartReader> =
            self.parts.drain(..).map(|p| (p.key.clone(), p)).collect();
        for (key, &n) in keys {
            let dir = self.dir.join("parts").join(key);
            let path = dir.join("blocks.dat");
            let Some(day) = key.split_once('/').and_then(|(_, d)| day_start(d)) else {
                continue;
            };
            let mut part = match old.remove(key) {
                Some(p) => p,
                None => {
                    let idir = dir.join("index");
                    if !idir.join("meta.json").exists() {
                        continue;
                    }
                    let index = index::open(&idir, &self.fields).map_err(tv)?;
                    let reader = index
                        .reader_builder()
                        .reload_policy(ReloadPolicy::Manual)
                        .try_into()
                        .map_err(tv)?;
                    PartReader {
                        key: key.clone(),
                        day,
                        reader,
                        path: path.clone(),
                        blocks: Vec::new(),
                    }
                }
            };
            part.reader.reload().map_err(tv)?;
            if part.blocks.len() < n {
                let mut scan = block::scan(&path)?;
                scan.blocks.truncate(n);
                part.blocks = scan.blocks;
            }
            parts.push(part);
        }
        self.parts = parts;
        Ok(())
    }

    /// Partitions readable, with their event counts (from the index).
    pub fn partitions(&self) -> Vec<(String, u64)> {
        self.parts
            .iter()
            .map(|p| (p.key.clone(), p.reader.searcher().num_docs()))
            .collect()
    }

    fn in_range<'a>(&'a self, o: &SearchOptions) -> impl Iterator<Item = &'a PartReader> + 'a {
        let (from, to) = (o.from_ms, o.to_ms);
        self.parts.iter().filter(move |p| {
            let end = p.day + 86_400_000;
            from.is_none_or(|f| end > f) && to.is_none_or(|t| p.day < t)
        })
    }

    /// Runs a query: its filter, then its stages. Events (when no `stats`/`timechart`) come
    /// newest first. `limit`: events at most when the query has no `head` (None: all).
    pub fn run(
        &self,
        q: &Query,
        o: &SearchOptions,
        limit: Option<usize>,
    ) -> Result<(Table, SearchStats), StoreError> {
        let mut stats = SearchStats::default();
        if let Some(Stage::Stats { aggs, by }) = q.stages.first() {
            if let Some(t) = self.fast_count(q, aggs, by, o, &mut stats)? {
                // Group order as `stats` has it (by-values ascending, numbers as numbers).
                let order = Stage::Sort(
                    by.iter()
                        .map(|f| query::SortKey {
                            field: f.clone(),
                            desc: false,
                        })
                        .collect(),
                );
                let qe = |e: query::QueryError| StoreError::Query(e.to_string());
                let t = query::run_stages_on_table(std::slice::from_ref(&order), t).map_err(qe)?;
                let table = query::run_stages_on_table(&q.stages[1..], t).map_err(qe)?;
                return Ok((table, stats));
            }
        }
        let has_head = q.stages.iter().any(|s| matches!(s, Stage::Head(_)));
        let mut rows = Vec::new();
        let lim = if has_head || q.stages.iter().any(|s| !matches!(s, Stage::Fields(_))) {
            None
        } else {
            limit
        };
        // Stream events into the stages; `head` right after the filter stops early.
        let early = match q.stages.first() {
            Some(Stage::Head(n)) => Some(*n),
            _ => lim,
        };
        self.events(q.filter.as_ref(), o, &mut stats, |doc| {
            rows.push(doc);
            early.is_none_or(|n| rows.len() < n)
        })?;
        let table = query::run_stages(&q.stages, rows.into_iter())
            .map_err(|e| StoreError::Query(e.to_string()))?;
        Ok((table, stats))
    }

    /// Calls `f` with every event matching `filter` in the range, newest first, until it
    /// returns false.
    pub fn events(
        &self,
        filter: Option<&Expr>,
        o: &SearchOptions,
        stats: &mut SearchStats,
        mut f: impl FnMut(Map<String, Value>) -> bool,
    ) -> Result<(), StoreError> {
        // Newest day first; within a day, merge the partitions' hits by time.
        let mut days: Vec<i64> = self.in_range(o).map(|p| p.day).collect();
        days.sort_unstable();
        days.dedup();
        stats.exact = true;
        for day in days.into_iter().rev() {
            let mut hits: Vec<(i64, u64, usize, u64)> = Vec::new();
            let parts: Vec<&PartReader> = self.in_range(o).filter(|p| p.day == day).collect();
            for (pi, p) in parts.iter().enumerate() {
                stats.partitions += 1;
                let searcher = p.reader.searcher();
                let (tq, exact) = self.compile_ranged(filter, o, &searcher)?;
                stats.exact &= exact;
                let found = searcher.search(&tq, &HitCollector).map_err(tv)?;
                stats.candidates += found.len() as u64;
                hits.extend(found.into_iter().map(|(ts, seq, loc)| (ts, seq, pi, loc)));
            }
            hits.sort_unstable_by_key(|h| std::cmp::Reverse((h.0, h.1)));
            let exact = stats.exact;
            // One block cache per partition: hits merged by time alternate between the
            // day's partitions, and one cache for all of them decompressed a block per event.
            let mut caches: Vec<BlockCache> = parts.iter().map(|_| BlockCache::default()).collect();
            for (_, _, pi, loc) in hits {
                let (Some(p), Some(cache)) = (parts.get(pi), caches.get_mut(pi)) else {
                    continue;
                };
                let Some(doc) = cache.get(p, loc)? else {
                    continue;
                };
                stats.fetched += 1;
                if !exact {
                    if let Some(e) = filter {
                        if !query::matches(e, &doc) {
                            continue;
                        }
                    }
                }
                if !f(doc) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Counts events matching the filter (exact).
    pub fn count(&self, filter: Option<&Expr>, o: &SearchOptions) -> Result<u64, StoreError> {
        let mut n = 0;
        let mut inexact = false;
        for p in self.in_range(o) {
            let searcher = p.reader.searcher();
            let (tq, exact) = self.compile_ranged(filter, o, &searcher)?;
            if !exact {
                inexact = true;
                break;
            }
            n += searcher
                .search(&tq, &tantivy::collector::Count)
                .map_err(tv)? as u64;
        }
        if inexact {
            n = 0;
            let mut st = SearchStats::default();
            self.events(filter, o, &mut st, |_| {
                n += 1;
                true
            })?;
        }
        Ok(n)
    }

    fn compile_ranged(
        &self,
        filter: Option<&Expr>,
        o: &SearchOptions,
        s: &Searcher,
    ) -> Result<(Box<dyn TQuery>, bool), StoreError> {
        let (q, exact) = match filter {
            Some(e) => self.compile(e, s)?,
            None => (Box::new(AllQuery) as Box<dyn TQuery>, true),
        };
        if o.from_ms.is_none() && o.to_ms.is_none() {
            return Ok((q, exact));
        }
        let lo = o.from_ms.map_or(Bound::Unbounded, |t| {
            Bound::Included(Term::from_field_i64(self.fields.ts, t))
        });
        let hi = o.to_ms.map_or(Bound::Unbounded, |t| {
            Bound::Excluded(Term::from_field_i64(self.fields.ts, t))
        });
        let range: Box<dyn TQuery> = Box::new(RangeQuery::new(lo, hi));
        Ok((
            Box::new(BooleanQuery::new(vec![
                (Occur::Must, q),
                (Occur::Must, range),
            ])),
            exact,
        ))
    }

    /// A tantivy query that matches a superset of `e` (exactly `e` when the flag is true).
    fn compile(&self, e: &Expr, s: &Searcher) -> Result<(Box<dyn TQuery>, bool), StoreError> {
        let all = || (Box::new(AllQuery) as Box<dyn TQuery>, false);
        Ok(match e {
            Expr::And(v) => {
                let mut exact = true;
                let mut qs = Vec::with_capacity(v.len());
                for c in v {
                    let (q, x) = self.compile(c, s)?;
                    exact &= x;
                    qs.push((Occur::Must, q));
                }
                (Box::new(BooleanQuery::new(qs)), exact)
            }
            Expr::Or(v) => {
                let mut exact = true;
                let mut qs = Vec::with_capacity(v.len());
                for c in v {
                    let (q, x) = self.compile(c, s)?;
                    exact &= x;
                    qs.push((Occur::Should, q));
                }
                (Box::new(BooleanQuery::new(qs)), exact)
            }
            Expr::Not(c) => {
                let (q, x) = self.compile(c, s)?;
                if !x {
                    all()
                } else {
                    (
                        Box::new(BooleanQuery::new(vec![
                            (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
                            (Occur::MustNot, q),
                        ])),
                        true,
                    )
                }
            }
            Expr::Text { tokens, .. } => {
                let mut terms: Vec<Term> = tokens
                    .iter()
                    .map(|t| Term::from_field_text(self.fields.text, t))
                    .collect();
                terms.sort();
                terms.dedup();
                match terms.len() {
                    0 => (Box::new(EmptyQuery) as Box<dyn TQuery>, true),
                    // One word: the index answers exactly.
                    1 if tokens.len() == 1 => (
                        Box::new(TermQuery::new(terms[0].clone(), IndexRecordOption::Basic))
                            as Box<dyn TQuery>,
                        true,
                    ),
                    // A phrase: events with all its words, then the order is checked.
                    _ => (
                        Box::new(BooleanQuery::new(
                            terms
                                .into_iter()
                                .map(|t| {
                                    (
                                        Occur::Must,
                                        Box::new(TermQuery::new(t, IndexRecordOption::Basic))
                                            as Box<dyn TQuery>,
                                    )
                                })
                                .collect(),
                        )) as Box<dyn TQuery>,
                        false,
                    ),
                }
            }
            // The text fields are not in `f`: the events are checked one by one.
            _ if e
                .field()
                .is_some_and(|f| index::is_text_field(f) && f != "@timestamp") =>
            {
                all()
            }
            Expr::Cmp { field, op, value } if field == "@timestamp" => {
                let t = match value {
                    Lit::Str(s) => query::parse_time(s),
                    Lit::Int(i) => Some(*i),
                    _ => None,
                };
                let Some(t) = t else { return Ok(all()) };
                let term = Term::from_field_i64(self.fields.ts, t);
                let b = |inc: bool| {
                    if inc {
                        Bound::Included(term.clone())
                    } else {
                        Bound::Excluded(term.clone())
                    }
                };
                let (lo, hi) = match op {
                    CmpOp::Lt => (Bound::Unbounded, b(false)),
                    CmpOp::Le => (Bound::Unbounded, b(true)),
                    CmpOp::Gt => (b(false), Bound::Unbounded),
                    CmpOp::Ge => (b(true), Bound::Unbounded),
                    _ => return Ok(all()),
                };
                (Box::new(RangeQuery::new(lo, hi)), true)
            }
            Expr::Exists { field } if field == "@timestamp" => {
                (Box::new(AllQuery) as Box<dyn TQuery>, true)
            }
            Expr::Cmp { field, op, value } => match op {
                CmpOp::Eq => (self.eq_query(field, std::slice::from_ref(value)), true),
                CmpOp::Ne => {
                    let q = self.eq_query(field, std::slice::from_ref(value));
                    (
                        Box::new(BooleanQuery::new(vec![
                            (Occur::Must, Box::new(AllQuery) as Box<dyn TQuery>),
                            (Occur::MustNot, q),
                        ])),
                        true,
                    )
                }
                CmpOp::EqNoCase => {
                    let want = lit_text(value).to_lowercase();
                    (
                        self.scan_terms(s, field, |t| t.to_lowercase() == want)?,
                        true,
                    )
                }
                _ => all(),
            },
            Expr::In { field, values } => (self.eq_query(field, values), true),
            Expr::Contains { field, value } => {
                let v = value.to_lowercase();
                (
                    self.scan_terms(s, field, |t| t.to_lowercase().contains(&v))?,
                    true,
                )
            }
            Expr::StartsWith { field, value } => {
                let v = value.to_lowercase();
                (
                    self.scan_terms(s, field, |t| t.to_lowercase().starts_with(&v))?,
                    true,
                )
            }
            Expr::EndsWith { field, value } => {
                let v = value.to_lowercase();
                (
                    self.scan_terms(s, field, |t| t.to_lowercase().ends_with(&v))?,
                    true,
                )
            }
            Expr::Regex { field, re, .. } => (self.scan_terms(s, field, |t| re.is_match(t))?, true),
            Expr::Cidr { field, net } => {
                if let Some(i) = IP_FIELDS.iter().position(|f| f == field) {
                    let f = self.fields.ips[i];
                    let v6 = |ip: IpAddr| match ip {
                        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                        IpAddr::V6(v6) => v6,
                    };
                    let lo = Term::from_field_ip_addr(f, v6(net.network()));
                    let hi = Term::from_field_ip_addr(f, v6(net.broadcast()));
                    (
                        Box::new(RangeQuery::new(Bound::Included(lo), Bound::Included(hi))),
                        true,
                    )
                } else {
                    let net = *net;
                    (
                        self.scan_terms(s, field, |t| {
                            t.trim_start_matches('[')
                                .trim_end_matches(']')
                                .parse::<IpAddr>()
                                .is_ok_and(|ip| net.contains(&ip))
                        })?,
                        true,
                    )
                }
            }
            Expr::Exists { field } if index::is_column(field) => (
                Box::new(ExistsQuery::new(format!("c.{field}"), false)) as Box<dyn TQuery>,
                true,
            ),
            // Not a column: the events are checked one by one.
            Expr::Exists { .. } => all(),
        })
    }

    fn path_term(&self, field: &str) -> Term {
        Term::from_field_json_path(self.fields.f, field, true)
    }

    /// Terms of `field` equal to any of `values` (strings and numbers, as the evaluator has it).
    fn eq_query(&self, field: &str, values: &[Lit]) -> Box<dyn TQuery> {
        let mut terms = Vec::new();
        for v in values {
            let base = self.path_term(field);
            let mut add_str = |s: &str| {
                let mut t = base.clone();
                t.append_type_and_str(s);
                terms.push(t);
            };
            match v {
                Lit::Str(s) => {
                    add_str(s);
                    if let Some(t) = num_term(&base, s) {
                        terms.push(t);
                    }
                }
                Lit::Int(i) => {
                    add_str(&i.to_string());
                    let mut t = base.clone();
                    t.append_type_and_fast_value(*i);
                    terms.push(t);
                }
                Lit::Float(x) => {
                    add_str(&x.to_string());
                    if let Some(t) = num_term(&base, &x.to_string()) {
                        terms.push(t);
                    }
                }
                Lit::Bool(b) => {
                    let mut t = base.clone();
                    t.append_type_and_fast_value(*b);
                    terms.push(t);
                }
                Lit::Null => {
                    // JSON null is not indexed: the evaluator decides.
                    return Box::new(AllQuery);
                }
            }
        }
        Box::new(TermSetQuery::new(terms))
    }

    /// The string terms of `field` (and numbers, as text) for which `keep` holds.
    fn scan_terms(
        &self,
        s: &Searcher,
        field: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Box<dyn TQuery>, StoreError> {
        let base = self.path_term(field);
        let path = base.serialized_value_bytes().to_vec();
        let mut out = Vec::new();
        let mut end = path.clone();
        end.push(0xff);
        for seg in s.segment_readers() {
            let inv = seg.inverted_index(self.fields.f).map_err(tv)?;
            let dict = inv.terms();
            let mut stream = dict
                .range()
                .ge(&path)
                .lt(&end)
                .into_stream()
                .map_err(|e| StoreError::Index(e.to_string()))?;
            while stream.advance() {
                let key = stream.key();
                let Some(rest) = key.strip_prefix(&path[..]) else {
                    continue;
                };
                let Some((&ty, val)) = rest.split_first() else {
                    continue;
                };
                let text = match Type::from_code(ty) {
                    Some(Type::Str) => std::str::from_utf8(val).ok().map(str::to_owned),
                    Some(Type::I64) => be8(val).map(|u| i64_from_u64(u).to_string()),
                    Some(Type::U64) => be8(val).map(|u| u.to_string()),
                    Some(Type::F64) => be8(val).map(|u| f64_from_u64(u).to_string()),
                    _ => None,
                };
                if let Some(t) = text {
                    if keep(&t) {
                        let mut term = Term::from_field_json_path(self.fields.f, field, true);
                        term.append_bytes(rest);
                        out.push(term);
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(Box::new(TermSetQuery::new(out)))
    }

    /// `stats count() … by f1, f2` over indexed string fields: from the index's columns.
    fn fast_count(
        &self,
        q: &Query,
        aggs: &[Agg],
        by: &[String],
        o: &SearchOptions,
        stats: &mut SearchStats,
    ) -> Result<Option<Table>, StoreError> {
        // `count(field)` counts the events that hold the field: not from here.
        if !aggs
            .iter()
            .all(|a| a.func == AggFunc::Count && a.field.is_none())
            || by.iter().any(|f| !index::is_column(f))
        {
            return Ok(None);
        }
        let mut counts: HashMap<Vec<Option<String>>, u64> = HashMap::new();
        for p in self.in_range(o) {
            let searcher = p.reader.searcher();
            let (tq, exact) = self.compile_ranged(q.filter.as_ref(), o, &searcher)?;
            if !exact {
                return Ok(None);
            }
            stats.partitions += 1;
            let part = if by.is_empty() {
                // `stats count()`: the number of hits, one group.
                let n = searcher
                    .search(&tq, &tantivy::collector::Count)
                    .map_err(tv)?;
                HashMap::from([(Vec::new(), n as u64)])
            } else {
                let c = GroupCount {
                    paths: by.iter().map(|f| format!("c.{f}")).collect(),
                };
                let Some(part) = searcher.search(&tq, &c).map_err(tv)? else {
                    return Ok(None);
                };
                part
            };
            for (k, n) in part {
                stats.candidates += n;
                *counts.entry(k).or_default() += n;
            }
        }
        if by.is_empty() {
            // Like `stats`: `stats count()` over nothing is one row with 0.
            counts.entry(Vec::new()).or_default();
        }
        stats.exact = true;
        let mut keys: Vec<(Vec<Option<String>>, u64)> = counts
            .into_iter()
            .filter(|(k, _)| k.iter().all(Option::is_some))
            .collect();
        keys.sort();
        let mut columns: Vec<String> = by.to_vec();
        columns.extend(aggs.iter().map(|a| a.name.clone()));
        let rows = keys
            .into_iter()
            .map(|(k, n)| {
                let mut r: Vec<Value> = k
                    .into_iter()
                    .map(|v| v.map_or(Value::Null, Value::String))
                    .collect();
                r.extend(aggs.iter().map(|_| Value::from(n)));
                r
            })
            .collect();
        Ok(Some(Table { columns, rows }))
    }
}

fn lit_text(v: &Lit) -> String {
    match v {
        Lit::Str(s) => s.clone(),
        Lit::Int(i) => i.to_string(),
        Lit::Float(f) => f.to_string(),
        Lit::Bool(b) => b.to_string(),
        Lit::Null => "null".into(),
    }
}

fn be8(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn i64_from_u64(u: u64) -> i64 {
    (u ^ (1 << 63)) as i64
}

fn f64_from_u64(u: u64) -> f64 {
    // tantivy's order-preserving f64 mapping, reversed.
    let bits = if u & (1 << 63) != 0 {
        u ^ (1 << 63)
    } else {
        !u
    };
    f64::from_bits(bits)
}

fn num_term(base: &Term, s: &str) -> Option<Term> {
    let mut t = base.clone();
    if let Ok(i) = s.parse::<i64>() {
        t.append_type_and_fast_value(i);
        return Some(t);
    }
    if let Ok(u) = s.parse::<u64>() {
        t.append_type_and_fast_value(u);
        return Some(t);
    }
    let x = s.parse::<f64>().ok().filter(|x| x.is_finite())?;
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        t.append_type_and_fast_value(x as i64);
    } else {
        t.append_type_and_fast_value(x);
    }
    Some(t)
}

/// Collects `(ts, seq, loc)` of every hit.
struct HitCollector;

struct HitSegment {
    ts: tantivy::columnar::Column<i64>,
    seq: tantivy::columnar::Column<u64>,
    loc: tantivy::columnar::Column<u64>,
    out: Vec<(i64, u64, u64)>,
}

impl Collector for HitCollector {
    type Fruit = Vec<(i64, u64, u64)>;
    type Child = HitSegment;
    fn for_segment(&self, _: u32, seg: &SegmentReader) -> tantivy::Result<HitSegment> {
        let ff = seg.fast_fields();
        Ok(HitSegment {
            ts: ff.i64("ts")?,
            seq: ff.u64("seq")?,
            loc: ff.u64("loc")?,
            out: Vec::new(),
        })
    }
    fn requires_scoring(&self) -> bool {
        false
    }
    fn merge_fruits(&self, f: Vec<Vec<(i64, u64, u64)>>) -> tantivy::Result<Self::Fruit> {
        Ok(f.into_iter().flatten().collect())
    }
}

impl SegmentCollector for HitSegment {
    type Fruit = Vec<(i64, u64, u64)>;
    fn collect(&mut self, doc: DocId, _: Score) {
        let (Some(ts), Some(seq), Some(loc)) =
            (self.ts.first(doc), self.seq.first(doc), self.loc.first(doc))
        else {
            return;
        };
        self.out.push((ts, seq, loc));
    }
    fn harvest(self) -> Self::Fruit {
        self.out
    }
}

/// Counts hits by the string values of some columns (None when a column is not all strings).
struct GroupCount {
    paths: Vec<String>,
}

type Groups = HashMap<Vec<Option<String>>, u64>;

struct GroupSegment {
    cols: Vec<Option<StrColumn>>,
    counts: HashMap<Vec<u64>, u64>,
    ords: Vec<Vec<u64>>,
    key: Vec<u64>,
    bad: bool,
}

impl Collector for GroupCount {
    type Fruit = Option<Groups>;
    type Child = GroupSegment;
    fn for_segment(&self, _: u32, seg: &SegmentReader) -> tantivy::Result<GroupSegment> {
        let ff = seg.fast_fields();
        let mut cols = Vec::with_capacity(self.paths.len());
        let mut bad = false;
        for p in &self.paths {
            // A field held as numbers (or several types) in this segment: not for this path.
            let handles = ff.dynamic_column_handles(p)?;
            if handles
                .iter()
                .any(|h| !matches!(h.column_type(), tantivy::columnar::ColumnType::Str))
            {
                bad = true;
            }
            cols.push(ff.str(p)?);
        }
        Ok(GroupSegment {
            ords: vec![Vec::new(); cols.len()],
            key: vec![0; cols.len()],
            cols,
            counts: HashMap::new(),
            bad,
        })
    }
    fn requires_scoring(&self) -> bool {
        false
    }
    fn merge_fruits(&self, f: Vec<Option<Groups>>) -> tantivy::Result<Self::Fruit> {
        let mut out = Groups::new();
        for g in f {
            let Some(g) = g else { return Ok(None) };
            for (k, n) in g {
                *out.entry(k).or_default() += n;
            }
        }
        Ok(Some(out))
    }
}

const NONE_ORD: u64 = u64::MAX;

impl GroupSegment {
    fn bump(&mut self, i: usize) {
        if i == self.ords.len() {
            *self.counts.entry(self.key.clone()).or_default() += 1;
            return;
        }
        if self.ords[i].is_empty() {
            self.key[i] = NONE_ORD;
            self.bump(i + 1);
        } else {
            for j in 0..self.ords[i].len() {
                self.key[i] = self.ords[i][j];
                self.bump(i + 1);
            }
        }
    }
}

impl SegmentCollector for GroupSegment {
    type Fruit = Option<Groups>;
    fn collect(&mut self, doc: DocId, _: Score) {
        if self.bad {
            return;
        }
        for (i, c) in self.cols.iter().enumerate() {
            self.ords[i].clear();
            if let Some(c) = c {
                self.ords[i].extend(c.term_ords(doc));
            }
        }
        self.bump(0);
    }
    fn harvest(self) -> Self::Fruit {
        if self.bad {
            return None;
        }
        let mut out = Groups::new();
        let mut buf = String::new();
        for (k, n) in self.counts {
            let mut key = Vec::with_capacity(k.len());
            for (i, o) in k.into_iter().enumerate() {
                if o == NONE_ORD {
                    key.push(None);
                    continue;
                }
                buf.clear();
                let ok = self.cols[i]
                    .as_ref()
                    .is_some_and(|c| c.ord_to_str(o, &mut buf).unwrap_or(false));
                key.push(ok.then(|| buf.clone()));
            }
            *out.entry(key).or_default() += n;
        }
        Some(out)
    }
}

/// Keeps the last block read, decompressed.
#[derive(Default)]
struct BlockCache {
    key: Option<(PathBuf, usize)>,
    offsets: Vec<usize>,
    data: Vec<u8>,
    file: Option<(PathBuf, File)>,
}

impl BlockCache {
    fn get(&mut self, p: &PartReader, loc: u64) -> Result<Option<Map<String, Value>>, StoreError> {
        let (bi, pos) = index::unloc(loc);
        let Some(meta) = p.blocks.get(bi) else {
            return Ok(None);
        };
        if self.key.as_ref() != Some(&(p.path.clone(), bi)) {
            if self.file.as_ref().is_none_or(|(fp, _)| fp != &p.path) {
                let f = File::open(&p.path).map_err(io(&p.path))?;
                self.file = Some((p.path.clone(), f));
            }
            let Some((_, f)) = self.file.as_mut() else {
                return Ok(None);
            };
            let data = block::read(f, &p.path, meta.offset, meta.len)?;
            self.data = data.payload;
            self.offsets.clear();
            self.offsets.push(0);
            for (i, &b) in self.data.iter().enumerate() {
                if b == b'\n' {
                    self.offsets.push(i + 1);
                }
            }
            self.key = Some((p.path.clone(), bi));
        }
        let (Some(&s), Some(&e)) = (self.offsets.get(pos), self.offsets.get(pos + 1)) else {
            return Ok(None);
        };
        let line = &self.data[s..e.saturating_sub(1)];
        Ok(serde_json::from_slice(line).ok())
    }
}

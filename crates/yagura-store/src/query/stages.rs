//! Streaming execution of pipeline stages.

use super::eval::{
    for_each_elem, format_time, lookup, num_of, parse_time, sort_cmp, sort_value, Num,
};
use super::{matches, Agg, AggFunc, Doc, QueryError, SortKey, Stage, Table};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Most distinct values kept by `values()`.
const VALUES_MAX: usize = 100;

type Rows<'a> = Box<dyn Iterator<Item = Doc> + 'a>;

/// Runs `stages` in order over `rows` (the events that passed the filter) and builds the
/// result table. Streams: only `stats`/`timechart` groups, `sort` buffers (bounded to N
/// when `sort` is directly followed by `head N`) and the output are kept in memory, and
/// `head` stops pulling from `rows` as soon as it has its rows.
pub fn run_stages(stages: &[Stage], rows: impl Iterator<Item = Doc>) -> Result<Table, QueryError> {
    run(stages, Box::new(rows), None)
}

/// Runs `stages` over an existing table (e.g. a `stats` result computed elsewhere, such as
/// from an index), keeping its columns unless a stage changes them.
pub fn run_stages_on_table(stages: &[Stage], table: Table) -> Result<Table, QueryError> {
    let Table { columns, rows } = table;
    let names = columns.clone();
    let rows = rows
        .into_iter()
        .map(move |r| names.iter().cloned().zip(r).collect::<Doc>());
    run(stages, Box::new(rows), Some(columns))
}

fn run<'a>(
    stages: &'a [Stage],
    mut cur: Rows<'a>,
    mut columns: Option<Vec<String>>,
) -> Result<Table, QueryError> {
    let mut i = 0;
    while let Some(stage) = stages.get(i) {
        match stage {
            Stage::Where(e) => cur = Box::new(cur.filter(move |r| matches(e, r))),
            Stage::Fields(fs) => {
                columns = Some(fs.clone());
                cur = Box::new(cur.map(move |r| project(&r, fs)));
            }
            Stage::Head(n) => cur = Box::new(cur.take(*n)),
            Stage::Sort(keys) => {
                if let Some(Stage::Head(n)) = stages.get(i + 1) {
                    cur = Box::new(top_n(cur, keys, *n).into_iter());
                    i += 1;
                } else {
                    let mut v: Vec<Doc> = cur.collect();
                    v.sort_by(|a, b| cmp_rows(a, b, keys));
                    cur = Box::new(v.into_iter());
                }
            }
            Stage::Stats { aggs, by } => {
                let (cols, out) = group(cur, aggs, by, None, "stats")?;
                columns = Some(cols);
                cur = Box::new(out.into_iter());
            }
            Stage::Timechart { span_ms, aggs, by } => {
                if *span_ms <= 0 {
                    return Err(QueryError::BadSpan(*span_ms));
                }
                let by: Vec<String> = by.iter().cloned().collect();
                let (cols, out) = group(cur, aggs, &by, Some(*span_ms), "timechart")?;
                columns = Some(cols);
                cur = Box::new(out.into_iter());
            }
        }
        i += 1;
    }
    Ok(match columns {
        Some(columns) => {
            let rows = cur
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect();
            Table { columns, rows }
        }
        None => {
            let docs: Vec<Doc> = cur.collect();
            let mut columns = Vec::new();
            let mut seen = HashSet::new();
            if docs.iter().any(|d| d.contains_key("@timestamp")) {
                seen.insert("@timestamp".to_string());
                columns.push("@timestamp".to_string());
            }
            for d in &docs {
                for k in d.keys() {
                    if !seen.contains(k) {
                        seen.insert(k.clone());
                        columns.push(k.clone());
                    }
                }
            }
            let rows = docs
                .into_iter()
                .map(|mut d| {
                    columns
                        .iter()
                        .map(|c| d.remove(c).unwrap_or(Value::Null))
                        .collect()
                })
                .collect();
            Table { columns, rows }
        }
    })
}

fn project(r: &Doc, fs: &[String]) -> Doc {
    let mut out = Doc::new();
    for f in fs {
        if let Some(v) = lookup(r, f) {
            out.insert(f.clone(), v.clone());
        }
    }
    out
}

fn cmp_rows(a: &Doc, b: &Doc, keys: &[SortKey]) -> Ordering {
    for k in keys {
        let o = sort_cmp(sort_value(a, &k.field), sort_value(b, &k.field), k.desc);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Stable `sort | head n` keeping at most `n` rows in memory.
fn top_n(rows: Rows<'_>, keys: &[SortKey], n: usize) -> Vec<Doc> {
    let mut buf: Vec<Doc> = Vec::new();
    if n == 0 {
        return buf;
    }
    for r in rows {
        if buf.len() == n {
            if let Some(last) = buf.last() {
                if cmp_rows(last, &r, keys) != Ordering::Greater {
                    continue;
                }
            }
        }
        let pos = buf.partition_point(|x| cmp_rows(x, &r, keys) != Ordering::Greater);
        buf.insert(pos, r);
        buf.truncate(n);
    }
    buf
}

/// A value ordered like `sort` (ties broken by the JSON text so distinct values stay distinct).
#[derive(Debug, Clone)]
struct OrdVal(Value);

impl Ord for OrdVal {
    fn cmp(&self, o: &Self) -> Ordering {
        sort_cmp(Some(&self.0), Some(&o.0), false)
            .then_with(|| self.0.to_string().cmp(&o.0.to_string()))
    }
}
impl PartialOrd for OrdVal {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for OrdVal {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for OrdVal {}

enum State {
    Count(u64),
    Dc(HashSet<String>),
    Min(Option<Num>, Option<String>),
    Max(Option<Num>, Option<String>),
    Avg(f64, u64),
    /// Integer sum while exact, float sum, count of numeric values.
    Sum(Option<i64>, f64, u64),
    Values(BTreeSet<OrdVal>),
}

impl State {
    fn new(f: AggFunc) -> State {
        match f {
            AggFunc::Count => State::Count(0),
            AggFunc::Dc => State::Dc(HashSet::new()),
            AggFunc::Min => State::Min(None, None),
            AggFunc::Max => State::Max(None, None),
            AggFunc::Avg => State::Avg(0.0, 0),
            AggFunc::Sum => State::Sum(Some(0), 0.0, 0),
            AggFunc::Values => State::Values(BTreeSet::new()),
        }
    }

    fn feed(&mut self, v: &Value) {
        if v.is_null() {
            return;
        }
        match self {
            State::Count(_) => {}
            State::Dc(set) => {
                let k = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                set.insert(k);
            }
            State::Min(..) | State::Max(..) => {
                let want = if matches!(self, State::Min(..)) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                let (n, s) = match self {
                    State::Min(n, s) | State::Max(n, s) => (n, s),
                    _ => return,
                };
                if let Some(x) = num_of(v) {
                    if n.is_none_or(|cur| x.cmp(cur) == Some(want)) {
                        *n = Some(x);
                    }
                } else if let Value::String(t) = v {
                    if s.as_deref().is_none_or(|cur| t.as_str().cmp(cur) == want) {
                        *s = Some(t.clone());
                    }
                }
            }
            State::Avg(sum, c) => {
                if let Some(x) = num_of(v) {
                    *sum += x.f();
                    *c += 1;
                }
            }
            State::Sum(int, fsum, c) => {
                if let Some(x) = num_of(v) {
                    *fsum += x.f();
                    *c += 1;
                    *int = match (*int, x) {
                        (Some(a), Num::I(b)) => a.checked_add(b),
                        _ => None,
                    };
                }
            }
            State::Values(set) => {
                if set.len() >= VALUES_MAX {
                    if let Some(last) = set.last() {
                        if OrdVal(v.clone()) >= *last {
                            return;
                        }
                    }
                }
                set.insert(OrdVal(v.clone()));
                while set.len() > VALUES_MAX {
                    set.pop_last();
                }
            }
        }
    }

    fn finish(self) -> Value {
        match self {
            State::Count(c) => Value::from(c),
            State::Dc(s) => Value::from(s.len() as u64),
            State::Min(n, s) | State::Max(n, s) => match (n, s) {
                (Some(n), _) => n.to_value(),
                (None, Some(s)) => Value::String(s),
                (None, None) => Value::Null,
            },
            State::Avg(_, 0) | State::Sum(_, _, 0) => Value::Null,
            State::Avg(sum, c) => Num::F(sum / c as f64).to_value(),
            State::Sum(Some(i), _, _) => Value::from(i),
            State::Sum(None, f, _) => Num::F(f).to_value(),
            State::Values(s) => Value::Array(s.into_iter().map(|v| v.0).collect()),
        }
    }
}

struct Group {
    key: Vec<Value>,
    states: Vec<State>,
}

/// The alternatives a by-field contributes: its value, each array element, or nothing
/// (missing/null: the row is dropped).
fn key_alternatives(doc: &Doc, field: &str) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(v) = lookup(doc, field) {
        for_each_elem(v, &mut |e| {
            if !e.is_null() {
                out.push(e.clone());
            }
        });
    }
    out
}

fn canonical(v: &Value) -> String {
    v.to_string()
}

/// `stats` (span = None) and `timechart` (span = Some): group rows and aggregate.
fn group(
    rows: Rows<'_>,
    aggs: &[Agg],
    by: &[String],
    span: Option<i64>,
    stage: &'static str,
) -> Result<(Vec<String>, Vec<Doc>), QueryError> {
    if aggs.is_empty() {
        return Err(QueryError::NoAggregations(stage));
    }
    let mut columns: Vec<String> = Vec::new();
    if span.is_some() {
        columns.push("_time".to_string());
    }
    columns.extend(by.iter().cloned());
    columns.extend(aggs.iter().map(|a| a.name.clone()));
    let mut seen = HashSet::new();
    for c in &columns {
        if !seen.insert(c) {
            return Err(QueryError::DuplicateColumn(c.clone(), stage));
        }
    }

    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    for row in rows {
        // All key combinations this row belongs to.
        let mut keys: Vec<Vec<Value>> = vec![Vec::new()];
        if let Some(span) = span {
            let t = match lookup(&row, "@timestamp") {
                Some(Value::String(s)) => parse_time(s),
                Some(Value::Number(n)) => n.as_i64(),
                _ => None,
            };
            let Some(bucket) = t.and_then(|t| t.div_euclid(span).checked_mul(span)) else {
                continue;
            };
            keys[0].push(Value::from(bucket));
        }
        for f in by {
            let alts = key_alternatives(&row, f);
            let mut next = Vec::with_capacity(keys.len() * alts.len());
            for k in &keys {
                for a in &alts {
                    let mut k2 = k.clone();
                    k2.push(a.clone());
                    next.push(k2);
                }
            }
            keys = next;
        }
        for key in keys {
            let ck: Vec<String> = key.iter().map(canonical).collect();
            let gi = match index.get(&ck) {
                Some(&gi) => gi,
                None => {
                    groups.push(Group {
                        key,
                        states: aggs.iter().map(|a| State::new(a.func)).collect(),
                    });
                    index.insert(ck, groups.len() - 1);
                    groups.len() - 1
                }
            };
            let Some(g) = groups.get_mut(gi) else {
                continue;
            };
            for (st, agg) in g.states.iter_mut().zip(aggs) {
                match (&agg.field, st) {
                    (None, State::Count(c)) => *c += 1,
                    (Some(f), State::Count(c)) => {
                        if lookup(&row, f).is_some_and(|v| !v.is_null()) {
                            *c += 1;
                        }
                    }
                    (Some(f), st) => {
                        if let Some(v) = lookup(&row, f) {
                            for_each_elem(v, &mut |e| st.feed(e));
                        }
                    }
                    (None, _) => {}
                }
            }
        }
    }
    if groups.is_empty() && by.is_empty() && span.is_none() {
        // Like SPL: `stats count()` over nothing is one row with 0.
        groups.push(Group {
            key: Vec::new(),
            states: aggs.iter().map(|a| State::new(a.func)).collect(),
        });
    }
    groups.sort_by(|a, b| {
        a.key
            .iter()
            .zip(&b.key)
            .map(|(x, y)| sort_cmp(Some(x), Some(y), false))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let out = groups
        .into_iter()
        .map(|g| {
            let mut row = Doc::new();
            let mut key = g.key.into_iter();
            if span.is_some() {
                let t = key.next().and_then(|v| v.as_i64()).unwrap_or(0);
                row.insert("_time".to_string(), Value::String(format_time(t)));
            }
            for (f, v) in by.iter().zip(key) {
                row.insert(f.clone(), v);
            }
            for (agg, st) in aggs.iter().zip(g.states) {
                row.insert(agg.name.clone(), st.finish());
            }
            row
        })
        .collect();
    Ok((columns, out))
}

#[cfg(test)]
mod tests {
    use super::super::{parse, Query};
    use super::*;
    use serde_json::json;

    fn docs(v: Value) -> Vec<Doc> {
        match v {
            Value::Array(a) => a
                .into_iter()
                .map(|d| match d {
                    Value::Object(m) => m,
                    _ => panic!("not an object"),
                })
                .collect(),
            _ => panic!("not an array"),
        }
    }

    fn run(q: &str, rows: Vec<Doc>) -> Table {
        let q: Query = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let f = q.filter.clone();
        let it = rows
            .into_iter()
            .filter(move |d| f.as_ref().is_none_or(|e| matches(e, d)));
        run_stages(&q.stages, it).unwrap()
    }

    fn logins() -> Vec<Doc> {
        docs(json!([
            {"@timestamp":"2026-03-01T10:00:00.000Z","user.name":"bob","host.name":"web1","bytes":10,"event.code":"4625"},
            {"@timestamp":"2026-03-01T10:04:59.999Z","user.name":"alice","host.name":"web2","bytes":"20","event.code":"4625"},
            {"@timestamp":"2026-03-01T10:05:00.000Z","user.name":"bob","host.name":"web1","bytes":1.5,"event.code":"4624"},
            {"@timestamp":"2026-03-01T10:12:00.000Z","user.name":["bob","carol"],"host.name":"web1","bytes":"n/a"},
            {"@timestamp":"2026-03-01T10:13:00.000Z","host.name":"web2"},
        ]))
    }

    #[test]
    fn raw_rows_columns_in_first_appearance_order() {
        let t = run("", docs(json!([{"b":1,"@timestamp":"t"},{"c":2,"b":3}])));
        assert_eq!(t.columns, ["@timestamp", "b", "c"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!("t"), json!(1), Value::Null],
                vec![Value::Null, json!(3), json!(2)]
            ]
        );
        let t = run("", docs(json!([{"b":1}])));
        assert_eq!(t.columns, ["b"]);
        let t = run("", Vec::new());
        assert!(t.columns.is_empty() && t.rows.is_empty());
    }

    #[test]
    fn fields_stage_sets_columns() {
        let t = run("| fields host.name, nope", logins());
        assert_eq!(t.columns, ["host.name", "nope"]);
        assert_eq!(t.rows.len(), 5);
        assert_eq!(t.rows[0], vec![json!("web1"), Value::Null]);
    }

    #[test]
    fn where_stage() {
        let t = run("| where host.name == \"web2\" | fields user.name", logins());
        assert_eq!(t.rows, vec![vec![json!("alice")], vec![Value::Null]]);
    }

    #[test]
    fn stats_count_by_drops_missing_and_expands_arrays() {
        let t = run("| stats count() by user.name", logins());
        assert_eq!(t.columns, ["user.name", "count"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!("alice"), json!(1)],
                vec![json!("bob"), json!(3)],
                vec![json!("carol"), json!(1)]
            ]
        );
    }

    #[test]
    fn stats_all_aggs() {
        let t = run(
            "| stats count(), count(user.name), dc(user.name), min(bytes), max(bytes), avg(bytes), sum(bytes), values(user.name), min(user.name) as first by host.name",
            logins(),
        );
        assert_eq!(
            t.columns,
            [
                "host.name",
                "count",
                "count(user.name)",
                "dc(user.name)",
                "min(bytes)",
                "max(bytes)",
                "avg(bytes)",
                "sum(bytes)",
                "values(user.name)",
                "first"
            ]
        );
        assert_eq!(
            t.rows[0],
            vec![
                json!("web1"),
                json!(3),
                json!(3),
                json!(2),
                json!(1.5),
                json!(10),
                json!(5.75),
                json!(11.5),
                json!(["bob", "carol"]),
                json!("bob")
            ]
        );
        assert_eq!(
            t.rows[1],
            vec![
                json!("web2"),
                json!(2),
                json!(1),
                json!(1),
                json!(20),
                json!(20),
                json!(20.0),
                json!(20),
                json!(["alice"]),
                json!("alice")
            ]
        );
    }

    #[test]
    fn stats_without_rows_or_numbers() {
        let t = run(
            "| stats count(), sum(x), avg(x), min(x), values(x), dc(x)",
            Vec::new(),
        );
        assert_eq!(
            t.rows,
            vec![vec![
                json!(0),
                Value::Null,
                Value::Null,
                Value::Null,
                json!([]),
                json!(0)
            ]]
        );
        let t = run("| stats count() by x", Vec::new());
        assert!(t.rows.is_empty());
        let t = run(
            "| stats sum(x), max(x)",
            docs(json!([{"x":"a"},{"x":"b"},{"x":true}])),
        );
        assert_eq!(t.rows, vec![vec![Value::Null, json!("b")]]);
    }

    #[test]
    fn stats_sum_overflow_falls_back_to_float() {
        let t = run("| stats sum(x)", docs(json!([{"x":i64::MAX},{"x":1}])));
        assert!(t.rows[0][0].is_f64());
    }

    #[test]
    fn values_sorted_distinct_capped() {
        let rows: Vec<Doc> = (0..150)
            .rev()
            .map(|i| docs(json!([{"v": format!("v{i:03}"), "n": [i % 3, "x"]}])).remove(0))
            .collect();
        let t = run("| stats values(v), values(n)", rows);
        let vs = t.rows[0][0].as_array().unwrap();
        assert_eq!(vs.len(), 100);
        assert_eq!(vs[0], json!("v000"));
        assert_eq!(vs[99], json!("v099"));
        assert_eq!(t.rows[0][1], json!([0, 1, 2, "x"]));
    }

    #[test]
    fn stats_multiple_by_fields_sorted() {
        let t = run("| stats count() as n by host.name, event.code", logins());
        assert_eq!(t.columns, ["host.name", "event.code", "n"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!("web1"), json!("4624"), json!(1)],
                vec![json!("web1"), json!("4625"), json!(1)],
                vec![json!("web2"), json!("4625"), json!(1)],
            ]
        );
    }

    #[test]
    fn timechart_buckets() {
        let t = run("| timechart span=5m count() by host.name", logins());
        assert_eq!(t.columns, ["_time", "host.name", "count"]);
        assert_eq!(
            t.rows,
            vec![
                vec![json!("2026-03-01T10:00:00.000Z"), json!("web1"), json!(1)],
                vec![json!("2026-03-01T10:00:00.000Z"), json!("web2"), json!(1)],
                vec![json!("2026-03-01T10:05:00.000Z"), json!("web1"), json!(1)],
                vec![json!("2026-03-01T10:10:00.000Z"), json!("web1"), json!(1)],
                vec![json!("2026-03-01T10:10:00.000Z"), json!("web2"), json!(1)],
            ]
        );
        let t = run("| timechart count(), dc(user.name)", logins());
        assert_eq!(t.columns, ["_time", "count", "dc(user.name)"]);
        assert_eq!(
            t.rows,
            vec![vec![json!("2026-03-01T10:00:00.000Z"), json!(5), json!(3)]]
        );
        let t = run(
            "| timechart span=1d count()",
            docs(json!([{"@timestamp":"bad"},{"@timestamp":1772359200000i64}])),
        );
        assert_eq!(
            t.rows,
            vec![vec![json!("2026-03-01T00:00:00.000Z"), json!(1)]]
        );
    }

    #[test]
    fn sort_numbers_strings_nulls() {
        let rows = docs(
            json!([{"k":"b","i":0},{"k":10,"i":1},{"i":2},{"k":"a","i":3},{"k":"9","i":4},{"k":null,"i":5},{"k":2,"i":6},{"k":2,"i":7}]),
        );
        let t = run("| sort k | fields i", rows.clone());
        let order: Vec<i64> = t.rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
        assert_eq!(order, [6, 7, 4, 1, 3, 0, 2, 5]);
        let t = run("| sort k desc | fields i", rows.clone());
        let order: Vec<i64> = t.rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
        assert_eq!(order, [1, 4, 6, 7, 0, 3, 2, 5]);
        // sort + head uses a bounded buffer and must agree with full sort.
        let t = run("| sort k desc | head 3 | fields i", rows.clone());
        let order: Vec<i64> = t.rows.iter().map(|r| r[0].as_i64().unwrap()).collect();
        assert_eq!(order, [1, 4, 6]);
        let t = run("| sort k | head 0", rows);
        assert!(t.rows.is_empty());
    }

    #[test]
    fn sort_multiple_keys() {
        let rows = docs(json!([{"a":1,"b":"x"},{"a":1,"b":"y"},{"a":0,"b":"z"}]));
        let t = run("| sort a desc, b desc", rows);
        assert_eq!(t.rows[0], vec![json!(1), json!("y")]);
        assert_eq!(t.rows[2], vec![json!(0), json!("z")]);
    }

    struct Bomb {
        n: usize,
        limit: usize,
    }
    impl Iterator for Bomb {
        type Item = Doc;
        fn next(&mut self) -> Option<Doc> {
            assert!(self.n < self.limit, "pulled too many rows");
            self.n += 1;
            let mut d = Doc::new();
            d.insert("i".into(), json!(self.n));
            Some(d)
        }
    }

    #[test]
    fn head_stops_pulling_early() {
        let q = parse("| head 5 | sort i desc").unwrap();
        let t = run_stages(&q.stages, Bomb { n: 0, limit: 5 }).unwrap();
        assert_eq!(t.rows.len(), 5);
        assert_eq!(t.rows[0], vec![json!(5)]);
        let q = parse("| where i > 2 | fields i | head 3").unwrap();
        let t = run_stages(&q.stages, Bomb { n: 0, limit: 5 }).unwrap();
        assert_eq!(t.rows, vec![vec![json!(3)], vec![json!(4)], vec![json!(5)]]);
        let q = parse("| head").unwrap();
        let t = run_stages(&q.stages, Bomb { n: 0, limit: 10 }).unwrap();
        assert_eq!(t.rows.len(), 10);
    }

    #[test]
    fn stages_after_stats() {
        let t = run(
            "| stats count() by user.name | where count > 1 | fields count",
            logins(),
        );
        assert_eq!(t.columns, ["count"]);
        assert_eq!(t.rows, vec![vec![json!(3)]]);
        let t = run(
            "| stats count() by user.name | sort count desc, user.name | head 2",
            logins(),
        );
        assert_eq!(
            t.rows,
            vec![vec![json!("bob"), json!(3)], vec![json!("alice"), json!(1)]]
        );
    }

    #[test]
    fn stages_on_an_existing_table() {
        let t = Table {
            columns: vec!["user.name".into(), "count".into()],
            rows: vec![vec![json!("bob"), json!(1)], vec![json!("alice"), json!(3)]],
        };
        let out = run_stages_on_table(&[], t.clone()).unwrap();
        assert_eq!(out, t);
        let q = parse("| sort count desc | head 1").unwrap();
        let out = run_stages_on_table(&q.stages, t).unwrap();
        assert_eq!(out.columns, ["user.name", "count"]);
        assert_eq!(out.rows, vec![vec![json!("alice"), json!(3)]]);
    }

    #[test]
    fn runtime_errors() {
        let s = [Stage::Timechart {
            span_ms: 0,
            aggs: vec![],
            by: None,
        }];
        assert_eq!(
            run_stages(&s, std::iter::empty()),
            Err(QueryError::BadSpan(0))
        );
        let s = [Stage::Stats {
            aggs: vec![],
            by: vec![],
        }];
        assert!(matches!(
            run_stages(&s, std::iter::empty()),
            Err(QueryError::NoAggregations("stats"))
        ));
        let q = parse("| stats count() as x, dc(y) as x").unwrap();
        assert!(matches!(
            run_stages(&q.stages, std::iter::empty()),
            Err(QueryError::DuplicateColumn(..))
        ));
    }
}

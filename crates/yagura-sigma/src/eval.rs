//! Evaluating a [`Plan`] on one event.
//!
//! Per event: bind the record's fields to plan field ids (one hash lookup per field), pick the
//! buckets of the event's logsource key, run each bucket's field automata once, then evaluate only
//! the rules one of whose trigger literals was found (plus the few without literal triggers).
//! No heap allocation once a [`Scratch`] has grown to the largest event.

use crate::matcher::Matcher;
use crate::pattern::lowercase_into;
use crate::plan::{
    Action, Bucket, FieldScan, LiteralSet, Node, Plan, PredId, PredKind, RuleId, ANY, KEYWORD_FIELD,
};
use yagura_event::{Kind, Record};

const NONE: u32 = u32::MAX;

/// Values a worker prechecks per scan before it judges whether the precheck pays off.
const PRECHECK_TRIAL: u32 = 64;

/// Per-worker reusable evaluation state. Create one per thread with [`Plan::scratch`].
#[derive(Debug, Default)]
pub struct Scratch {
    cur_bucket: u32,
    scan_done: Vec<u32>,
    /// Per scan: values prechecked, and how many passed (see `apply`).
    precheck: Vec<(u32, u32)>,
    /// Per scan: bytes left to scan before its literal set moves to a DFA (see `apply`).
    tier_up: Vec<Option<u64>>,
    field_done: Vec<u64>,
    gen: u32,
    pred_stamp: Vec<u32>,
    pred_val: Vec<bool>,
    gate_stamp: Vec<u32>,
    slot_stamp: Vec<u32>,
    slot_first: Vec<u32>,
    slot_last: Vec<u32>,
    next: Vec<u32>,
    variant_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    hits: Vec<PredId>,
    cands: Vec<u32>,
    fold: String,
    /// Lower-cased values of this event's entries, computed at most once per entry.
    lower: String,
    lower_stamp: Vec<u32>,
    lower_span: Vec<(u32, u32)>,
    hay: Vec<u8>,
    /// The whole record text, ASCII lower-cased, for keyword prefilters (`raw_stamp` = event).
    raw: Vec<u8>,
    raw_stamp: u32,
    /// The record text holds a character whose lower case is ASCII but which is not ASCII.
    raw_special: bool,
    key: String,
    k0: String,
    k1: String,
    buckets: [u32; 4],
}

impl Plan {
    /// Per scan (in id order), the bytes a worker scans before its set moves to a DFA.
    fn tier_up_budgets(&self) -> Vec<Option<u64>> {
        let scans = self.buckets.iter().flat_map(|b| &b.scans);
        debug_assert!(scans.clone().enumerate().all(|(i, sc)| sc.id as usize == i));
        scans.map(|sc| sc.contains.tier_up_after()).collect()
    }

    /// A scratch state sized for this plan.
    pub fn scratch(&self) -> Scratch {
        let scans = self.buckets.iter().map(|b| b.scans.len()).sum();
        Scratch {
            scan_done: vec![0; scans],
            precheck: vec![(0, 0); scans],
            tier_up: self.tier_up_budgets(),
            field_done: vec![0; self.field_names.len() + 1],
            gen: 0,
            pred_stamp: vec![0; self.preds.len()],
            pred_val: vec![false; self.preds.len()],
            gate_stamp: vec![0; self.preds.len()],
            slot_stamp: vec![0; self.field_names.len()],
            slot_first: vec![NONE; self.field_names.len()],
            slot_last: vec![NONE; self.field_names.len()],
            variant_stamp: vec![0; self.variants.len()],
            rule_stamp: vec![0; self.rule_count],
            ..Default::default()
        }
    }

    /// Appends to `out` the ids of the rules that match `rec` (each at most once).
    pub fn evaluate(&self, rec: &Record, s: &mut Scratch, out: &mut Vec<RuleId>) {
        s.gen = s.gen.wrapping_add(1);
        if s.gen == 0 {
            // Stamps wrapped around: forget everything once every 4 billion events.
            *s = self.scratch();
            s.gen = 1;
        }
        let gen = s.gen;
        self.bind(rec, s);
        let n = self.lookup_buckets(rec, s);
        for i in 0..n {
            s.cur_bucket = s.buckets[i];
            let b = &self.buckets[s.buckets[i] as usize];
            self.run_bucket(b, rec, s, out, gen);
        }
    }

    fn bind(&self, rec: &Record, s: &mut Scratch) {
        let gen = s.gen;
        s.next.clear();
        s.next.resize(rec.len(), NONE);
        s.lower.clear();
        if s.lower_stamp.len() < rec.len() {
            s.lower_stamp.resize(rec.len(), 0);
            s.lower_span.resize(rec.len(), (0, 0));
        }
        for (i, key) in rec.keys().enumerate() {
            if let Some(&fid) = self.field_ids.get(key) {
                // Chains keep record order: the first value of a field is the one the event
                // states first (System's Channel before any UserData field of that name).
                let fid = fid as usize;
                if s.slot_stamp[fid] == gen {
                    let last = s.slot_last[fid] as usize;
                    s.next[last] = i as u32;
                } else {
                    s.slot_stamp[fid] = gen;
                    s.slot_first[fid] = i as u32;
                }
                s.slot_last[fid] = i as u32;
            }
        }
    }

    fn first_value<'r>(&self, rec: &'r Record, s: &Scratch, fid: u32) -> Option<&'r str> {
        let fid = fid as usize;
        if s.slot_stamp[fid] != s.gen {
            return None;
        }
        rec.value_at(s.slot_first[fid] as usize).map(|(v, _)| v)
    }

    fn lookup_buckets(&self, rec: &Record, s: &mut Scratch) -> usize {
        let mut n = 0;
        let v0 = self
            .index_fields
            .first()
            .and_then(|&f| self.first_value(rec, s, f));
        let v1 = self
            .index_fields
            .get(1)
            .and_then(|&f| self.first_value(rec, s, f));
        lowercase_into(v0.unwrap_or(ANY), &mut s.k0);
        lowercase_into(v1.unwrap_or(ANY), &mut s.k1);
        let two = self.index_fields.len() == 2;
        let combos: [(bool, bool); 4] =
            [(true, true), (true, false), (false, true), (false, false)];
        for (use0, use1) in combos {
            if (use0 && v0.is_none()) || (use1 && v1.is_none()) || (!two && use1) {
                continue;
            }
            s.key.clear();
            s.key.push_str(if use0 { &s.k0 } else { ANY });
            if two {
                s.key.push('\x1f');
                s.key.push_str(if use1 { &s.k1 } else { ANY });
            }
            if let Some(&b) = self.index.get(s.key.as_str()) {
                s.buckets[n] = b;
                n += 1;
            }
        }
        n
    }

    fn run_bucket(
        &self,
        b: &Bucket,
        rec: &Record,
        s: &mut Scratch,
        out: &mut Vec<RuleId>,
        gen: u32,
    ) {
        s.hits.clear();
        for scan in &b.scans {
            if scan.eager {
                scan_field(scan, rec, s, gen);
            }
        }
        s.cands.clear();
        for i in 0..s.hits.len() {
            let p = s.hits[i];
            if let Some(vs) = b.triggers.get(&p) {
                for &v in vs {
                    if s.variant_stamp[v as usize] != gen {
                        s.variant_stamp[v as usize] = gen;
                        s.cands.push(v);
                    }
                }
            }
        }
        for &v in &b.always {
            if s.variant_stamp[v as usize] != gen {
                s.variant_stamp[v as usize] = gen;
                s.cands.push(v);
            }
        }
        for i in 0..s.cands.len() {
            let var = &self.variants[s.cands[i] as usize];
            if s.rule_stamp[var.rule as usize] == gen {
                continue;
            }
            if self.eval_node(&var.node, rec, s) {
                s.rule_stamp[var.rule as usize] = gen;
                out.push(var.rule);
            }
        }
    }

    fn eval_node(&self, n: &Node, rec: &Record, s: &mut Scratch) -> bool {
        match n {
            Node::Const(b) => *b,
            Node::Pred(p) => self.pred(*p, rec, s),
            Node::Not(x) => !self.eval_node(x, rec, s),
            Node::And(v) => v.iter().all(|x| self.eval_node(x, rec, s)),
            Node::Or(v) => v.iter().any(|x| self.eval_node(x, rec, s)),
        }
    }

    fn pred(&self, p: PredId, rec: &Record, s: &mut Scratch) -> bool {
        let i = p as usize;
        if s.pred_stamp[i] == s.gen {
            return s.pred_val[i];
        }
        let pred = &self.preds[i];
        let val = match pred.kind {
            PredKind::Literal => {
                // Not set by the scans that ran: run this field's scan now if it has not run.
                self.ensure_scanned(pred, rec, s);
                s.pred_stamp[i] == s.gen && s.pred_val[i]
            }
            PredKind::Lazy if pred.gate.is_some() => {
                self.ensure_scanned(pred, rec, s);
                s.gate_stamp[i] == s.gen && self.compute(p, rec, s)
            }
            PredKind::Lazy => self.compute(p, rec, s),
        };
        s.pred_stamp[i] = s.gen;
        s.pred_val[i] = val;
        val
    }

    /// Runs the current bucket's scan of the predicate's field unless it already ran.
    fn ensure_scanned(&self, pred: &crate::plan::Pred, rec: &Record, s: &mut Scratch) {
        let field = pred.field.unwrap_or(KEYWORD_FIELD);
        // One stamp per field for (event, bucket): after the first look-up, asking again costs
        // a compare instead of a hash probe.
        let slot = pred.field.map_or(self.field_names.len(), |f| f as usize);
        let key = (u64::from(s.gen) << 32) | u64::from(s.cur_bucket + 1);
        if s.field_done[slot] == key {
            return;
        }
        s.field_done[slot] = key;
        let b = &self.buckets[s.cur_bucket as usize];
        if let Some(&k) = b.scan_of.get(&field) {
            let scan = &b.scans[k as usize];
            if s.scan_done[scan.id as usize] != s.gen {
                scan_field(scan, rec, s, s.gen);
            }
        }
    }

    /// Decides a predicate by looking at the event (cost: one pass over the field's values).
    fn compute(&self, p: PredId, rec: &Record, s: &mut Scratch) -> bool {
        let pred = &self.preds[p as usize];
        let Some(fid) = pred.field else {
            // Keyword: any value of the event.
            return (0..rec.len()).any(|i| self.value_matches(pred, rec, s, i));
        };
        let present = s.slot_stamp[fid as usize] == s.gen;
        match &pred.matcher {
            Matcher::Exists(want) => return present == *want,
            Matcher::Null => {
                return !present
                    || self
                        .chain(s, fid)
                        .any(|i| rec.value_at(i).is_some_and(|(_, k)| k == Kind::Null));
            }
            Matcher::FieldRef { mode, cased, .. } => {
                if !present {
                    return false;
                }
                // Any value of any event field the referenced Sigma field maps to (`chain` is
                // empty for a field the event lacks).
                return pred.ref_fields.iter().any(|&rf| {
                    self.chain(s, fid).any(|i| {
                        self.chain(s, rf)
                            .any(|j| match (rec.value_at(i), rec.value_at(j)) {
                                (Some((a, _)), Some((b, _))) => {
                                    Matcher::matches_ref(*mode, *cased, a, b)
                                }
                                _ => false,
                            })
                    })
                });
            }
            _ => {}
        }
        if !present {
            return false;
        }
        let mut e = s.slot_first[fid as usize];
        while e != NONE {
            let i = e as usize;
            e = s.next[i];
            if self.value_matches(pred, rec, s, i) {
                return true;
            }
        }
        false
    }

    fn value_matches(
        &self,
        pred: &crate::plan::Pred,
        rec: &Record,
        s: &mut Scratch,
        i: usize,
    ) -> bool {
        match &pred.matcher {
            Matcher::Str { pat, cased: false } => match lowered(rec, s, i) {
                Some((lo, hi)) => pat.matches(&s.lower[lo..hi]),
                None => false,
            },
            m => match rec.value_at(i) {
                Some((v, k)) if k != Kind::Null => m.matches_value(v, k, &mut s.fold),
                _ => false,
            },
        }
    }

    /// Entry indices of a field's values (no allocation).
    fn chain<'s>(&self, s: &'s Scratch, fid: u32) -> impl Iterator<Item = usize> + 's {
        let mut e = if s.slot_stamp[fid as usize] == s.gen {
            s.slot_first[fid as usize]
        } else {
            NONE
        };
        std::iter::from_fn(move || {
            if e == NONE {
                return None;
            }
            let i = e as usize;
            e = s.next[i];
            Some(i)
        })
    }
}

fn set_true(s: &mut Scratch, p: PredId, gen: u32) {
    s.pred_stamp[p as usize] = gen;
    s.pred_val[p as usize] = true;
    s.hits.push(p);
}

fn apply(set: &LiteralSet, scan: u32, hay: &[u8], s: &mut Scratch, gen: u32) {
    let Some(ac) = set.automaton() else { return };
    if set.precheck() {
        // The precheck pays off when most values hold none of the literals. Each worker counts,
        // per scan, how often it passes; once it passes for most values it is dropped (the
        // result is the same either way, only the cost differs).
        let st = &mut s.precheck[scan as usize];
        if st.0 < PRECHECK_TRIAL || st.1 * 2 <= st.0 {
            st.0 += 1;
            if !set.filter().is_some_and(|f| f.is_match(hay)) {
                return;
            }
            s.precheck[scan as usize].1 += 1;
        }
    }
    if let Some(left) = &mut s.tier_up[scan as usize] {
        *left = left.saturating_sub(hay.len() as u64);
        if *left == 0 {
            s.tier_up[scan as usize] = None;
            set.tier_up();
        }
    }
    for m in ac.find_overlapping_iter(hay) {
        for a in &set.actions[m.pattern().as_usize()] {
            match *a {
                Action::Set(p) => set_true(s, p, gen),
                Action::Gate(p) => {
                    s.gate_stamp[p as usize] = gen;
                    s.hits.push(p);
                }
            }
        }
    }
}

/// Runs a field's scan over each of its values.
fn scan_field(scan: &FieldScan, rec: &Record, s: &mut Scratch, gen: u32) {
    s.scan_done[scan.id as usize] = gen;
    let keyword = scan.field == KEYWORD_FIELD;
    let fid = scan.field as usize;
    if !keyword && s.slot_stamp[fid] != gen {
        return;
    }
    if keyword {
        scan_keywords(scan, rec, s, gen);
        return;
    }
    let mut e = s.slot_first[fid];
    while e != NONE && (e as usize) < rec.len() {
        let i = e as usize;
        e = s.next[i];
        let Some((lo, hi)) = lowered(rec, s, i) else {
            continue;
        };
        scan_value(scan, lo, hi, s, gen);
    }
}

/// Separates values in the keyword haystack: 0xFF never occurs in UTF-8 text, so no literal can
/// match across two values.
const SEP: u8 = 0xFF;

/// Keyword search: every value of the event, lower-cased and joined, searched in one automaton
/// pass (keyword literals are all substrings). Cost: one pass over the event's text.
fn scan_keywords(scan: &FieldScan, rec: &Record, s: &mut Scratch, gen: u32) {
    if scan.contains.is_empty() || !keywords_may_occur(&scan.contains, rec, s, gen) {
        return;
    }
    let mut hay = std::mem::take(&mut s.hay);
    hay.clear();
    for i in 0..rec.len() {
        if let Some((lo, hi)) = lowered(rec, s, i) {
            hay.extend_from_slice(&s.lower.as_bytes()[lo..hi]);
            hay.push(SEP);
        }
    }
    apply(&scan.contains, scan.id, &hay, s, gen);
    s.hay = hay;
}

/// A cheap superset test for keyword sets: one SIMD search over the whole record text (keys
/// too), ASCII lower-cased once per event, instead of lower-casing and joining every value.
fn keywords_may_occur(set: &LiteralSet, rec: &Record, s: &mut Scratch, gen: u32) -> bool {
    if !set.precheck() || !set.ascii() {
        return true;
    }
    let Some(filter) = set.filter() else {
        return true;
    };
    if s.raw_stamp != gen {
        s.raw_stamp = gen;
        s.raw.clear();
        s.raw.extend_from_slice(rec.all_text().as_bytes());
        s.raw.make_ascii_lowercase();
        // U+0130 and U+212A lower-case to ASCII letters, which ASCII lower-casing misses.
        s.raw_special = !s.raw.is_ascii()
            && (memchr::memmem::find(&s.raw, "\u{130}".as_bytes()).is_some()
                || memchr::memmem::find(&s.raw, "\u{212a}".as_bytes()).is_some());
    }
    s.raw_special || filter.is_match(&s.raw)
}

/// Runs one field scan over one lower-cased value `s.lower[lo..hi]`.
/// Cost: one hash lookup, two start-anchored walks and one full automaton pass.
fn scan_value(scan: &FieldScan, lo: usize, hi: usize, s: &mut Scratch, gen: u32) {
    let lower = std::mem::take(&mut s.lower);
    let text = &lower[lo..hi];
    if let Some(ps) = scan.exact.get(text) {
        for &p in ps {
            set_true(s, p, gen);
        }
    }
    if !scan.prefix.is_empty() {
        scan.prefix.walk(text.bytes(), |p| set_true(s, p, gen));
    }
    if !scan.suffix.is_empty() {
        scan.suffix
            .walk(text.bytes().rev(), |p| set_true(s, p, gen));
    }
    if !scan.contains.is_empty() {
        apply(&scan.contains, scan.id, text.as_bytes(), s, gen);
    }
    s.lower = lower;
}

/// The lower-cased text of entry `i` (cached per event); `None` for null values.
fn lowered(rec: &Record, s: &mut Scratch, i: usize) -> Option<(usize, usize)> {
    if s.lower_stamp[i] == s.gen {
        let (lo, hi) = s.lower_span[i];
        return Some((lo as usize, hi as usize));
    }
    let (value, kind) = rec.value_at(i)?;
    if kind == Kind::Null {
        return None;
    }
    let lo = s.lower.len();
    crate::pattern::push_lowercase(&mut s.lower, value);
    let hi = s.lower.len();
    s.lower_stamp[i] = s.gen;
    s.lower_span[i] = (lo as u32, hi as u32);
    Some((lo, hi))
}

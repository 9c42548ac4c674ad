//! Evaluating a [`Plan`] on one event.
//!
//! Per event: bind the record's fields to plan field ids (one hash lookup per field), pick the
//! buckets of the event's logsource key, run each bucket's field automata once, then evaluate only
//! the rules one of whose trigger literals was found (plus the few without literal triggers).
//! No heap allocation once a [`Scratch`] has grown to the largest event.

use crate::matcher::Matcher;
use crate::pattern::{lowercase_into, Anchor};
use crate::plan::{Action, Bucket, Node, Plan, PredId, PredKind, RuleId, ANY};
use yagura_event::{Kind, Record};

const NONE: u32 = u32::MAX;

/// Per-worker reusable evaluation state. Create one per thread with [`Plan::scratch`].
#[derive(Debug, Default)]
pub struct Scratch {
    gen: u32,
    pred_stamp: Vec<u32>,
    pred_val: Vec<bool>,
    gate_stamp: Vec<u32>,
    slot_stamp: Vec<u32>,
    slot_first: Vec<u32>,
    next: Vec<u32>,
    variant_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    hits: Vec<PredId>,
    cands: Vec<u32>,
    fold: String,
    fold2: String,
    key: String,
    k0: String,
    k1: String,
    buckets: [u32; 4],
}

impl Plan {
    /// A scratch state sized for this plan.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            gen: 0,
            pred_stamp: vec![0; self.preds.len()],
            pred_val: vec![false; self.preds.len()],
            gate_stamp: vec![0; self.preds.len()],
            slot_stamp: vec![0; self.field_names.len()],
            slot_first: vec![NONE; self.field_names.len()],
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
            let b = &self.buckets[s.buckets[i] as usize];
            self.run_bucket(b, rec, s, out, gen);
        }
    }

    fn bind(&self, rec: &Record, s: &mut Scratch) {
        let gen = s.gen;
        s.next.clear();
        s.next.resize(rec.len(), NONE);
        for (i, f) in rec.fields().enumerate() {
            if let Some(&fid) = self.field_ids.get(f.key) {
                let fid = fid as usize;
                if s.slot_stamp[fid] == gen {
                    s.next[i] = s.slot_first[fid];
                } else {
                    s.slot_stamp[fid] = gen;
                }
                s.slot_first[fid] = i as u32;
            }
        }
    }

    fn first_value<'r>(&self, rec: &'r Record, s: &Scratch, fid: u32) -> Option<&'r str> {
        let fid = fid as usize;
        if s.slot_stamp[fid] != s.gen {
            return None;
        }
        rec.at(s.slot_first[fid] as usize).map(|f| f.value)
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
            let fid = scan.field as usize;
            if s.slot_stamp[fid] != gen {
                continue;
            }
            let Some(ac) = scan.automaton() else { continue };
            let mut e = s.slot_first[fid];
            while e != NONE {
                let Some(f) = rec.at(e as usize) else { break };
                e = s.next[e as usize];
                if f.kind == Kind::Null {
                    continue;
                }
                let text = lowercase_into(f.value, &mut s.fold);
                let len = text.len();
                for m in ac.find_overlapping_iter(text) {
                    for a in &scan.actions[m.pattern().as_usize()] {
                        match *a {
                            Action::Anchored(p, anchor) => {
                                let ok = match anchor {
                                    Anchor::Contains => true,
                                    Anchor::Prefix => m.start() == 0,
                                    Anchor::Suffix => m.end() == len,
                                    Anchor::Exact => m.start() == 0 && m.end() == len,
                                };
                                if ok {
                                    s.pred_stamp[p as usize] = gen;
                                    s.pred_val[p as usize] = true;
                                    s.hits.push(p);
                                }
                            }
                            Action::Gate(p) => s.gate_stamp[p as usize] = gen,
                        }
                    }
                }
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
            PredKind::Literal => false,
            PredKind::Lazy { gated: true } if s.gate_stamp[i] != s.gen => false,
            PredKind::Lazy { .. } => self.compute(p, rec, s),
        };
        s.pred_stamp[i] = s.gen;
        s.pred_val[i] = val;
        val
    }

    /// Decides a predicate by looking at the event (cost: one pass over the field's values).
    fn compute(&self, p: PredId, rec: &Record, s: &mut Scratch) -> bool {
        let pred = &self.preds[p as usize];
        let Some(fid) = pred.field else {
            // Keyword: any value of the event.
            return rec.fields().any(|f| {
                f.kind != Kind::Null && pred.matcher.matches_value(f.value, f.kind, &mut s.fold)
            });
        };
        let present = s.slot_stamp[fid as usize] == s.gen;
        match &pred.matcher {
            Matcher::Exists(want) => return present == *want,
            Matcher::Null => {
                if !present {
                    return true;
                }
                return self
                    .values(rec, s, fid)
                    .into_iter()
                    .any(|(_, k)| k == Kind::Null);
            }
            Matcher::FieldRef { mode, cased, .. } => {
                let Some(rf) = pred.ref_field else {
                    return false;
                };
                if !present || s.slot_stamp[rf as usize] != s.gen {
                    return false;
                }
                let ours: Vec<&str> = self
                    .values(rec, s, fid)
                    .into_iter()
                    .map(|(v, _)| v)
                    .collect();
                let theirs: Vec<&str> = self
                    .values(rec, s, rf)
                    .into_iter()
                    .map(|(v, _)| v)
                    .collect();
                return ours.iter().any(|a| {
                    theirs
                        .iter()
                        .any(|b| Matcher::matches_ref(*mode, *cased, a, b))
                });
            }
            _ => {}
        }
        if !present {
            return false;
        }
        let mut e = s.slot_first[fid as usize];
        while e != NONE {
            let Some(f) = rec.at(e as usize) else { break };
            e = s.next[e as usize];
            if pred.matcher.matches_value(f.value, f.kind, &mut s.fold2) {
                return true;
            }
        }
        false
    }

    fn values<'r>(&self, rec: &'r Record, s: &Scratch, fid: u32) -> Vec<(&'r str, Kind)> {
        let mut out = Vec::new();
        if s.slot_stamp[fid as usize] != s.gen {
            return out;
        }
        let mut e = s.slot_first[fid as usize];
        while e != NONE {
            let Some(f) = rec.at(e as usize) else { break };
            out.push((f.value, f.kind));
            e = s.next[e as usize];
        }
        out
    }
}

//! The compiled evaluation plan: rules indexed by logsource key, deduplicated leaf predicates,
//! one multi-pattern automaton per (bucket, field) and small condition programs.
//!
//! See `DESIGN.md` in this crate for the shape and its costs.

use crate::detection::{Expr, Leaf};
use crate::matcher::Matcher;
use crate::pattern::{Anchor, Pattern};
use crate::pipeline::{LogsourceEntry, Pipeline};
use crate::ruleset::RuleSet;
use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};

/// Index of a rule in its [`RuleSet`].
pub type RuleId = u32;
pub(crate) type PredId = u32;
pub(crate) type FieldId = u32;

/// A boolean program over predicates.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Pred(PredId),
    Const(bool),
}

/// How a predicate is decided during evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PredKind {
    /// A literal fed to the field automaton; unset after the scan means false.
    Literal,
    /// Evaluated on demand; when the predicate has a [`Pred::gate`], only once the scan has seen
    /// that literal.
    Lazy,
}

#[derive(Debug)]
pub(crate) struct Pred {
    /// Event field; `None` for keyword predicates (every value of the event).
    pub field: Option<FieldId>,
    pub matcher: Matcher,
    /// Field ids of a `fieldref` target (every event field its Sigma name maps to).
    pub ref_fields: Box<[FieldId]>,
    pub kind: PredKind,
    /// For gated predicates: the lower-case literal every match contains.
    pub gate: Option<String>,
    /// For a literal group (an `or` of literal predicates of one field): its members. The
    /// scans set the group directly, so the `or` costs one look-up instead of one per member.
    /// A group's `matcher` is its first member's and is not used.
    pub members: Box<[PredId]>,
}

/// What a literal found by an automaton means for its predicate.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Action {
    /// The predicate holds.
    Set(PredId),
    /// The predicate's longest literal is present: it may hold (decided lazily).
    Gate(PredId),
}

/// Literals searched one way (start-anchored or anywhere), with their automaton.
#[derive(Debug, Default)]
pub(crate) struct LiteralSet {
    /// Literal -> its position (while the plan is compiled; emptied by [`LiteralSet::share`]).
    index: FxHashMap<Vec<u8>, usize>,
    /// Per literal: what finding it means.
    pub actions: Vec<Vec<Action>>,
    /// The literals and their automata, shared by every set of the plan with the same literals
    /// (e.g. `CommandLine` in the Sysmon 1 and Security 4688 buckets).
    automata: Arc<Automata>,
}

/// Literals and the automata over them, built on first use (or by [`Plan::warm`]): start-up
/// only pays for buckets events reach.
#[derive(Clone, Debug, Default)]
struct Automata {
    literals: Vec<Vec<u8>>,
    /// Every literal is ASCII.
    ascii: bool,
    /// Sum of the literals' lengths.
    bytes: usize,
    ac: OnceLock<Option<AhoCorasick>>,
    /// The DFA a large set moves to once it has scanned enough text (see
    /// [`LiteralSet::tier_up`]); `tiering` is set by the one thread that builds it.
    dfa: OnceLock<Option<AhoCorasick>>,
    tiering: OnceLock<()>,
    /// For the "does any literal occur" test of small sets: leftmost-first semantics give the
    /// automaton a SIMD (Teddy) prefilter, which the overlapping automaton cannot have.
    filter: OnceLock<Option<AhoCorasick>>,
}

/// Automata by literal list, while a plan is compiled.
type AutomataCache = FxHashMap<Vec<Vec<u8>>, Arc<Automata>>;

impl LiteralSet {
    fn add(&mut self, lit: Vec<u8>, action: Action) {
        let i = match self.index.get(&lit) {
            Some(&i) => i,
            None => {
                let literals = &mut Arc::make_mut(&mut self.automata).literals;
                literals.push(lit.clone());
                self.actions.push(Vec::new());
                self.index.insert(lit, literals.len() - 1);
                literals.len() - 1
            }
        };
        self.actions[i].push(action);
    }

    /// Ends compilation of the set: its automata are the ones of an equal literal list seen
    /// before, if any.
    fn share(&mut self, cache: &mut AutomataCache) {
        self.index = FxHashMap::default();
        if let Some(a) = cache.get(&self.automata.literals) {
            self.automata = Arc::clone(a);
            return;
        }
        let a = Arc::make_mut(&mut self.automata);
        a.ascii = a.literals.iter().all(|l| l.is_ascii());
        a.bytes = a.literals.iter().map(Vec::len).sum();
        cache.insert(a.literals.clone(), Arc::clone(&self.automata));
    }

    /// True when there is nothing to search.
    pub fn is_empty(&self) -> bool {
        self.automata.literals.is_empty()
    }

    /// True when a quick "does any literal occur" test should run before the overlapping scan:
    /// small sets get a SIMD prefilter for that test, and most values contain none of them.
    pub fn precheck(&self) -> bool {
        self.automata.literals.len() <= PRECHECK_MAX_LITERALS
    }

    /// True when every literal is ASCII: then ASCII lower-casing is enough for the filter (only
    /// U+0130 and U+212A lower-case to ASCII letters; callers check for those).
    pub fn ascii(&self) -> bool {
        self.automata.ascii
    }

    /// The automaton answering "does any literal occur" (see [`LiteralSet::precheck`]).
    pub fn filter(&self) -> Option<&AhoCorasick> {
        let literals = &self.automata.literals;
        self.automata
            .filter
            .get_or_init(|| {
                // Small sets: a DFA (cheap to build) confirms Teddy's candidates fastest. Sets of
                // 128-500 literals: a contiguous NFA; their DFAs took more time to build than a
                // hunt saved with them (build all: 400 -> 280 ms, evaluation +1%, callgrind).
                let kind = if literals.len() < TEDDY_MAX_LITERALS {
                    aho_corasick::AhoCorasickKind::DFA
                } else {
                    aho_corasick::AhoCorasickKind::ContiguousNFA
                };
                AhoCorasick::builder()
                    .kind(Some(kind))
                    .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                    .build(literals)
                    .ok()
            })
            .as_ref()
    }

    /// The automaton over the lower-case literals: a DFA for small sets; for larger ones a
    /// contiguous NFA until [`LiteralSet::tier_up`] has built their DFA.
    pub fn automaton(&self) -> Option<&AhoCorasick> {
        let a = &*self.automata;
        if let Some(dfa) = a.dfa.get() {
            return dfa.as_ref();
        }
        a.ac.get_or_init(|| {
            let kind = if a.bytes <= DFA_LITERAL_BYTES {
                aho_corasick::AhoCorasickKind::DFA
            } else {
                aho_corasick::AhoCorasickKind::ContiguousNFA
            };
            AhoCorasick::builder()
                .kind(Some(kind))
                .build(&a.literals)
                .ok()
        })
        .as_ref()
    }

    /// Bytes a worker scans with this set's NFA before [`LiteralSet::tier_up`] pays off: a
    /// DFA scans faster, but building it costs about as much as scanning
    /// [`TIER_UP_BYTES_PER_LITERAL_BYTE`] bytes per literal byte with the NFA. `None` when the
    /// set starts as a DFA.
    pub fn tier_up_after(&self) -> Option<u64> {
        (self.automata.bytes > DFA_LITERAL_BYTES)
            .then(|| (self.automata.bytes as u64).saturating_mul(TIER_UP_BYTES_PER_LITERAL_BYTE))
    }

    /// Builds the set's DFA, which [`LiteralSet::automaton`] returns from then on. The first
    /// caller builds it; other callers return at once and go on with the NFA meanwhile.
    pub fn tier_up(&self) {
        let a = &*self.automata;
        if a.tiering.set(()).is_err() {
            return;
        }
        let dfa = AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(&a.literals)
            .ok();
        let _ = a.dfa.set(dfa);
    }
}

/// Start-anchored literals: a byte trie walked from the first byte of the value until it falls
/// off (aho-corasick has no anchored overlapping search). Cost: one hash probe per byte walked.
#[derive(Debug, Default)]
pub(crate) struct Trie {
    edges: FxHashMap<(u32, u8), u32>,
    /// Per node: the predicates that hold when the walk reaches it.
    actions: Vec<Vec<PredId>>,
}

impl Trie {
    fn add(&mut self, lit: &[u8], p: PredId) {
        if self.actions.is_empty() {
            self.actions.push(Vec::new());
        }
        let mut node = 0u32;
        for &b in lit {
            node = match self.edges.get(&(node, b)) {
                Some(&n) => n,
                None => {
                    let n = self.actions.len() as u32;
                    self.actions.push(Vec::new());
                    self.edges.insert((node, b), n);
                    n
                }
            };
        }
        self.actions[node as usize].push(p);
    }

    /// True when there is nothing to search.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// Calls `f` for every predicate whose literal is a prefix of `hay`.
    pub fn walk(&self, hay: impl Iterator<Item = u8>, mut f: impl FnMut(PredId)) {
        let mut node = 0u32;
        for b in hay {
            match self.edges.get(&(node, b)) {
                Some(&n) => {
                    node = n;
                    for &p in &self.actions[n as usize] {
                        f(p);
                    }
                }
                None => return,
            }
        }
    }
}

/// Everything one bucket looks for in one field: whole values by hash, prefixes and suffixes by
/// start-anchored automata (suffixes on the reversed value), substrings by one full scan.
#[derive(Debug)]
pub(crate) struct FieldScan {
    pub field: FieldId,
    /// Index among all scans of the plan (for per-event "done" stamps).
    pub id: u32,
    /// Scanned for every event of the bucket because rule triggers live here; other scans run
    /// only when a candidate rule asks for one of their predicates.
    pub eager: bool,
    pub exact: FxHashMap<Box<str>, Vec<PredId>>,
    pub prefix: Trie,
    /// Reversed literals, walked from the end of the value.
    pub suffix: Trie,
    pub contains: LiteralSet,
}

impl FieldScan {
    /// Registers the literal of a literal predicate's matcher: finding it sets `p`.
    fn add_literal(&mut self, m: &Matcher, p: PredId) {
        let Matcher::Str { pat, .. } = m else {
            return;
        };
        match pat.simple() {
            Some((lit, Anchor::Exact)) => self.exact.entry(lit.into()).or_default().push(p),
            Some((lit, Anchor::Prefix)) => self.prefix.add(lit.as_bytes(), p),
            Some((lit, Anchor::Suffix)) => {
                let rev: Vec<u8> = lit.bytes().rev().collect();
                self.suffix.add(&rev, p)
            }
            Some((lit, Anchor::Contains)) => {
                self.contains.add(lit.as_bytes().to_vec(), Action::Set(p))
            }
            None => {}
        }
    }

    fn new(field: FieldId) -> Self {
        FieldScan {
            field,
            id: 0,
            eager: false,
            exact: FxHashMap::default(),
            prefix: Trie::default(),
            suffix: Trie::default(),
            contains: LiteralSet::default(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Bucket {
    pub scans: Vec<FieldScan>,
    /// Field → index in `scans`.
    pub scan_of: FxHashMap<FieldId, u32>,
    /// Variants that can only match when one of their trigger predicates is true.
    pub triggers: FxHashMap<PredId, Vec<u32>>,
    /// Variants without a literal trigger: evaluated for every event of the bucket.
    pub always: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct Variant {
    pub rule: RuleId,
    pub node: Node,
}

/// Counts that describe a plan.
#[derive(Clone, Debug, Default)]
pub struct PlanStats {
    /// Rules placed in at least one bucket.
    pub active_rules: usize,
    /// Rules whose logsource the pipeline does not serve (they cannot match these events).
    pub inactive_rules: usize,
    /// Compiled (rule, logsource entry) programs.
    pub variants: usize,
    /// Distinct leaf predicates after deduplication.
    pub predicates: usize,
    /// Predicates decided by the automata.
    pub literal_predicates: usize,
    /// Buckets (distinct logsource keys).
    pub buckets: usize,
    /// Automata built.
    pub automata: usize,
    /// Variants without a literal trigger (evaluated for every event of their bucket).
    pub untriggered_variants: usize,
}

/// A compiled plan for one pipeline.
#[derive(Debug)]
pub struct Plan {
    pub(crate) pipeline: String,
    pub(crate) field_ids: FxHashMap<Box<str>, FieldId>,
    pub(crate) field_names: Vec<Box<str>>,
    pub(crate) preds: Vec<Pred>,
    pub(crate) variants: Vec<Variant>,
    pub(crate) buckets: Vec<Bucket>,
    /// Bucket key (`k0 \x1f k1`, lower case, `\0` for any) → bucket.
    pub(crate) index: FxHashMap<Box<str>, u32>,
    pub(crate) index_fields: Vec<FieldId>,
    pub(crate) rule_count: usize,
    pub(crate) inactive: Vec<RuleId>,
    pub(crate) stats: PlanStats,
}

pub(crate) const ANY: &str = "\0";
/// Literal sets up to this size are first tested with a non-overlapping (prefiltered) search
/// (callgrind: 500 beat 64 and 5,000 on the SigmaHQ rules and shared EVTX samples).
const PRECHECK_MAX_LITERALS: usize = 500;

/// Literal count below which aho-corasick's packed (Teddy) prefilter can serve a set, and its
/// filter automaton is built as a DFA.
const TEDDY_MAX_LITERALS: usize = 128;

/// Literal bytes up to which a field automaton is built as a DFA from the start. Larger sets
/// start as contiguous NFAs and get their DFA once a worker has scanned
/// [`TIER_UP_BYTES_PER_LITERAL_BYTE`] bytes per literal byte with them: DFAs of up to 30,000
/// literal bytes built up front cost a short hunt more than they saved (two copies of the
/// shared EVTX corpus, callgrind: 10.59 G instructions; 1,000 bytes: 10.16 G; none: 10.14 G),
/// while a long hunt scans enough to repay them.
const DFA_LITERAL_BYTES: usize = 1_000;

/// See [`DFA_LITERAL_BYTES`]. Building the DFA of a SigmaHQ set of 1,700-21,000 literal bytes
/// costs about 5,000 instructions per literal byte, and it scans about 3.5 instructions per byte
/// faster than the NFA (callgrind): it pays off after some 1,400 bytes scanned per literal byte.
const TIER_UP_BYTES_PER_LITERAL_BYTE: u64 = 2_048;

/// Pseudo field id of keyword scans: every value of the event.
pub(crate) const KEYWORD_FIELD: FieldId = u32::MAX;

/// What makes two predicates of one field the same.
#[derive(PartialEq, Eq, Hash)]
enum PredKey {
    /// A string matcher (hashing the pattern beats formatting it).
    Str(bool, Pattern),
    /// A literal group by its members.
    Group(Vec<PredId>),
    /// Any other matcher, by its dedup text.
    Text(String),
}

struct Builder<'p> {
    pipeline: &'p Pipeline,
    field_ids: FxHashMap<Box<str>, FieldId>,
    field_names: Vec<Box<str>>,
    pred_ids: FxHashMap<(Option<FieldId>, PredKey), PredId>,
    preds: Vec<Pred>,
}

impl Builder<'_> {
    fn field(&mut self, name: &str) -> FieldId {
        if let Some(&id) = self.field_ids.get(name) {
            return id;
        }
        let id = self.field_names.len() as FieldId;
        self.field_names.push(name.into());
        self.field_ids.insert(name.into(), id);
        id
    }

    fn pred(&mut self, field: Option<&str>, matcher: &Matcher) -> PredId {
        let fid = field.map(|f| self.field(f));
        let ref_fields: Box<[FieldId]> = match matcher {
            Matcher::FieldRef { field, .. } => self
                .pipeline
                .map_field(None, field)
                .iter()
                .map(|n| self.field(n))
                .collect(),
            _ => Box::default(),
        };
        let key = (
            fid,
            match matcher {
                Matcher::Str { pat, cased } => PredKey::Str(*cased, pat.clone()),
                m => PredKey::Text(m.dedup_key()),
            },
        );
        if let Some(&id) = self.pred_ids.get(&key) {
            return id;
        }
        let (kind, gate) = match matcher {
            Matcher::Str { pat, cased: false } => match pat.simple() {
                Some((lit, _)) if !lit.is_empty() => (PredKind::Literal, None),
                _ => (
                    PredKind::Lazy,
                    pat.longest_literal()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                ),
            },
            // A regex whose matches all contain some literal is only run when the field
            // automaton has seen that literal.
            Matcher::Regex(r) if fid.is_some() => {
                (PredKind::Lazy, r.required_literal().map(str::to_owned))
            }
            _ => (PredKind::Lazy, None),
        };
        let id = self.preds.len() as PredId;
        self.preds.push(Pred {
            field: fid,
            matcher: matcher.clone(),
            ref_fields,
            kind,
            gate,
            members: Box::default(),
        });
        self.pred_ids.insert(key, id);
        id
    }

    /// The literal group of `members` (literal predicates of one field, sorted).
    fn group(&mut self, members: Vec<PredId>) -> PredId {
        let first = &self.preds[members[0] as usize];
        let fid = first.field;
        let key = (fid, PredKey::Group(members.clone()));
        if let Some(&id) = self.pred_ids.get(&key) {
            return id;
        }
        let id = self.preds.len() as PredId;
        let matcher = first.matcher.clone();
        self.preds.push(Pred {
            field: fid,
            matcher,
            ref_fields: Box::default(),
            kind: PredKind::Literal,
            gate: None,
            members: members.into(),
        });
        self.pred_ids.insert(key, id);
        id
    }

    /// Replaces, in every `or`, the literal predicates of one field (two or more) by their
    /// group.
    fn group_literals(&mut self, n: Node) -> Node {
        match n {
            Node::And(v) => Node::And(
                v.into_vec()
                    .into_iter()
                    .map(|x| self.group_literals(x))
                    .collect(),
            ),
            Node::Not(x) => Node::Not(Box::new(self.group_literals(*x))),
            Node::Or(v) => {
                let mut by_field: Vec<(Option<FieldId>, Vec<PredId>)> = Vec::new();
                let mut rest = Vec::new();
                for k in v.into_vec() {
                    match k {
                        Node::Pred(p) if self.is_plain_literal(p) => {
                            let f = self.preds[p as usize].field;
                            match by_field.iter_mut().find(|(g, _)| *g == f) {
                                Some((_, ps)) => ps.push(p),
                                None => by_field.push((f, vec![p])),
                            }
                        }
                        k => rest.push(self.group_literals(k)),
                    }
                }
                let mut kids: Vec<Node> = Vec::with_capacity(by_field.len() + rest.len());
                for (_, mut ps) in by_field {
                    if ps.len() == 1 {
                        kids.push(Node::Pred(ps[0]));
                    } else {
                        ps.sort_unstable();
                        ps.dedup();
                        kids.push(Node::Pred(self.group(ps)));
                    }
                }
                kids.extend(rest);
                if kids.len() == 1 {
                    kids.remove(0)
                } else {
                    Node::Or(kids.into())
                }
            }
            other => other,
        }
    }

    fn is_plain_literal(&self, p: PredId) -> bool {
        let pred = &self.preds[p as usize];
        pred.kind == PredKind::Literal && pred.members.is_empty()
    }

    /// Maps Sigma field names through the pipeline and interns predicates.
    fn node(&mut self, e: &Expr, entry: &LogsourceEntry) -> Node {
        match e {
            Expr::And(v) => Node::And(v.iter().map(|x| self.node(x, entry)).collect()),
            Expr::Or(v) => Node::Or(v.iter().map(|x| self.node(x, entry)).collect()),
            Expr::Not(x) => Node::Not(Box::new(self.node(x, entry))),
            Expr::Leaf(Leaf {
                field: None,
                matcher,
            }) => Node::Pred(self.pred(None, matcher)),
            Expr::Leaf(Leaf {
                field: Some(f),
                matcher,
            }) => {
                let names = self.pipeline.map_field(Some(entry), f);
                let mut nodes: Vec<Node> = names
                    .iter()
                    .map(|n| Node::Pred(self.pred(Some(n), matcher)))
                    .collect();
                if nodes.len() == 1 {
                    nodes.remove(0)
                } else if matches!(matcher, Matcher::Null | Matcher::Exists(false)) {
                    Node::And(nodes.into())
                } else {
                    Node::Or(nodes.into())
                }
            }
        }
    }
}

fn cost(n: &Node, preds: &[Pred]) -> u32 {
    match n {
        Node::Const(_) => 0,
        Node::Pred(p) => {
            let pred = &preds[*p as usize];
            match (pred.kind, &pred.matcher) {
                (PredKind::Literal, _) => 1,
                (_, Matcher::Regex(_)) => 40,
                _ if pred.field.is_none() => 60,
                _ if pred.gate.is_some() => 8,
                _ => 5,
            }
        }
        Node::Not(x) => cost(x, preds),
        Node::And(v) | Node::Or(v) => v.iter().map(|x| cost(x, preds)).sum(),
    }
}

/// Orders children cheapest first and folds constants, so short-circuiting skips costly work.
fn reorder(n: Node, preds: &[Pred]) -> Node {
    match n {
        Node::And(v) => fold(v, true, preds),
        Node::Or(v) => fold(v, false, preds),
        Node::Not(x) => match reorder(*x, preds) {
            Node::Const(b) => Node::Const(!b),
            Node::Not(inner) => *inner,
            x => Node::Not(Box::new(x)),
        },
        other => other,
    }
}

/// `and` (`is_and`) or `or` of `kids`: the neutral constant is dropped, the absorbing one wins,
/// nested nodes of the same kind are flattened.
fn fold(v: Box<[Node]>, is_and: bool, preds: &[Pred]) -> Node {
    let mut kids: Vec<Node> = Vec::with_capacity(v.len());
    for k in v.into_vec() {
        match reorder(k, preds) {
            Node::Const(b) if b == is_and => {}
            Node::Const(b) => return Node::Const(b),
            Node::And(inner) if is_and => kids.extend(inner.into_vec()),
            Node::Or(inner) if !is_and => kids.extend(inner.into_vec()),
            k => kids.push(k),
        }
    }
    kids.sort_by_cached_key(|k| cost(k, preds));
    match (kids.len(), is_and) {
        (0, _) => Node::Const(is_and),
        (1, _) => kids.remove(0),
        (_, true) => Node::And(kids.into()),
        (_, false) => Node::Or(kids.into()),
    }
}

fn pred_field(p: PredId, preds: &[Pred]) -> FieldId {
    preds[p as usize].field.unwrap_or(KEYWORD_FIELD)
}

/// Predicates of which at least one must be found by the scans (literal, or the gate of a gated
/// predicate) for the node to be true; `None` when there is no such set. Inside an `and`, the
/// child whose triggers live in fields already scanned eagerly is preferred, so that few fields
/// need a scan for every event.
fn triggers(
    n: &Node,
    preds: &[Pred],
    eager: &rustc_hash::FxHashSet<FieldId>,
) -> Option<Vec<PredId>> {
    match n {
        Node::And(v) => v
            .iter()
            .filter_map(|x| triggers(x, preds, eager))
            .min_by_key(|t| {
                let mut new: Vec<FieldId> = t
                    .iter()
                    .map(|p| pred_field(*p, preds))
                    .filter(|f| !eager.contains(f))
                    .collect();
                new.sort_unstable();
                new.dedup();
                (new.len(), t.len())
            }),
        Node::Or(v) => {
            let mut all = Vec::new();
            for x in v.iter() {
                all.extend(triggers(x, preds, eager)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
        // A gated predicate can only hold when its gate literal was found: it triggers too.
        Node::Pred(p)
            if preds[*p as usize].kind == PredKind::Literal
                || preds[*p as usize].gate.is_some() =>
        {
            Some(vec![*p])
        }
        Node::Pred(_) | Node::Not(_) | Node::Const(true) => None,
        Node::Const(false) => Some(Vec::new()),
    }
}

fn collect_preds(n: &Node, out: &mut Vec<PredId>) {
    match n {
        Node::Pred(p) => out.push(*p),
        Node::Not(x) => collect_preds(x, out),
        Node::And(v) | Node::Or(v) => v.iter().for_each(|x| collect_preds(x, out)),
        Node::Const(_) => {}
    }
}

fn index_keys(entry: &LogsourceEntry, index_fields: &[String]) -> Vec<String> {
    if index_fields.is_empty() {
        return vec![ANY.to_string()];
    }
    let mut keys = vec![String::new()];
    for (i, f) in index_fields.iter().enumerate() {
        let vals = match entry.conditions.get(f) {
            Some(v) => v.texts().into_iter().map(|t| t.to_lowercase()).collect(),
            None => vec![ANY.to_string()],
        };
        keys = keys
            .iter()
            .flat_map(|k| {
                vals.iter().map(move |v| {
                    if i == 0 {
                        v.clone()
                    } else {
                        format!("{k}\x1f{v}")
                    }
                })
            })
            .collect();
    }
    keys
}

impl Plan {
    /// Compiles every rule of `rules` for events described by `pipeline`.
    pub fn compile(rules: &RuleSet, pipeline: &Pipeline) -> Plan {
        let mut b = Builder {
            pipeline,
            field_ids: FxHashMap::default(),
            field_names: Vec::new(),
            pred_ids: FxHashMap::default(),
            preds: Vec::new(),
        };
        let index_fields: Vec<FieldId> = pipeline.index_fields.iter().map(|f| b.field(f)).collect();
        let mut variants = Vec::new();
        let mut keyed: FxHashMap<String, Vec<u32>> = FxHashMap::default();
        let mut inactive = Vec::new();
        let mut active = 0;
        for (rid, rule) in rules.rules.iter().enumerate() {
            let entries = pipeline.entries_for(&rule.rule.logsource);
            if entries.is_empty() {
                inactive.push(rid as RuleId);
                continue;
            }
            active += 1;
            for entry in entries {
                let mut parts = vec![b.node(&rule.rule.detection.condition, entry)];
                for (field, vals) in &entry.conditions {
                    if pipeline.index_fields.contains(field) {
                        continue;
                    }
                    let alts: Vec<Node> = vals
                        .texts()
                        .iter()
                        .map(|v| {
                            let m = Matcher::Str {
                                pat: Pattern::literal(&v.to_lowercase()),
                                cased: false,
                            };
                            Node::Pred(b.pred(Some(field), &m))
                        })
                        .collect();
                    parts.push(Node::Or(alts.into()));
                }
                let node = reorder(Node::And(parts.into()), &b.preds);
                let node = b.group_literals(node);
                if matches!(node, Node::Const(false)) {
                    continue;
                }
                let vid = variants.len() as u32;
                variants.push(Variant {
                    rule: rid as RuleId,
                    node,
                });
                for key in index_keys(entry, &pipeline.index_fields) {
                    keyed.entry(key).or_default().push(vid);
                }
            }
        }
        let preds = b.preds;
        let mut buckets = Vec::new();
        let mut index = FxHashMap::default();
        let mut stats = PlanStats {
            active_rules: active,
            inactive_rules: inactive.len(),
            variants: variants.len(),
            predicates: preds.len(),
            literal_predicates: preds.iter().filter(|p| p.kind == PredKind::Literal).count(),
            ..Default::default()
        };
        let mut keys: Vec<_> = keyed.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        // Buckets are independent: built in parallel (compile is on the hunt's start-up path).
        use rayon::prelude::*;
        let built: Vec<(Bucket, PlanStats)> = keys
            .par_iter()
            .map(|(_, vids)| {
                let mut st = PlanStats::default();
                (build_bucket(vids, &variants, &preds, &mut st), st)
            })
            .collect();
        let mut shared = AutomataCache::default();
        for ((key, _), (mut bucket, st)) in keys.into_iter().zip(built) {
            for scan in &mut bucket.scans {
                scan.contains.share(&mut shared);
            }
            stats.untriggered_variants += st.untriggered_variants;
            stats.automata += st.automata;
            index.insert(key.into_boxed_str(), buckets.len() as u32);
            buckets.push(bucket);
        }
        stats.buckets = buckets.len();
        let mut next_scan = 0u32;
        for b in &mut buckets {
            for sc in &mut b.scans {
                sc.id = next_scan;
                next_scan += 1;
            }
        }
        Plan {
            pipeline: pipeline.name.clone(),
            field_ids: b.field_ids,
            field_names: b.field_names,
            preds,
            variants,
            buckets,
            index,
            index_fields,
            rule_count: rules.rules.len(),
            inactive,
            stats,
        }
    }

    /// Builds every automaton now (in parallel) instead of on first use; returns their heap
    /// bytes. Long-running services call this once.
    pub fn warm(&self) -> usize {
        self.warm_while(|| true)
    }

    /// [`Plan::warm`] that stops starting new builds once `keep_going` returns false. A hunt
    /// runs it beside its workers: they then rarely wait for an automaton another thread is
    /// building, and a short hunt stops it as soon as the events are done.
    pub fn warm_while(&self, keep_going: impl Fn() -> bool + Sync) -> usize {
        use rayon::prelude::*;
        // Shared automata are built (and counted) once. Eagerly scanned fields first: every
        // event of their bucket needs them.
        let mut seen = rustc_hash::FxHashSet::default();
        let mut sets: Vec<(bool, &LiteralSet)> = self
            .buckets
            .iter()
            .flat_map(|b| &b.scans)
            .map(|s| (s.eager, &s.contains))
            .filter(|(_, s)| seen.insert(Arc::as_ptr(&s.automata)))
            .collect();
        sets.sort_by_key(|(eager, _)| !eager);
        sets.par_iter()
            .map(|(_, s)| {
                if !keep_going() {
                    return 0;
                }
                let filter = if s.precheck() {
                    s.filter().map_or(0, AhoCorasick::memory_usage)
                } else {
                    0
                };
                filter + s.automaton().map_or(0, AhoCorasick::memory_usage)
            })
            .sum()
    }

    /// Plan statistics.
    pub fn stats(&self) -> &PlanStats {
        &self.stats
    }

    /// Name of the pipeline the plan was compiled for.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Rules whose logsource this plan's pipeline does not serve.
    pub fn inactive_rules(&self) -> &[RuleId] {
        &self.inactive
    }

    /// The event field names the plan reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.field_names.iter().map(|f| &**f)
    }
}

fn build_bucket(
    vids: &[u32],
    variants: &[Variant],
    preds: &[Pred],
    stats: &mut PlanStats,
) -> Bucket {
    let mut bucket = Bucket::default();
    let mut used = Vec::new();
    // Pass 1 grows the set of eagerly scanned fields; pass 2 picks each rule's triggers within it.
    let mut eager = rustc_hash::FxHashSet::default();
    for &v in vids {
        if let Some(t) = triggers(&variants[v as usize].node, preds, &eager) {
            eager.extend(t.iter().map(|p| pred_field(*p, preds)));
        }
    }
    for &v in vids {
        let var = &variants[v as usize];
        collect_preds(&var.node, &mut used);
        match triggers(&var.node, preds, &eager) {
            Some(t) if t.is_empty() => {} // can never match
            Some(t) => {
                for p in t {
                    bucket.triggers.entry(p).or_default().push(v);
                }
            }
            None => {
                bucket.always.push(v);
                stats.untriggered_variants += 1;
            }
        }
    }
    used.sort_unstable();
    used.dedup();
    let mut per_field: FxHashMap<FieldId, FieldScan> = FxHashMap::default();
    for p in used {
        let pred = &preds[p as usize];
        if pred.kind != PredKind::Literal && pred.gate.is_none() {
            continue;
        }
        let field = pred.field.unwrap_or(KEYWORD_FIELD);
        let scan = per_field
            .entry(field)
            .or_insert_with(|| FieldScan::new(field));
        if let Some(g) = &pred.gate {
            scan.contains.add(g.as_bytes().to_vec(), Action::Gate(p));
        } else if pred.members.is_empty() {
            scan.add_literal(&pred.matcher, p);
        }
        // A group is set by each of its members' literals.
        for &m in pred.members.iter() {
            scan.add_literal(&preds[m as usize].matcher, p);
        }
    }
    let mut fields: Vec<_> = per_field.into_values().collect();
    fields.sort_by_key(|f| f.field);
    for mut f in fields {
        f.eager = eager.contains(&f.field);
        bucket.scan_of.insert(f.field, bucket.scans.len() as u32);
        stats.automata += usize::from(!f.contains.is_empty())
            + usize::from(!f.prefix.is_empty())
            + usize::from(!f.suffix.is_empty());
        bucket.scans.push(f);
    }
    bucket
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasickKind;

    fn set_of(literals: &[String]) -> LiteralSet {
        let mut set = LiteralSet::default();
        for (i, l) in literals.iter().enumerate() {
            set.add(l.as_bytes().to_vec(), Action::Set(i as PredId));
        }
        set.share(&mut AutomataCache::default());
        set
    }

    fn found(set: &LiteralSet, hay: &str) -> Vec<usize> {
        let ac = set.automaton().unwrap();
        let mut v: Vec<_> = ac
            .find_overlapping_iter(hay)
            .map(|m| m.pattern().as_usize())
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn small_sets_start_as_dfas() {
        let set = set_of(&["mimikatz".into(), "rubeus".into()]);
        assert_eq!(set.tier_up_after(), None);
        assert_eq!(set.automaton().unwrap().kind(), AhoCorasickKind::DFA);
    }

    #[test]
    fn large_sets_move_from_nfa_to_dfa_with_the_same_matches() {
        let literals: Vec<String> = (0..300).map(|i| format!("tool{i:04}.exe")).collect();
        let set = set_of(&literals);
        let bytes: u64 = literals.iter().map(|l| l.len() as u64).sum();
        assert!(bytes > DFA_LITERAL_BYTES as u64);
        assert_eq!(
            set.tier_up_after(),
            Some(bytes * TIER_UP_BYTES_PER_LITERAL_BYTE)
        );
        let hay = "c:\\x\\tool0042.exe && tool0299.exe tool0042.exe /tool1.exe";
        assert_eq!(
            set.automaton().unwrap().kind(),
            AhoCorasickKind::ContiguousNFA
        );
        let before = found(&set, hay);
        assert_eq!(before, [42, 42, 299]);
        set.tier_up();
        set.tier_up();
        assert_eq!(set.automaton().unwrap().kind(), AhoCorasickKind::DFA);
        assert_eq!(found(&set, hay), before);
    }
}

//! One flattened event in, the rules it matches out: the plan of its family of field names,
//! plus the plans of user pipelines, with what correlations need from each match.

use std::sync::OnceLock;
use yagura_event::Record;

use crate::activity::{inactive_rules, Activity, ActivityScratch, Inactive};
use crate::correlation::{Capture, CaptureSpec};
use crate::{Pipeline, Plan, RuleId, RuleSet, Scratch};

/// The field names of an event, which decide the plan it is evaluated on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Windows events with their own names (`EventID`, `Channel`, event data by name): EVTX,
    /// Winlogbeat and NXLog documents as `yagura_normalize::flatten` gives them.
    Windows,
    /// ECS names (`source.ip`, `winlog.event_data.*`): what the text-log and vendor-JSON
    /// parsers write.
    Ecs,
}

impl Family {
    /// [`Family::Windows`] for a document of a Windows shape, else [`Family::Ecs`].
    pub fn of(windows: bool) -> Self {
        if windows {
            Family::Windows
        } else {
            Family::Ecs
        }
    }
}

/// A pipeline given with `--pipeline`: its plan runs on every event, next to the built-in plan
/// of the event's shape.
pub struct UserPlan {
    pipeline: Pipeline,
    plan: Plan,
    captures: CaptureSpec,
    activity: Activity,
}

/// The compiled plans: Windows-shaped documents (EVTX, Winlogbeat, NXLog) and ECS documents,
/// with what correlations need from matched events (their field names differ per family; the
/// correlations themselves run after the scan, see `correlate.rs`), plus the user's pipelines.
/// Shared by every worker (it is `Sync`). It also records which logsource entries the events
/// selected ([`Detector::inactive`]).
pub struct Detector<'r> {
    rules: &'r RuleSet,
    windows: Plan,
    windows_captures: CaptureSpec,
    windows_activity: Activity,
    /// Compiled on the first ECS document: most hunts see only Windows events, and compiling
    /// a second plan would double start-up.
    ecs: OnceLock<(Plan, CaptureSpec)>,
    ecs_activity: Activity,
    user: Vec<UserPlan>,
}

impl<'r> Detector<'r> {
    /// Compiles `rules` for Windows documents (ECS on first use).
    pub fn compile(rules: &'r RuleSet) -> Self {
        Self::with_pipelines(rules, Vec::new())
    }

    /// [`Self::compile`], plus one plan per user pipeline.
    pub fn with_pipelines(rules: &'r RuleSet, user: Vec<Pipeline>) -> Self {
        let windows = Pipeline::windows();
        Self {
            rules,
            windows: Plan::compile(rules, windows),
            windows_captures: CaptureSpec::new(rules, windows),
            windows_activity: Activity::new(windows),
            ecs: OnceLock::new(),
            ecs_activity: Activity::new(Pipeline::ecs()),
            user: user
                .into_iter()
                .map(|pipeline| UserPlan {
                    plan: Plan::compile(rules, &pipeline),
                    captures: CaptureSpec::new(rules, &pipeline),
                    activity: Activity::new(&pipeline),
                    pipeline,
                })
                .collect(),
        }
    }

    fn ecs(&self) -> &(Plan, CaptureSpec) {
        self.ecs.get_or_init(|| {
            let ecs = Pipeline::ecs();
            (
                Plan::compile(self.rules, ecs),
                CaptureSpec::new(self.rules, ecs),
            )
        })
    }

    /// Builds the Windows plan's automata until `keep_going` returns false (see
    /// [`Plan::warm_while`]).
    pub fn warm_while(&self, keep_going: impl Fn() -> bool + Sync) {
        self.windows.warm_while(keep_going);
    }

    /// True when `rule` only feeds correlations (`generate: false`) and is not reported alone.
    pub fn suppressed(&self, rule: RuleId) -> bool {
        self.windows_captures.suppressed(rule)
    }

    /// The detection rules that could not fire on the events seen so far: no pipeline serves
    /// their logsource, or no event selected an entry that serves it.
    pub fn inactive(&self) -> Vec<Inactive> {
        let mut pipelines = vec![
            (Pipeline::windows(), Some(&self.windows_activity)),
            (Pipeline::ecs(), Some(&self.ecs_activity)),
        ];
        for u in &self.user {
            pipelines.push((&u.pipeline, Some(&u.activity)));
        }
        inactive_rules(self.rules, &pipelines)
    }

    /// Per-thread state: one record and one scratch per plan, reused event after event.
    pub fn worker(&self) -> DetectorWorker<'_, 'r> {
        DetectorWorker {
            detector: self,
            record: Record::new(),
            windows_scratch: self.windows.scratch(),
            ecs_scratch: None,
            user_scratch: self.user.iter().map(|u| u.plan.scratch()).collect(),
            activity: ActivityScratch::default(),
            hits: Vec::new(),
            base_hits: 0,
            user_hits: Vec::new(),
            user_from: Vec::new(),
            last_family: Family::Windows,
        }
    }
}

/// A worker's reusable buffers.
pub struct DetectorWorker<'d, 'r> {
    detector: &'d Detector<'r>,
    /// The last document, flattened.
    pub record: Record,
    windows_scratch: Scratch,
    ecs_scratch: Option<Scratch>,
    user_scratch: Vec<Scratch>,
    activity: ActivityScratch,
    /// Rules matched by the last document: the built-in plan's first (`base_hits` of them),
    /// then those only user plans matched.
    hits: Vec<RuleId>,
    base_hits: usize,
    user_hits: Vec<RuleId>,
    /// For `hits[base_hits..]`: the user plan that matched each.
    user_from: Vec<usize>,
    last_family: Family,
}

impl DetectorWorker<'_, '_> {
    /// Evaluates [`Self::record`] (flattened by the caller) on the plan of `family`;
    /// afterwards [`Self::hits`] holds the rules it matched.
    pub fn evaluate_record(&mut self, family: Family) {
        let rec = std::mem::take(&mut self.record);
        self.evaluate_other(&rec, family);
        self.record = rec;
    }

    /// [`Self::evaluate_record`] on a record the caller keeps (the indexer's normalized
    /// event); read captures from it with [`Self::capture_in`].
    pub fn evaluate_other(&mut self, rec: &Record, family: Family) {
        self.hits.clear();
        self.last_family = family;
        let d = self.detector;
        match family {
            Family::Ecs => {
                let plan = &d.ecs().0;
                let scratch = self.ecs_scratch.get_or_insert_with(|| plan.scratch());
                plan.evaluate(rec, scratch, &mut self.hits);
                d.ecs_activity.observe(rec, &mut self.activity);
            }
            Family::Windows => {
                d.windows
                    .evaluate(rec, &mut self.windows_scratch, &mut self.hits);
                d.windows_activity.observe(rec, &mut self.activity);
            }
        }
        self.base_hits = self.hits.len();
        self.user_from.clear();
        for (i, (u, scratch)) in d.user.iter().zip(&mut self.user_scratch).enumerate() {
            self.user_hits.clear();
            u.plan.evaluate(rec, scratch, &mut self.user_hits);
            u.activity.observe(rec, &mut self.activity);
            for &rule in &self.user_hits {
                if !self.hits.contains(&rule) {
                    self.hits.push(rule);
                    self.user_from.push(i);
                }
            }
        }
    }

    /// Rules matched by the last evaluated document.
    pub fn hits(&self) -> &[RuleId] {
        &self.hits
    }

    /// True when `rule` only feeds correlations and is not reported alone.
    pub fn suppressed(&self, rule: RuleId) -> bool {
        self.detector.suppressed(rule)
    }

    /// What correlations need from the last document for a match of `rule` (`None` when no
    /// correlation references the rule), read with the field names of the plan that matched.
    pub fn capture(&self, rule: RuleId) -> Option<Capture> {
        self.capture_in(rule, &self.record)
    }

    /// [`Self::capture`] from `rec`, the record given to [`Self::evaluate_other`].
    pub fn capture_in(&self, rule: RuleId, rec: &Record) -> Option<Capture> {
        let user = self.hits[self.base_hits..]
            .iter()
            .position(|&r| r == rule)
            .and_then(|i| self.user_from.get(i))
            .and_then(|&u| self.detector.user.get(u));
        let spec = match (user, self.last_family) {
            (Some(u), _) => &u.captures,
            (None, Family::Ecs) => &self.detector.ecs().1,
            (None, _) => &self.detector.windows_captures,
        };
        spec.capture(rule, rec)
    }
}

//! One document in, the rules it matches out: normalization plus the plan of its shape.

use std::sync::OnceLock;
use yagura_event::Record;
use yagura_normalize::{EventMeta, NormalizeError, Shape};
use yagura_sigma::correlation::{Capture, CaptureSpec};
use yagura_sigma::{Pipeline, Plan, RuleId, RuleSet, Scratch};

/// The compiled plans: Windows-shaped documents (EVTX, Winlogbeat, NXLog) and ECS documents,
/// with what correlations need from matched events (their field names differ per family; the
/// correlations themselves run after the scan, see `correlate.rs`). Shared by every worker (it
/// is `Sync`).
pub struct Detector<'r> {
    rules: &'r RuleSet,
    windows: Plan,
    windows_captures: CaptureSpec,
    /// Compiled on the first ECS document: most hunts see only Windows events, and compiling
    /// a second plan would double start-up.
    ecs: OnceLock<(Plan, CaptureSpec)>,
}

impl<'r> Detector<'r> {
    /// Compiles `rules` for Windows documents (ECS on first use).
    pub fn compile(rules: &'r RuleSet) -> Self {
        let windows = Pipeline::windows();
        Self {
            rules,
            windows: Plan::compile(rules, windows),
            windows_captures: CaptureSpec::new(rules, windows),
            ecs: OnceLock::new(),
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

    /// Per-thread state: one record and one scratch per plan, reused event after event.
    pub fn worker(&self) -> DetectorWorker<'_, 'r> {
        DetectorWorker {
            detector: self,
            record: Record::new(),
            windows_scratch: self.windows.scratch(),
            ecs_scratch: None,
            hits: Vec::new(),
            last_shape: Shape::EvtxXml,
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
    hits: Vec<RuleId>,
    last_shape: Shape,
}

impl DetectorWorker<'_, '_> {
    /// Flattens `doc` and evaluates it; returns its meta. Afterwards [`Self::hits`] holds the
    /// rules it matched and `record` the flattened document.
    pub fn evaluate(&mut self, doc: &serde_json::Value) -> Result<EventMeta, NormalizeError> {
        let (shape, meta) = yagura_normalize::flatten(doc, &mut self.record)?;
        self.evaluate_record(shape);
        Ok(meta)
    }

    /// [`Self::evaluate`] for an EVTX record as JSON text: flattened straight from the text
    /// (the same record and meta as the parsed document gives).
    pub fn evaluate_json(&mut self, json: &str) -> Result<EventMeta, NormalizeError> {
        let (shape, meta) = yagura_normalize::flatten_evtx_json(json, &mut self.record)?;
        self.evaluate_record(shape);
        Ok(meta)
    }

    /// Evaluates `record` as the text-log and vendor-JSON parsers
    /// (`yagura_normalize::parse::Parser`) left it: an ECS record, on the ECS plan.
    pub fn evaluate_parsed_record(&mut self) {
        self.evaluate_record(Shape::Ecs);
    }

    /// Evaluates `record`, flattened from a document of shape `shape`.
    fn evaluate_record(&mut self, shape: Shape) {
        self.hits.clear();
        self.last_shape = shape;
        match shape {
            Shape::Ecs => {
                let plan = &self.detector.ecs().0;
                let scratch = self.ecs_scratch.get_or_insert_with(|| plan.scratch());
                plan.evaluate(&self.record, scratch, &mut self.hits)
            }
            Shape::EvtxXml | Shape::Winlogbeat | Shape::Nxlog => self.detector.windows.evaluate(
                &self.record,
                &mut self.windows_scratch,
                &mut self.hits,
            ),
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
    /// correlation references the rule).
    pub fn capture(&self, rule: RuleId) -> Option<Capture> {
        let spec = match self.last_shape {
            Shape::Ecs => &self.detector.ecs().1,
            _ => &self.detector.windows_captures,
        };
        spec.capture(rule, &self.record)
    }
}

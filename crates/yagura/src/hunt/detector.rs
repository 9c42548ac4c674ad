//! One document in, the rules it matches out: normalization plus the plan of its shape.

use yagura_event::Record;
use yagura_normalize::{EventMeta, NormalizeError, Shape};
use yagura_sigma::correlation::{Capture, Correlator};
use yagura_sigma::{Pipeline, Plan, RuleId, RuleSet, Scratch};

/// The compiled plans: Windows-shaped documents (EVTX, Winlogbeat, NXLog) and ECS documents,
/// with the correlators that take the values correlations need from matched events (their
/// field names differ per family). Shared by every worker (it is `Sync`).
pub struct Detector {
    windows: Plan,
    ecs: Plan,
    windows_captures: Correlator,
    ecs_captures: Correlator,
}

impl Detector {
    /// Compiles `rules` for both document families.
    pub fn compile(rules: &RuleSet) -> Self {
        let (windows, ecs) = (Pipeline::windows(), Pipeline::ecs());
        Self {
            windows: Plan::compile(rules, &windows),
            ecs: Plan::compile(rules, &ecs),
            windows_captures: Correlator::new(rules, &windows),
            ecs_captures: Correlator::new(rules, &ecs),
        }
    }

    /// True when `rule` only feeds correlations (`generate: false`) and is not reported alone.
    pub fn suppressed(&self, rule: RuleId) -> bool {
        self.windows_captures.suppressed(rule)
    }

    /// Per-thread state: one record and one scratch per plan, reused event after event.
    pub fn worker(&self) -> DetectorWorker<'_> {
        DetectorWorker {
            detector: self,
            record: Record::new(),
            windows_scratch: self.windows.scratch(),
            ecs_scratch: self.ecs.scratch(),
            hits: Vec::new(),
            last_shape: Shape::EvtxXml,
        }
    }
}

/// A worker's reusable buffers.
pub struct DetectorWorker<'d> {
    detector: &'d Detector,
    /// The last document, flattened.
    pub record: Record,
    windows_scratch: Scratch,
    ecs_scratch: Scratch,
    hits: Vec<RuleId>,
    last_shape: Shape,
}

impl DetectorWorker<'_> {
    /// Flattens `doc` and evaluates it; returns its meta. Afterwards [`Self::hits`] holds the
    /// rules it matched and `record` the flattened document.
    pub fn evaluate(&mut self, doc: &serde_json::Value) -> Result<EventMeta, NormalizeError> {
        let (shape, meta) = yagura_normalize::flatten(doc, &mut self.record)?;
        self.hits.clear();
        self.last_shape = shape;
        match shape {
            Shape::Ecs => {
                self.detector
                    .ecs
                    .evaluate(&self.record, &mut self.ecs_scratch, &mut self.hits)
            }
            Shape::EvtxXml | Shape::Winlogbeat | Shape::Nxlog => self.detector.windows.evaluate(
                &self.record,
                &mut self.windows_scratch,
                &mut self.hits,
            ),
        }
        Ok(meta)
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
        let correlator = match self.last_shape {
            Shape::Ecs => &self.detector.ecs_captures,
            _ => &self.detector.windows_captures,
        };
        correlator.capture(rule, &self.record)
    }
}

//! The hunt pipeline: rules in, events through the detection plans, a sorted timeline out.
//!
//! Rules are loaded and evaluated by `yagura_sigma` (`load`, `Detector`, shared with `serve`);
//! `scan` runs the worker pool over input files, `detection` is one hit, `sorter` orders hits
//! with bounded memory, `output` writes the timeline, `summary` the totals, `labels` the words.

pub mod correlate;
pub mod detection;
pub mod key_fields;
pub mod labels;
pub mod output;
pub mod scan;
pub mod sorter;
pub mod summary;
pub mod text;
pub mod time;

use yagura_normalize::{EventMeta, NormalizeError};
use yagura_sigma::{DetectorWorker, Family};

/// Flattens `doc` into the worker's record and evaluates it on the plan of its shape.
pub fn evaluate_doc(
    worker: &mut DetectorWorker<'_, '_>,
    doc: &serde_json::Value,
) -> Result<EventMeta, NormalizeError> {
    let (shape, meta) = yagura_normalize::flatten(doc, &mut worker.record)?;
    worker.evaluate_record(Family::of(shape.is_windows()));
    Ok(meta)
}

/// [`evaluate_doc`] for an EVTX record as JSON text, flattened straight from the text.
pub fn evaluate_evtx_json(
    worker: &mut DetectorWorker<'_, '_>,
    json: &str,
) -> Result<EventMeta, NormalizeError> {
    let (shape, meta) = yagura_normalize::flatten_evtx_json(json, &mut worker.record)?;
    worker.evaluate_record(Family::of(shape.is_windows()));
    Ok(meta)
}

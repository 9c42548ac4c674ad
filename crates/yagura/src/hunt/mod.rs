//! The hunt pipeline: rules in, events through the detection plans, a sorted timeline out.
//!
//! `rules_source` loads rules (built-in pack and folders), `detector` evaluates one document,
//! `scan` runs the worker pool over input files, `detection` is one hit, `sorter` orders hits
//! with bounded memory, `output` writes the timeline, `summary` the totals, `labels` the words.

pub mod activity;
pub mod builtin;
pub mod correlate;
pub mod detection;
pub mod detector;
pub mod key_fields;
pub mod labels;
pub mod output;
pub mod rules_source;
pub mod scan;
pub mod sorter;
pub mod summary;
pub mod text;
pub mod time;

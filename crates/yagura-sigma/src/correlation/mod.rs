//! Correlation rules [CR]: parsing, and a correlator over a time-ordered stream of matches.

mod engine;
pub mod rule;

pub use engine::{Capture, CaptureSpec, CorrelationAlert, Correlator, CorrelatorStats, Limits};

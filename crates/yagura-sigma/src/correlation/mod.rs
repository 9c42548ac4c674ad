//! Correlation rules [CR]: parsing, and a correlator over a time-ordered stream of matches.

pub mod rule;

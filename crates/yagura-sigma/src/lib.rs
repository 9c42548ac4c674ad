//! Yagura's detection core: the Sigma v2.1 rule language compiled into an indexed evaluation plan.
//!
//! **Owns:** parsing Sigma rules, correlation rules and filters ([`RuleSet`]); processing
//! pipelines that map logsources and field names ([`Pipeline`], data files under `pipelines/`);
//! compiling rules into a [`Plan`] and evaluating it on [`yagura_event::Record`]s; the
//! [`Detector`] that `hunt` and `serve` share (the Windows and ECS plans plus user pipelines,
//! with what correlations capture); loading rule folders and the built-in pack ([`load`],
//! [`builtin`], data under `rules/`); which logsources the events served ([`activity`]);
//! correlating matches over time ([`correlation::Correlator`]).
//!
//! **Must not:** read log files, know input formats, print, or keep events. Callers decode events
//! into records and decide what to do with matches.
//!
//! ```
//! use std::path::Path;
//! use yagura_event::{Kind, Record};
//! use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};
//!
//! let mut rules = RuleSet::new();
//! rules.add_yaml(Path::new("example.yml"), r#"
//! title: Whoami
//! logsource: {product: windows, category: process_creation}
//! detection:
//!     selection: {Image|endswith: '\whoami.exe'}
//!     condition: selection
//! "#, &LoadOptions::default());
//! rules.finish();
//! let plan = Plan::compile(&rules, Pipeline::windows());
//! let mut scratch = plan.scratch();
//! let mut rec = Record::new();
//! rec.push("Channel", Kind::Str, "Microsoft-Windows-Sysmon/Operational");
//! rec.push("EventID", Kind::Num, "1");
//! rec.push("Image", Kind::Str, r"C:\Windows\System32\WHOAMI.EXE");
//! let mut hits = Vec::new();
//! plan.evaluate(&rec, &mut scratch, &mut hits);
//! assert_eq!(hits, [0]);
//! ```
//!
//! Cost: compiling SigmaHQ's ~2,400 Windows rules takes a fraction of a second; evaluation does
//! one automaton pass per referenced field of the event's bucket, then evaluates only the rules
//! whose literals were found (see `DESIGN.md`).

#![warn(missing_docs)]

pub mod activity;
pub mod builtin;
pub mod condition;
pub mod correlation;
pub mod detection;
pub mod detector;
mod error;
mod eval;
pub mod lazy_regex;
pub mod load;
pub mod matcher;
pub mod modifier;
pub mod pattern;
pub mod pipeline;
mod plan;
mod regex_gate;
pub mod rule;
mod rule_cache;
mod ruleset;

pub use detector::{Detector, DetectorWorker, Family};
pub use error::{LoadError, PipelineError, RuleError};
pub use eval::Scratch;
pub use pipeline::Pipeline;
pub use plan::{Plan, PlanStats, RuleId};
pub use rule_cache::RuleCache;
pub use ruleset::{LoadOptions, LoadedCorrelation, LoadedRule, RuleRef, RuleSet};

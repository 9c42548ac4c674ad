//! The built-in rule pack, embedded at build time from `crates/yagura-sigma/rules/` (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

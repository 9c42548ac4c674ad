//! Streaming detection and alert triage: the live loop of the SOC.
//!
//! **Owns:** evaluating every normalized event on arrival with the engine `hunt` uses
//! ([`stream::Stream`], a [`yagura_store::Tap`] of the indexer: the plans run on the indexer's
//! normalizing lanes, correlations in event time with a lateness allowance); turning matches
//! into alerts, deduplicated per rule and entity, with a status workflow, notes and assignee
//! ([`alert`]); keeping alerts and the detection checkpoint durably together ([`db::AlertDb`],
//! one redb file), so that a restart neither loses an open correlation window nor repeats an
//! alert; delivering alerts to webhooks, chat, e-mail and syslog with retries ([`notify`]).
//!
//! **Must not:** parse logs (that is `yagura-normalize`), store events (`yagura-store`),
//! compile rules (`yagura-sigma`), or serve HTTP (`yagura-api` reads [`db::AlertDb`]).

#![warn(missing_docs)]

pub mod alert;
pub mod asset;
pub mod db;
pub mod exception;
pub mod notify;
pub mod stream;

pub use alert::{Alert, Entities, Severity, Status};
pub use db::{AlertDb, DbError};
pub use exception::Exception;
pub use stream::{Stream, StreamConfig, StreamStats};

//! netmon: network-usage accounting on the firewall's own counters.
//!
//! Data flows config -> firewall -> parse -> fold -> state -> report/output,
//! and the modules are layered the same way (a test, `tests/layers.rs`,
//! keeps it so: no module imports from a layer above its own, and no two
//! modules import each other):
//!
//! - leaves: `text` (buffer, templates, numbers, suggestions) and `sys`
//!   (the only `unsafe` and libc), importing nothing from the crate;
//! - the pure core: `meter`, `device`, `state` (and its codec), `calendar`, `time`,
//!   `tz`, `units` — values in, values out, never the clock or a file;
//! - pure codecs: `parse` (nft, iptables, UCI, the kernel's route table);
//! - the edges: `error`, `logging`, `config` (loading), `firewall` (running
//!   nft/iptables), `store` (state files), `mail`, `report` (renderers);
//! - the commands: `cli` (arguments) and `cmd` (one file per command).
#![deny(unsafe_code)]

pub mod calendar;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod device;
pub mod error;
pub mod firewall;
pub mod hosts;
pub mod logging;
pub mod mail;
pub mod meter;
pub mod parse;
pub mod quota;
pub mod report;
pub mod state;
pub mod store;
pub mod sys;
pub mod text;
pub mod time;
pub mod tz;
pub mod units;

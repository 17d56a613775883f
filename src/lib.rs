//! netmon: network-usage accounting on the firewall's own counters.
//!
//! Pure logic (parsers, fold, reset detection, calendar, rendering) never
//! reads the clock, the environment or a file: callers pass those in.
//! I/O lives at the edges: `firewall` runs tools, `store` writes files,
//! `sys` is the only module with `unsafe`.
#![deny(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod firewall;
pub mod mail;
pub mod meter;
pub mod out;
pub mod parse;
pub mod report;
pub mod state;
pub mod store;
pub mod sys;
pub mod time;
pub mod tz;
pub mod units;

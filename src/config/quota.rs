//! `config quota`: how much each listed device (or every device) may use
//! in a day or a billing month, and what happens past it.
//!
//! ```text
//! config quota 'kids'
//!     list device 'alices-phone'
//!     list device '02:11:22:33:44:55'
//!     option period 'month'
//!     option limit '20G'
//!     option direction 'total'
//!     option action 'block mail'
//! ```
//!
//! `device` names a device by its name (as `netmon devices` shows it) or
//! its MAC; with no `device`, the quota applies to every device. `period`
//! is `day` or `month` (the billing month, from `billing_day`; the
//! default). `direction` is `down`, `up` or `total` (the default).
//! `action` is `block`, `mail` or both, and must be given: a quota that
//! cuts devices off should be a decision written down.

use super::{bad, boolean, check_option, set_once};
use crate::device::MAX_DEVICE_NAME;
use crate::quota::{Direction, Period, Quota};
use crate::text::{fill, fill_n};
use crate::units::parse_bytes;

/// Options of `config quota`; positions index `QuotaDraft::lines`.
pub(super) const QUOTA_OPTIONS: [&str; 6] = [
    "device",
    "period",
    "limit",
    "direction",
    "action",
    "enabled",
];
const DEVICE: usize = 0;
const LIMIT: usize = 2;
const ACTION: usize = 4;
/// Most devices one quota lists.
pub const MAX_QUOTA_DEVICES: usize = 64;

/// A quota section being read.
pub(super) struct QuotaDraft {
    line: u32,
    quota: Quota,
    enabled: bool,
    lines: [u32; QUOTA_OPTIONS.len()],
}

impl QuotaDraft {
    pub(super) fn new(line: u32, name: String) -> QuotaDraft {
        QuotaDraft {
            line,
            quota: Quota {
                name,
                devices: Vec::new(),
                period: Period::Month,
                limit: 0,
                direction: Direction::Total,
                block: false,
                mail: false,
            },
            enabled: true,
            lines: [0; QUOTA_OPTIONS.len()],
        }
    }

    pub(super) fn option(
        &mut self,
        line: u32,
        key: &str,
        value: &str,
        list: bool,
    ) -> Result<(), String> {
        // `device` may be a list: check the rest as single options.
        let i = check_option(
            key,
            value,
            list && key != "device",
            &QUOTA_OPTIONS,
            "a quota",
        )?;
        let q = &mut self.quota;
        match i {
            DEVICE => return self.device(line, value),
            1 => {
                q.period = match value {
                    "day" => Period::Day,
                    "month" => Period::Month,
                    _ => return Err(bad(key, value, "not a period (use day or month)")),
                }
            }
            LIMIT => {
                q.limit = parse_bytes(value).filter(|n| *n > 0).ok_or_else(|| {
                    bad(key, value, "not a number of bytes above 0 (write e.g. '500M', '20G' or '1.5T'; G is GiB, GB is 10^9)")
                })?
            }
            3 => {
                q.direction = match value {
                    "down" => Direction::Down,
                    "up" => Direction::Up,
                    "total" => Direction::Total,
                    _ => return Err(bad(key, value, "not a direction (use down, up or total)")),
                }
            }
            ACTION => {
                for word in value.split_ascii_whitespace() {
                    match word {
                        "block" => q.block = true,
                        "mail" => q.mail = true,
                        _ => return Err(bad(key, value, "not an action (use block, mail or 'block mail')")),
                    }
                }
            }
            _ => self.enabled = boolean(key, value)?,
        }
        set_once(&mut self.lines, i, key, line)
    }

    fn device(&mut self, line: u32, value: &str) -> Result<(), String> {
        if value.len() > MAX_DEVICE_NAME {
            let m = "device '{}' is longer than {} bytes, the longest name netmon keeps";
            return Err(fill_n(m, &[value], MAX_DEVICE_NAME));
        }
        if self.quota.devices.len() >= MAX_QUOTA_DEVICES {
            let m = "a quota lists at most {} devices (leave device out to cover every device)";
            return Err(fill_n(m, &[], MAX_QUOTA_DEVICES));
        }
        if self.lines[DEVICE] == 0 {
            self.lines[DEVICE] = line;
        }
        self.quota.devices.push(value.into());
        Ok(())
    }

    /// The quota, checked as a whole; `None` when disabled.
    pub(super) fn finish(self) -> Result<Option<Quota>, (u32, String)> {
        let name = self.quota.name.clone();
        if self.lines[LIMIT] == 0 {
            let m = "quota '{}' has no limit (add option limit, e.g. '20G')";
            return Err((self.line, fill(m, &[&name])));
        }
        if self.lines[ACTION] == 0 {
            let m = "quota '{}' has no action (add option action 'block', 'mail' or 'block mail')";
            return Err((self.line, fill(m, &[&name])));
        }
        Ok(self.enabled.then_some(self.quota))
    }
}

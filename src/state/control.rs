//! Control kept in the state: the admin's blocks, and which quota warnings
//! went out; and each device's use of a quota, worked out from its day and
//! month buckets. The firewall enforces what `blocked_now` and
//! `kernel_quotas` say at every update, so a block outlives firewall
//! reloads, flushes and reboots: the state is where it lives.

use super::State;
use crate::calendar::Calendar;
use crate::device::Mac;
use crate::quota::{Period, Quota};

/// Most devices blocked by the admin at once.
pub const MAX_BLOCKS: usize = 256;
/// Most quota warnings remembered: one per quota and device, for the
/// current periods only.
pub const MAX_WARNED: usize = 4096;

/// A device the admin blocked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Block {
    pub mac: Mac,
    /// When the block was set.
    pub since: i64,
    /// When it lifts (`--for`); `None`: at `unblock`.
    pub until: Option<i64>,
}

/// A quota warning that went out: for quota `quota` (its `Quota::id`),
/// device `mac`, in the period with key `period`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Warned {
    pub quota: u32,
    pub mac: Mac,
    pub period: i64,
}

/// Why a device's forwarded traffic is dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cut {
    /// The admin's block.
    Block(Block),
    /// Quota number `.0` of the config is used up; lifts at `.1`.
    Quota(usize, i64),
}

/// One device's standing against one quota.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Use {
    pub quota: usize,
    pub mac: Mac,
    pub used: u64,
}

/// The admin's block list is full.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlocksFull;

impl State {
    /// Blocks `mac` from `now` (`until`: when it lifts). Blocking a
    /// blocked device again replaces its end.
    pub fn block(&mut self, mac: Mac, now: i64, until: Option<i64>) -> Result<(), BlocksFull> {
        if let Some(b) = self.blocks.iter_mut().find(|b| b.mac == mac) {
            b.until = until;
            return Ok(());
        }
        if self.blocks.len() >= MAX_BLOCKS {
            return Err(BlocksFull);
        }
        self.blocks.push(Block {
            mac,
            since: now,
            until,
        });
        self.blocks.sort_unstable_by_key(|b| b.mac);
        Ok(())
    }

    /// Lifts the admin's block of `mac`; false if there was none.
    pub fn unblock(&mut self, mac: Mac) -> bool {
        let before = self.blocks.len();
        self.blocks.retain(|b| b.mac != mac);
        self.blocks.len() != before
    }

    /// Lifts the timed blocks that ended at or before `now`; returns them.
    pub fn lift_expired(&mut self, now: i64) -> Vec<Block> {
        let (gone, kept) = self
            .blocks
            .iter()
            .partition(|b| b.until.is_some_and(|u| u <= now));
        self.blocks = kept;
        gone
    }

    /// The devices quota `q` applies to: every device of the state when
    /// it lists none, else each listed MAC (known or not) and each device
    /// whose name is listed.
    pub fn quota_devices(&self, q: &Quota) -> Vec<Mac> {
        let mut out: Vec<Mac> = if q.devices.is_empty() {
            self.devices.iter().map(|d| d.mac).collect()
        } else {
            q.devices.iter().flat_map(|w| self.resolve(w)).collect()
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The devices `word` names: a MAC, or every device with that name.
    pub fn resolve(&self, word: &str) -> Vec<Mac> {
        if let Some(mac) = Mac::parse(word) {
            return vec![mac];
        }
        self.devices
            .iter()
            .filter(|d| d.name.as_slice() == word.as_bytes())
            .map(|d| d.mac)
            .collect()
    }

    /// `mac`'s use of `q` in the period that holds `now`.
    pub fn quota_use(&self, q: &Quota, mac: Mac, cal: &Calendar, now: i64) -> u64 {
        let Some(d) = self.device(mac) else { return 0 };
        let key = q.period.key(cal, now);
        let bytes = match q.period {
            Period::Day => d.day(key),
            Period::Month => d.month(key as i32),
        };
        q.direction.of(bytes)
    }

    /// Every device's use of every quota, in config then MAC order.
    pub fn quota_uses(&self, quotas: &[Quota], cal: &Calendar, now: i64) -> Vec<Use> {
        let mut out = Vec::new();
        for (i, q) in quotas.iter().enumerate() {
            for mac in self.quota_devices(q) {
                let used = self.quota_use(q, mac, cal, now);
                out.push(Use {
                    quota: i,
                    mac,
                    used,
                });
            }
        }
        out
    }

    /// What cuts each device now: the admin's blocks (timed ones not yet
    /// over), then the used-up quotas with the block action. A device may
    /// appear more than once.
    pub fn cuts(&self, quotas: &[Quota], cal: &Calendar, now: i64) -> Vec<(Mac, Cut)> {
        let mut out: Vec<(Mac, Cut)> = self
            .blocks
            .iter()
            .filter(|b| b.until.is_none_or(|u| u > now))
            .map(|b| (b.mac, Cut::Block(*b)))
            .collect();
        for u in self.quota_uses(quotas, cal, now) {
            let q = &quotas[u.quota];
            if q.block && u.used >= q.limit {
                out.push((u.mac, Cut::Quota(u.quota, q.period.end(cal, now))));
            }
        }
        out
    }

    /// The devices whose forwarded traffic the firewall drops now, sorted,
    /// each once.
    pub fn blocked_now(&self, quotas: &[Quota], cal: &Calendar, now: i64) -> Vec<Mac> {
        let mut macs: Vec<Mac> = self
            .cuts(quotas, cal, now)
            .into_iter()
            .map(|c| c.0)
            .collect();
        macs.sort_unstable();
        macs.dedup();
        macs
    }

    /// The quota warnings due now (a quota with the mail action used up,
    /// by the state's numbers or, `kernel`, by the kernel's quota (quota
    /// index, MAC), which cuts a little before the state's numbers get
    /// there), not yet warned in this period, recorded as sent: the caller
    /// spools them in the same commit, so each goes out once. Warnings of
    /// past periods are forgotten.
    pub fn warnings_due(
        &mut self,
        quotas: &[Quota],
        cal: &Calendar,
        now: i64,
        kernel: &[(usize, Mac)],
    ) -> Vec<Use> {
        let current = |w: &Warned| {
            quotas
                .iter()
                .any(|q| q.id() == w.quota && q.period.key(cal, now) == w.period)
        };
        self.warned.retain(current);
        let mut due = Vec::new();
        for u in self.quota_uses(quotas, cal, now) {
            let q = &quotas[u.quota];
            let w = Warned {
                quota: q.id(),
                mac: u.mac,
                period: q.period.key(cal, now),
            };
            let used_up = u.used >= q.limit || kernel.contains(&(u.quota, u.mac));
            if !q.mail || !used_up || self.warned.contains(&w) {
                continue;
            }
            if self.warned.len() >= MAX_WARNED {
                break;
            }
            self.warned.push(w);
            due.push(u);
        }
        self.warned.sort_unstable();
        due
    }
}

/// A quota the kernel enforces for one device (nft): named after the
/// quota, the period and the device, so a new period or device is a new
/// object; it starts at the device's use so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KernelQuota {
    pub quota: usize,
    pub period: i64,
    pub mac: Mac,
    pub limit: u64,
    pub used: u64,
}

impl State {
    /// The kernel quotas for every device of every quota with the block
    /// action, in config then MAC order. `used` is at most `limit`: the
    /// kernel refuses a quota object that starts past its limit (EINVAL,
    /// as when a quota is configured after the device used more), and one
    /// that starts at it is used up all the same.
    pub fn kernel_quotas(&self, quotas: &[Quota], cal: &Calendar, now: i64) -> Vec<KernelQuota> {
        self.quota_uses(quotas, cal, now)
            .into_iter()
            .filter(|u| quotas[u.quota].block)
            .map(|u| KernelQuota {
                quota: u.quota,
                period: quotas[u.quota].period.key(cal, now),
                mac: u.mac,
                limit: quotas[u.quota].limit,
                used: u.used.min(quotas[u.quota].limit),
            })
            .collect()
    }
}

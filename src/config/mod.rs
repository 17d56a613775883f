//! `/etc/config/netmon`: UCI text (lexed by `parse::uci`), validated into
//! a `Config`; `defaults` supplies the default WAN meters.
//!
//! Two stages: `uci::Lexer` turns text into `(line, Statement)` records;
//! `Validator` here gives them meaning, section by section, and checks a
//! meter as a whole when its section ends. Unknown section types, unknown
//! options and repeated options are errors, never ignored: a typo in a
//! router's config must not silently count the wrong traffic.
//!
//! Invariants of a `Config` that `parse` returns: 0..=`MAX_METERS` meters
//! with distinct valid names, 0 only when the file has no meter section at
//! all (it asks for the default WAN meters, which `with_default_meters`
//! adds at every run, since the default route can move; meter sections
//! that are all `enabled '0'` are an error, not that request); each meter
//! has 1-3 distinct hooks; src, dst and proto agree on one IP family; `iif` only with hooks that have an
//! input interface (input, forward), `oif` only with hooks that have an
//! output interface (output, forward). Every error names the file and the
//! line (0 = the file as a whole) and is one sentence saying what is wrong
//! and how to fix it. Limits: `MAX_METERS` meter sections (disabled ones
//! count), `uci::MAX_WORD` bytes a word; the 33rd meter is an error.
//!
//! Each section's options are a table of names whose position selects the
//! setter; a repeated option is found by a per-section array of lines
//! (0 = not set yet); every sentence is a template filled by `fill`.

mod defaults;
mod mail;
mod quota;

pub use defaults::{default_config, lan_device, offload, wan_meters_on_link, with_default_meters};

use crate::device::{DEFAULT_MAX_DEVICES, MAX_DEVICES};
use crate::mail::config::MailConfig;
use crate::meter::{
    valid_ifname, valid_name, Cidr, CidrError, Hook, IfName, Link, Meter, Name, Proto, MAX_METERS,
};
use crate::parse::uci::{Lexer, Statement};
use crate::quota::{Quota, MAX_QUOTAS};
use crate::text::{fill, fill_n, join, num, parse_u64, suggest, word_index, Buf};

/// Where netmon looks for its config when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/config/netmon";

/// Which firewall backend to drive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BackendChoice {
    Auto,
    Nft,
    Iptables,
}

impl BackendChoice {
    pub fn parse(s: &str) -> Option<BackendChoice> {
        const B: [BackendChoice; 4] = [
            BackendChoice::Auto,
            BackendChoice::Nft,
            BackendChoice::Nft,
            BackendChoice::Iptables,
        ];
        B.get(word_index(s, &["auto", "nft", "nftables", "iptables"])?)
            .copied()
    }
}

/// Where the meters came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Source {
    /// Read from this file.
    File(String),
    /// This file defines no meter: the default WAN meters, built for the
    /// interface `wan` of the default route (the file's other settings hold).
    FileDefault { file: String, wan: String },
    /// No config file: the embedded default, built for this WAN interface.
    Default { wan: String },
}

impl Source {
    /// The config file the meters come from (the default path when there
    /// is none).
    pub fn path(&self) -> &str {
        match self {
            Source::File(f) | Source::FileDefault { file: f, .. } => f,
            Source::Default { .. } => DEFAULT_PATH,
        }
    }
}

/// A validated configuration.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Config {
    pub source: Source,
    pub meters: heapless::Vec<Meter, MAX_METERS>,
    /// `option persist_dir`: where `sync` keeps the durable copy (flash or USB).
    pub persist_dir: Option<String>,
    /// `option sync_interval` in seconds (`12h`, `30m`, `1d`, `600`).
    pub sync_interval: Option<u32>,
    /// `option billing_day` (1-31): the day month buckets start on.
    pub billing_day: Option<u8>,
    /// `config netmon 'main'` / `option backend` (auto|nft|iptables); CLI overrides.
    pub backend: Option<BackendChoice>,
    /// `config netmon 'main'` / `option state_dir`; CLI overrides.
    pub state_dir: Option<String>,
    /// `config netmon 'main'` / `option metrics_file`: where every commit
    /// writes the Prometheus metrics (a textfile collector's directory in
    /// RAM); `None` (absent or empty): not written.
    pub metrics_file: Option<String>,
    /// `config mail 'mail'` (validated even when `enabled` is 0).
    pub mail: Option<MailConfig>,
    /// `config devices 'devices'`; `None`: the file does not say (see
    /// `Config::devices_on`).
    pub devices: Option<DevicesConfig>,
    /// `config quota` sections that are enabled, in file order.
    pub quotas: Vec<Quota>,
}

/// Per-device accounting on the LAN side (`config devices 'devices'`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DevicesConfig {
    pub enabled: bool,
    /// `option bridge`: the LAN bridge; `None`: `br-lan`, else the device
    /// of `network.lan` (found by the caller).
    pub bridge: Option<IfName>,
    /// `option max_devices`: kernel set size and devices kept in the state.
    pub max_devices: u32,
}

/// A config error: the file, the 1-based line (0 = whole file), and the
/// sentence saying what is wrong and how to fix it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: u32,
    pub msg: String,
}

impl ConfigError {
    /// `cannot read FILE line N: MSG` — the sentence after `netmon: `.
    pub fn sentence(&self) -> String {
        let n = num(u64::from(self.line));
        let t = match self.line {
            0 => "cannot read {}: {}",
            _ => "cannot read {} line {}: {}",
        };
        let line_or_msg = if self.line == 0 {
            &self.msg
        } else {
            n.as_str()
        };
        fill(t, &[&self.file, line_or_msg, &self.msg])
    }
}

/// Parses and validates the text of a UCI config file named `file`.
pub fn parse(text: &str, file: &str) -> Result<Box<Config>, ConfigError> {
    let mut v = Validator::new(file);
    for item in Lexer::new(text) {
        let r = match item {
            Ok((line, st)) => v.statement(line, st),
            Err(e) => Err(v.fail(e.line, e.msg)),
        };
        if r.is_err() {
            return Err(v.error());
        }
    }
    if v.finish().is_err() {
        return Err(v.error());
    }
    Ok(v.cfg)
}

/// A failed check inside the validator: the error itself waits in
/// `Validator::failure`, so that every `?` on the way out moves nothing.
struct Fail;

/// Section types this file may hold.
const SECTION_TYPES: [&str; 5] = ["netmon", "meter", "mail", "devices", "quota"];
/// Options of `config devices 'devices'`.
const DEVICE_OPTIONS: [&str; 3] = ["enabled", "bridge", "max_devices"];
/// Options of `config netmon 'main'`, in the order of the setters in
/// `Validator::main_option` (and of the "known:" list in messages).
const MAIN_OPTIONS: [&str; 6] = [
    "backend",
    "state_dir",
    "persist_dir",
    "sync_interval",
    "billing_day",
    "metrics_file",
];
/// Options of `config meter 'NAME'`; positions index `Draft::lines`.
const METER_OPTIONS: [&str; 7] = ["hook", "src", "dst", "iif", "oif", "proto", "enabled"];
const HOOK: usize = 0;
const SRC: usize = 1;
const DST: usize = 2;
const IIF: usize = 3;
const OIF: usize = 4;
const PROTO: usize = 5;
/// Protocol names offered in suggestions (`Proto::parse` also takes `ipv6-icmp`).
const PROTOS: [&str; 7] = ["tcp", "udp", "icmp", "icmpv6", "sctp", "gre", "esp"];
/// Longest `state_dir` (PATH_MAX would be 4096; a state dir is short).
const MAX_PATH: usize = 255;

/// `option KEY 'VALUE': WHY`, the shape of every bad-value message.
fn bad(key: &str, value: &str, why: &str) -> String {
    fill("option {} '{}': {}", &[key, value, why])
}

/// A meter section being read: the meter itself, and the line each
/// option was set on (0 = not yet; `HOOK`: the first hook's line).
struct Draft {
    meter: Meter,
    line: u32,
    lines: [u32; METER_OPTIONS.len()],
    /// The line of each hook in `meter.hooks`.
    hook_lines: [u32; 3],
    enabled: bool,
}

enum Section {
    None,
    Main,
    Meter(Box<Draft>),
    Mail(Box<mail::MailDraft>),
    Devices,
    Quota(Box<quota::QuotaDraft>),
}

/// Stage two: statements in, a `Config` out.
struct Validator<'f> {
    file: &'f str,
    section: Section,
    /// Every meter section seen so far, enabled or not, with its line.
    names: heapless::Vec<(Name, u32), MAX_METERS>,
    /// The result being filled: enabled meters and main options (boxed:
    /// it holds every meter inline, and is moved out at the end).
    cfg: Box<Config>,
    /// Line of `config netmon 'main'` and of `config mail 'mail'` (0 = none yet).
    main_line: u32,
    mail_line: u32,
    devices_line: u32,
    /// Quota sections seen so far (disabled ones too), and their names.
    quota_count: usize,
    quota_names: Vec<String>,
    /// Line each devices option was set on.
    device_lines: [u32; DEVICE_OPTIONS.len()],
    /// Line each main option was set on, by position in `MAIN_OPTIONS`.
    main_lines: [u32; MAIN_OPTIONS.len()],
    /// The line and sentence of the error that stopped the validation.
    failure: (u32, String),
}

impl<'f> Validator<'f> {
    fn new(file: &'f str) -> Validator<'f> {
        Validator {
            file,
            section: Section::None,
            names: heapless::Vec::new(),
            cfg: Box::new(Config::empty(Source::File(file.into()))),
            main_line: 0,
            mail_line: 0,
            devices_line: 0,
            quota_count: 0,
            quota_names: Vec::new(),
            device_lines: [0; DEVICE_OPTIONS.len()],
            main_lines: [0; MAIN_OPTIONS.len()],
            failure: (0, String::new()),
        }
    }

    /// Keeps the error (on `line`, 0 = the whole file) for `error`.
    fn fail(&mut self, line: u32, msg: String) -> Fail {
        // Every caller returns at its first `Fail`: written once.
        self.failure = (line, msg);
        Fail
    }

    /// The error kept by `fail`.
    fn error(&mut self) -> ConfigError {
        let (line, msg) = core::mem::take(&mut self.failure);
        ConfigError {
            file: self.file.into(),
            line,
            msg,
        }
    }

    fn statement(&mut self, line: u32, st: Statement<'_>) -> Result<(), Fail> {
        match st {
            // `uci import` files may name their package; only ours makes sense.
            Statement::Package { name } if name == "netmon" => Ok(()),
            Statement::Package { name } => {
                let m = "package '{}' is not netmon (remove the package line)";
                Err(self.fail(line, fill(m, &[&name])))
            }
            Statement::Config { ty, name } => {
                self.close()?;
                self.open(line, &ty, name.as_deref())
                    .map_err(|m| self.fail(line, m))
            }
            Statement::Option { key, value } => self.option(line, &key, &value, false),
            Statement::List { key, value } => self.option(line, &key, &value, true),
        }
    }

    fn open(&mut self, line: u32, ty: &str, name: Option<&str>) -> Result<(), String> {
        let Some(i) = word_index(ty, &SECTION_TYPES) else {
            let m = fill("unknown section type '{}'", &[ty]);
            return Err(suggest(
                &m,
                ty,
                &SECTION_TYPES,
                " (known types: netmon, meter, mail, devices, quota)",
            ));
        };
        if i == 1 {
            return self.open_meter(line, name);
        }
        if i == 4 {
            return self.open_quota(line, name);
        }
        // Scripts read `uci get netmon.main.state_dir` and `netmon.mail.to`,
        // so these names are fixed.
        let (fixed, first) = match i {
            0 => ("main", &mut self.main_line),
            2 => ("mail", &mut self.mail_line),
            _ => ("devices", &mut self.devices_line),
        };
        if name != Some(fixed) {
            let m = "the {} section must be named '{}' (write: config {} '{}')";
            return Err(fill(m, &[ty, fixed, ty, fixed]));
        }
        if *first != 0 {
            let m = "section {} '{}' appears twice (first on line {}); merge the two";
            return Err(fill_n(m, &[ty, fixed], *first as usize));
        }
        *first = line;
        self.section = match i {
            0 => Section::Main,
            2 => Section::Mail(Box::new(mail::MailDraft::new(line))),
            _ => {
                self.cfg.devices = Some(DevicesConfig::default());
                Section::Devices
            }
        };
        Ok(())
    }

    fn open_meter(&mut self, line: u32, name: Option<&str>) -> Result<(), String> {
        let name = name.ok_or_else(|| {
            String::from(
                "a meter section needs a name, since the section name is the meter's name \
                 (write: config meter 'NAME')",
            )
        })?;
        let name = meter_name(name).ok_or_else(|| {
            let m = "meter name '{}' is not valid (use up to 24 of a-z, 0-9 and _, starting \
                     with a letter)";
            fill(m, &[name])
        })?;
        if let Some((_, first)) = self.names.iter().find(|(n, _)| *n == name) {
            let m = "meter '{}' is defined twice (first on line {}); rename one";
            return Err(fill_n(m, &[&name], *first as usize));
        }
        if self.names.push((name.clone(), line)).is_err() {
            let m = "too many meters: netmon counts at most {} meter sections, disabled ones \
                     included (remove or merge some)";
            return Err(fill_n(m, &[], MAX_METERS));
        }
        self.section = Section::Meter(Box::new(Draft::new(name, line)));
        Ok(())
    }

    /// A quota section: named by the admin, or `quotaN` by its place.
    fn open_quota(&mut self, line: u32, name: Option<&str>) -> Result<(), String> {
        self.quota_count += 1;
        let name = match name {
            Some(n) => n.into(),
            None => fill_n("quota{}", &[], self.quota_count),
        };
        if self.quota_count > MAX_QUOTAS {
            let m = "too many quotas: netmon keeps at most {} quota sections, disabled ones \
                     included (merge some)";
            return Err(fill_n(m, &[], MAX_QUOTAS));
        }
        if self.quota_names.contains(&name) {
            let m = "quota '{}' is defined twice; rename one";
            return Err(fill(m, &[&name]));
        }
        self.quota_names.push(name.clone());
        self.section = Section::Quota(Box::new(quota::QuotaDraft::new(line, name)));
        Ok(())
    }

    fn option(&mut self, line: u32, key: &str, value: &str, list: bool) -> Result<(), Fail> {
        let r = match &mut self.section {
            Section::None => Err(String::from(
                "an option before the first section (start with config meter 'NAME')",
            )),
            Section::Main => self.main_option(line, key, value, list),
            Section::Meter(d) => d.option(line, key, value, list),
            Section::Mail(d) => d.option(line, key, value, list),
            Section::Devices => self.devices_option(line, key, value, list),
            Section::Quota(d) => d.option(line, key, value, list),
        };
        r.map_err(|m| self.fail(line, m))
    }

    fn main_option(&mut self, line: u32, key: &str, value: &str, list: bool) -> Result<(), String> {
        let i = check_option(key, value, list, &MAIN_OPTIONS, "the netmon section")?;
        let c = &mut self.cfg;
        // Every setter gives only the reason: one `bad` builds the sentence.
        let r = match i {
            0 => BackendChoice::parse(value)
                .map(|b| c.backend = Some(b))
                .ok_or("unknown backend (use auto, nft or iptables)"),
            1 | 2 if value.starts_with('/') && value.len() > MAX_PATH => {
                let m = "option {} is longer than {} bytes; use a shorter path";
                return Err(fill_n(m, &[key], MAX_PATH));
            }
            1 | 2 => abs_path(value).map(|p| {
                *if i == 1 {
                    &mut c.state_dir
                } else {
                    &mut c.persist_dir
                } = Some(p)
            }),
            3 => interval(value).map(|n| c.sync_interval = Some(n)),
            4 => billing_day(value).map(|d| c.billing_day = Some(d)),
            // Empty: off, as when absent.
            _ if value.trim_ascii().is_empty() => Ok(()),
            _ if value.len() > MAX_PATH => {
                let m = "option {} is longer than {} bytes; use a shorter path";
                return Err(fill_n(m, &[key], MAX_PATH));
            }
            _ => file_path(value).map(|p| c.metrics_file = Some(p)),
        };
        r.map_err(|why| bad(key, value, why))?;
        set_once(&mut self.main_lines, i, key, line)
    }

    fn devices_option(
        &mut self,
        line: u32,
        key: &str,
        value: &str,
        list: bool,
    ) -> Result<(), String> {
        let i = check_option(key, value, list, &DEVICE_OPTIONS, "the devices section")?;
        let d = self.cfg.devices.get_or_insert_with(DevicesConfig::default);
        match i {
            0 => d.enabled = boolean(key, value)?,
            1 => d.bridge = Some(ifname(value).map_err(|why| bad(key, value, why))?),
            _ => d.max_devices = max_devices(value).map_err(|why| bad(key, value, why))?,
        }
        set_once(&mut self.device_lines, i, key, line)
    }

    /// Ends the open section; a meter is checked as a whole and kept if enabled.
    fn close(&mut self) -> Result<(), Fail> {
        let r = match core::mem::replace(&mut self.section, Section::None) {
            Section::Meter(d) => d.finish().map(|m| {
                if let Some(m) = m {
                    // `names` has the same capacity and is pushed first: this fits.
                    let _ = self.cfg.meters.push(m);
                }
            }),
            Section::Mail(d) => d.finish().map(|m| self.cfg.mail = Some(m)),
            Section::Quota(d) => d.finish().map(|q| self.cfg.quotas.extend(q)),
            _ => Ok(()),
        };
        r.map_err(|(line, m)| self.fail(line, m))
    }

    /// No meter section at all is the request for the default WAN meters
    /// (an empty `meters`); sections that are all disabled are a mistake.
    fn finish(&mut self) -> Result<(), Fail> {
        self.close()?;
        if self.cfg.meters.is_empty() && !self.names.is_empty() {
            let m = "every meter is disabled (set option enabled '1' in at least one, or \
                     remove them all to count the default WAN meters)";
            return Err(self.fail(0, m.into()));
        }
        Ok(())
    }
}

fn meter_name(s: &str) -> Option<Name> {
    if !valid_name(s) {
        return None;
    }
    let mut n = Name::new();
    n.push_str(s).ok()?;
    Some(n)
}

/// Checks that `key` is known to the section, is a list only if it may
/// be, and has a value; gives its position in `known`. uci treats
/// `option KEY ''` as "unset"; netmon refuses it so that an edit never
/// silently drops a match.
fn check_option(
    key: &str,
    value: &str,
    list: bool,
    known: &[&'static str],
    section: &str,
) -> Result<usize, String> {
    let Some(i) = word_index(key, known) else {
        let m = fill("unknown option '{}'", &[key]);
        let mut fallback = Buf::new();
        fallback.fill(" for {} (known: ", &[section]);
        join(&mut fallback, known, ", ");
        fallback.push_bytes(b")");
        return Err(suggest(&m, key, known, fallback.as_str()));
    };
    if list && key != "hook" {
        let m = "option {} takes one value (write: option {} '...'; only hook may be a list)";
        return Err(fill(m, &[key, key]));
    }
    // An empty metrics_file is the documented way to turn it off.
    if value.bytes().all(|b| b == b' ' || b == b'\t') && key != "metrics_file" {
        return Err(fill(
            "option {} has no value (give one, or remove the line)",
            &[key],
        ));
    }
    Ok(i)
}

/// Records that option `i` of a section is set on `line`, refusing a
/// second setting: uci would let the last one win, which hides a mistake
/// in a file edited by hand.
fn set_once(lines: &mut [u32], i: usize, key: &str, line: u32) -> Result<(), String> {
    match lines.get_mut(i) {
        Some(l) if *l != 0 => {
            let m = "option {} is set twice (first on line {}); keep one";
            Err(fill_n(m, &[key], *l as usize))
        }
        Some(l) => {
            *l = line;
            Ok(())
        }
        None => Ok(()),
    }
}

/// A path option's value (its length is checked by the caller); `Err`
/// is the reason for `bad`.
fn abs_path(value: &str) -> Result<String, &'static str> {
    if !value.starts_with('/') {
        return Err("not an absolute path (start it with /)");
    }
    Ok(value.into())
}

/// An absolute path that names a file (not a directory).
fn file_path(value: &str) -> Result<String, &'static str> {
    if value.ends_with('/') {
        return Err("names a directory: give the file's path, like /var/prometheus/netmon.prom");
    }
    abs_path(value)
}

/// Longest sync interval: 31 days (a longer one risks a month of history).
pub const MAX_SYNC_INTERVAL: u32 = 31 * 86_400;

/// `600`, `90s`, `30m`, `12h`, `1d` → seconds; at least 60 s (flash wear).
fn interval(value: &str) -> Result<u32, &'static str> {
    let (digits, mult) = match value.as_bytes().last() {
        Some(b's') => (value.get(..value.len() - 1), 1),
        Some(b'm') => (value.get(..value.len() - 1), 60),
        Some(b'h') => (value.get(..value.len() - 1), 3600),
        Some(b'd') => (value.get(..value.len() - 1), 86_400),
        _ => (Some(value), 1),
    };
    match digits
        .filter(|d| d.len() <= 7)
        .and_then(|d| parse_u64(d).ok())
    {
        // At most 7 digits times 86400 cannot overflow a u64.
        Some(n) if (60..=u64::from(MAX_SYNC_INTERVAL)).contains(&(n * mult)) => {
            Ok((n * mult) as u32)
        }
        _ => Err("not a duration between 1m and 31d (write e.g. '12h', '30m', '1d' or seconds)"),
    }
}

/// 1-31, one or two digits (a `+` sign allowed, as `str::parse` took it).
fn billing_day(value: &str) -> Result<u8, &'static str> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    match parse_u64(digits) {
        Ok(d) if (1..=31).contains(&d) && value.len() <= 2 => Ok(d as u8),
        _ => Err(
            "not a day of the month from 1 to 31 (a day past the end of a month means its last day)",
        ),
    }
}

fn ifname(value: &str) -> Result<IfName, &'static str> {
    let mut n = IfName::new();
    if valid_ifname(value) && n.push_str(value).is_ok() {
        return Ok(n);
    }
    Err(
        "not an interface name (the device as `ip link` shows it: up to 15 letters, \
         digits, _ - . @)",
    )
}

/// The reason a boolean is refused.
const NOT_BOOLEAN: &str = "not a boolean (use '1' or '0')";

/// `max_devices`: 1 to `MAX_DEVICES`.
fn max_devices(value: &str) -> Result<u32, &'static str> {
    match crate::text::parse_u64(value) {
        Ok(n) if (1..=u64::from(MAX_DEVICES)).contains(&n) => Ok(n as u32),
        _ => Err("not a number of devices from 1 to 8192"),
    }
}

/// OpenWrt's booleans, as `config_get_bool` in /lib/functions.sh reads them.
fn bool_word(value: &str) -> Option<bool> {
    const WORDS: [&str; 10] = [
        "1", "yes", "on", "true", "enabled", "0", "no", "off", "false", "disabled",
    ];
    word_index(value, &WORDS).map(|i| i < 5)
}

/// `bool_word`, or the sentence for option `key`.
fn boolean(key: &str, value: &str) -> Result<bool, String> {
    bool_word(value).ok_or_else(|| bad(key, value, NOT_BOOLEAN))
}

impl Draft {
    fn new(name: Name, line: u32) -> Draft {
        Draft {
            meter: Meter {
                name,
                hooks: heapless::Vec::new(),
                link: None,
                src: None,
                dst: None,
                iif: None,
                oif: None,
                proto: None,
            },
            line,
            lines: [0; METER_OPTIONS.len()],
            hook_lines: [0; 3],
            enabled: true,
        }
    }

    fn option(&mut self, line: u32, key: &str, value: &str, list: bool) -> Result<(), String> {
        let i = check_option(key, value, list, &METER_OPTIONS, "a meter")?;
        let m = &mut self.meter;
        // Every setter gives only the reason: one `bad` builds the sentence.
        let r = match i {
            HOOK => return self.add_hooks(line, value, list),
            SRC | DST => Cidr::parse(value)
                .map(|c| *if i == SRC { &mut m.src } else { &mut m.dst } = Some(c))
                .map_err(CidrError::as_str),
            IIF | OIF => {
                ifname(value).map(|n| *if i == IIF { &mut m.iif } else { &mut m.oif } = Some(n))
            }
            PROTO => Proto::parse(value)
                .map(|p| m.proto = Some(p))
                .ok_or("unknown protocol"),
            _ => bool_word(value)
                .map(|b| self.enabled = b)
                .ok_or(NOT_BOOLEAN),
        };
        if let Err(why) = r {
            let m = bad(key, value, why);
            return Err(match i {
                PROTO => suggest(
                    &m,
                    value,
                    &PROTOS,
                    " (use tcp, udp, icmp, icmpv6, sctp, gre or esp)",
                ),
                _ => m,
            });
        }
        set_once(&mut self.lines, i, key, line)
    }

    /// `option hook 'input forward'` or one `list hook` per hook; uci turns
    /// an `option` followed by `list`s into one list, and so does netmon.
    fn add_hooks(&mut self, line: u32, value: &str, list: bool) -> Result<(), String> {
        if let (false, Some(&first)) = (list, self.hook_lines.first().filter(|l| **l != 0)) {
            let m = "option hook is set twice (first on line {}); give all hooks in one \
                     option hook 'input forward'";
            return Err(fill_n(m, &[], first as usize));
        }
        // The lexer refuses every control character but tab, so ASCII
        // whitespace here is space and tab, the separators uci knows.
        for word in value.split_ascii_whitespace() {
            self.add_hook(line, word)?;
        }
        Ok(())
    }

    fn add_hook(&mut self, line: u32, word: &str) -> Result<(), String> {
        let link = match word {
            "ingress" => Some(Link::Ingress),
            "egress" => Some(Link::Egress),
            _ => None,
        };
        let mixed = match link {
            Some(_) => self.meter.link.is_some() || !self.meter.hooks.is_empty(),
            None => self.meter.link.is_some(),
        };
        if mixed {
            let m = "meter '{}' mixes hook ingress or egress (on the link) with other hooks; a \
                     link hook sees everything the others would, so give it alone";
            return Err(fill(m, &[&self.meter.name]));
        }
        if link.is_some() {
            self.meter.link = link;
            self.hook_lines[0] = line;
            return Ok(());
        }
        const HOOKS: [&str; 5] = ["input", "output", "forward", "ingress", "egress"];
        let hook = Hook::parse(word).ok_or_else(|| {
            let m = bad("hook", word, "unknown hook");
            let fallback = " (hooks are input, output, forward, ingress and egress)";
            suggest(&m, word, &HOOKS, fallback)
        })?;
        let hooks = &mut self.meter.hooks;
        if hooks.contains(&hook) {
            let m = "hook {} is given twice in meter '{}' (list each hook once)";
            return Err(fill(m, &[word, &self.meter.name]));
        }
        if let Some(l) = self.hook_lines.get_mut(hooks.len()) {
            *l = line;
        }
        // Three distinct hooks exist, so a fourth push cannot happen.
        hooks.push(hook).map_err(|_| String::from("too many hooks"))
    }

    /// The whole-meter checks, then the meter if it is enabled. An error
    /// is reported on the later of the two lines that disagree.
    fn finish(self) -> Result<Option<Meter>, (u32, String)> {
        if self.meter.hooks.is_empty() && self.meter.link.is_none() {
            let m = "meter '{}' has no hook (add option hook 'input', 'output', 'forward', \
                     'ingress' or 'egress')";
            return Err((self.line, fill(m, &[&self.meter.name])));
        }
        self.check_link()?;
        self.check_family()?;
        self.check_interfaces()?;
        Ok(self.enabled.then_some(self.meter))
    }

    /// One rule matches one family: nft's `ip saddr`/`ip6 saddr`, and
    /// iptables vs ip6tables, cannot mix IPv4 and IPv6 in one match.
    fn check_family(&self) -> Result<(), (u32, String)> {
        let m = &self.meter;
        let l = &self.lines;
        if let (Some(s), Some(d)) = (m.src, m.dst) {
            if s.family() != d.family() {
                let m = "options src and dst are of different IP families (one IPv4, one IPv6); \
                         a meter matches one family, so split it into two meters";
                return Err((l[SRC].max(l[DST]), m.into()));
            }
        }
        let addr = m.src.map(|c| (c, l[SRC])).or(m.dst.map(|c| (c, l[DST])));
        let (Some(p), Some((a, al))) = (m.proto, addr) else {
            return Ok(());
        };
        match p.family() {
            Some(f) if f != a.family() => {
                let m = match p {
                    Proto::Icmp => {
                        "option proto 'icmp' matches only IPv4 but the meter's addresses are \
                         IPv6 (use proto 'icmpv6')"
                    }
                    _ => {
                        "option proto 'icmpv6' matches only IPv6 but the meter's addresses are \
                         IPv4 (use proto 'icmp')"
                    }
                };
                Err((l[PROTO].max(al), m.into()))
            }
            _ => Ok(()),
        }
    }

    /// A link hook names its device: ingress with `iif`, egress with `oif`,
    /// and only that one.
    fn check_link(&self) -> Result<(), (u32, String)> {
        let m = &self.meter;
        let (need, other, other_line) = match m.link {
            None => return Ok(()),
            Some(Link::Ingress) => (m.iif.is_some(), m.oif.is_some(), self.lines[OIF]),
            Some(Link::Egress) => (m.oif.is_some(), m.iif.is_some(), self.lines[IIF]),
        };
        let (hook, key, no) = match m.link {
            Some(Link::Ingress) => ("ingress", "iif", "oif"),
            _ => ("egress", "oif", "iif"),
        };
        if !need {
            let t = "meter '{}' counts on hook {}, which needs the device: add option {}";
            return Err((self.hook_lines[0], fill(t, &[&m.name, hook, key])));
        }
        if other {
            let t = "option {} cannot match on hook {} in meter '{}' (the hook is on the {} \
                     device; remove option {})";
            return Err((other_line, fill(t, &[no, hook, &m.name, key, no])));
        }
        Ok(())
    }

    /// On the output hook a packet has no input interface yet, and on the
    /// input hook no output interface (iptables refuses `-i` in OUTPUT and
    /// `-o` in INPUT): such a rule would count nothing.
    fn check_interfaces(&self) -> Result<(), (u32, String)> {
        for (&hook, &hl) in self.meter.hooks.iter().zip(&self.hook_lines) {
            let (key, il, why) = match hook {
                Hook::Output if self.meter.iif.is_some() => (
                    "iif",
                    self.lines[IIF],
                    "packets the router sends have no input",
                ),
                Hook::Input if self.meter.oif.is_some() => (
                    "oif",
                    self.lines[OIF],
                    "packets for the router have no output",
                ),
                _ => continue,
            };
            let m = "option {} cannot match on hook {} in meter '{}': {} interface (remove {}, \
                     or move hook {} to a meter of its own)";
            let h = hook.as_str();
            return Err((
                hl.max(il),
                fill(m, &[key, h, &self.meter.name, why, key, h]),
            ));
        }
        Ok(())
    }
}
impl Config {
    /// A config without meters and settings, from `source`.
    fn empty(source: Source) -> Config {
        Config {
            source,
            meters: heapless::Vec::new(),
            persist_dir: None,
            sync_interval: None,
            billing_day: None,
            backend: None,
            state_dir: None,
            metrics_file: None,
            mail: None,
            devices: None,
            quotas: Vec::new(),
        }
    }

    /// The devices settings in effect: the file's section, or when it has
    /// none, on (with the defaults) for the default WAN meters (no file, or
    /// a file without meters, as shipped) and off for a file that lists
    /// its meters (it says exactly what to count).
    pub fn devices_on(&self) -> Option<DevicesConfig> {
        match (&self.devices, &self.source) {
            (Some(d), _) => Some(d.clone()).filter(|d| d.enabled),
            (None, Source::File(_)) => None,
            (None, _) => Some(DevicesConfig::default()),
        }
    }
}

impl Default for DevicesConfig {
    fn default() -> DevicesConfig {
        DevicesConfig {
            enabled: true,
            bridge: None,
            max_devices: DEFAULT_MAX_DEVICES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::Family;
    use crate::parse::route::default_wan;

    const BLOG: &str = "\
config netmon 'main'
\toption backend 'auto'

config meter 'proxy'
\toption hook 'input'
\toption src '192.168.1.10'

config meter 'offnet'
\toption hook 'input'
\toption src '!192.168.1.0/24'
";

    fn ok(text: &str) -> Box<Config> {
        parse(text, "/etc/config/netmon").unwrap_or_else(|e| panic!("{}", e.sentence()))
    }

    /// (line, message) of the error `text` must produce.
    fn err(text: &str) -> (u32, String) {
        let e = parse(text, "/etc/config/netmon").expect_err("should be refused");
        (e.line, e.msg)
    }

    fn assert_err(text: &str, line: u32, msg: &str) {
        let (l, m) = err(text);
        assert_eq!((l, m.as_str()), (line, msg), "for:\n{text}");
    }

    fn name(s: &str) -> Name {
        Name::try_from(s).unwrap()
    }

    #[test]
    fn durable_state_options() {
        let c = ok("config netmon 'main'\n option persist_dir '/mnt/usb/netmon'\n option sync_interval 30m\n option billing_day 31\nconfig meter 'a'\n option hook input\n");
        assert_eq!(c.persist_dir.as_deref(), Some("/mnt/usb/netmon"));
        assert_eq!((c.sync_interval, c.billing_day), (Some(1800), Some(31)));
        for (v, secs) in [
            ("600", 600),
            ("90s", 90),
            ("12h", 43_200),
            ("1d", 86_400),
            ("31d", MAX_SYNC_INTERVAL),
        ] {
            assert_eq!(interval(v), Ok(secs), "{v}");
        }
        for v in ["59", "32d", "", "h", "-5m", "1.5h", "+60"] {
            assert!(interval(v).is_err(), "{v}");
        }
    }

    fn ifn(s: &str) -> IfName {
        IfName::try_from(s).unwrap()
    }

    fn hooks(h: &[Hook]) -> heapless::Vec<Hook, 3> {
        h.iter().copied().collect()
    }

    fn bare(n: &str, h: &[Hook]) -> Meter {
        Meter {
            name: name(n),
            hooks: hooks(h),
            link: None,
            src: None,
            dst: None,
            iif: None,
            oif: None,
            proto: None,
        }
    }

    #[test]
    fn blog_config_parses_to_its_two_meters() {
        let c = ok(BLOG);
        let proxy = Meter {
            src: Some(Cidr::parse("192.168.1.10/32").unwrap()),
            ..bare("proxy", &[Hook::Input])
        };
        let offnet = Meter {
            src: Some(Cidr {
                addr: "192.168.1.0".parse().unwrap(),
                prefix: 24,
                negate: true,
            }),
            ..bare("offnet", &[Hook::Input])
        };
        assert_eq!(c.meters.as_slice(), [proxy, offnet]);
        assert_eq!(c.backend, Some(BackendChoice::Auto));
        assert_eq!(c.state_dir, None);
        assert_eq!(c.source, Source::File("/etc/config/netmon".into()));
    }

    #[test]
    fn metrics_file_is_a_path_or_off() {
        let main = |v: &str| format!("config netmon 'main'\n option metrics_file '{v}'\n");
        let c = ok(&main("/var/prometheus/netmon.prom"));
        assert_eq!(
            c.metrics_file.as_deref(),
            Some("/var/prometheus/netmon.prom")
        );
        assert_eq!(ok(&main("")).metrics_file, None, "empty is off");
        assert_eq!(ok("config netmon 'main'\n").metrics_file, None);
    }

    #[test]
    fn every_meter_option_lands_in_the_meter() {
        let c = ok("config netmon 'main'\n option backend nftables\n option state_dir '/tmp/nm'\n\
                    config meter 'v6'\n option hook 'input forward'\n list hook output\n\
                    option src 'fd00::/8'\n option dst '!fd00::1'\n option proto icmpv6\n\
                    config meter 'wan'\n list hook input\n list hook forward\n option iif 'eth0.2'\n\
                    config meter 'up'\n option hook forward\n option oif pppoe-wan\n option proto tcp\n");
        assert_eq!(c.backend, Some(BackendChoice::Nft));
        assert_eq!(c.state_dir.as_deref(), Some("/tmp/nm"));
        let [v6, wan, up] = c.meters.as_slice() else {
            panic!("{:?}", c.meters)
        };
        assert_eq!(v6.hooks, hooks(&[Hook::Input, Hook::Forward, Hook::Output]));
        assert_eq!(v6.family(), Some(Family::V6));
        assert_eq!(v6.dst, Some(Cidr::parse("!fd00::1").unwrap()));
        assert_eq!(v6.proto, Some(Proto::Icmpv6));
        assert_eq!(wan.hooks, hooks(&[Hook::Input, Hook::Forward]));
        assert_eq!(wan.iif, Some(ifn("eth0.2")));
        assert_eq!(
            (up.oif.as_deref(), up.proto),
            (Some("pppoe-wan"), Some(Proto::Tcp))
        );
    }

    #[test]
    fn quotes_escapes_and_comments_reach_the_values() {
        let c = ok("# netmon\nconfig meter \"lan\" # the LAN\n\
                    \toption hook \"in\\put\"   # escaped letter\n\
                    \toption src 192.168.'1'.\"0/24\"\n\
                    \toption iif br-lan#comment right after\n");
        let m = &c.meters[0];
        assert_eq!(m.hooks, hooks(&[Hook::Input]));
        assert_eq!(m.src, Some(Cidr::parse("192.168.1.0/24").unwrap()));
        assert_eq!(m.iif, Some(ifn("br-lan")));
    }

    #[test]
    fn disabled_meters_are_left_out() {
        let c = ok("config meter a\n option hook input\n option enabled 0\n\
                    config meter b\n option hook input\n option enabled '1'\n\
                    config meter c\n option hook input\n option enabled no\n");
        let names: Vec<&str> = c.meters.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["b"]);
        assert_err(
            "config meter a\n option hook input\n option enabled 0\n",
            0,
            "every meter is disabled (set option enabled '1' in at least one, or remove them \
             all to count the default WAN meters)",
        );
        assert_err(
            "config meter a\n option hook input\n option enabled maybe\n",
            3,
            "option enabled 'maybe': not a boolean (use '1' or '0')",
        );
    }

    #[test]
    fn section_errors_name_their_line() {
        assert_err(
            "config meter\n option hook input\n",
            1,
            "a meter section needs a name, since the section name is the meter's name \
             (write: config meter 'NAME')",
        );
        assert_err(
            "\nconfig metre 'a'\n",
            2,
            "unknown section type 'metre' (did you mean 'meter'?)",
        );
        assert_err(
            "config interface 'a'\n",
            1,
            "unknown section type 'interface' (known types: netmon, meter, mail, devices, quota)",
        );
        assert_err(
            "config netmon\n",
            1,
            "the netmon section must be named 'main' (write: config netmon 'main')",
        );
        assert_err(
            "config netmon main\nconfig netmon main\n",
            2,
            "section netmon 'main' appears twice (first on line 1); merge the two",
        );
        assert_err(
            "config meter 'WAN'\n",
            1,
            "meter name 'WAN' is not valid (use up to 24 of a-z, 0-9 and _, starting with a letter)",
        );
        assert_err(
            "config meter a\n option hook input\n\nconfig meter a\n",
            4,
            "meter 'a' is defined twice (first on line 1); rename one",
        );
        assert_err(
            "option hook input\n",
            1,
            "an option before the first section (start with config meter 'NAME')",
        );
        assert_err(
            "package 'firewall'\n",
            1,
            "package 'firewall' is not netmon (remove the package line)",
        );
    }

    #[test]
    fn option_errors_name_their_line() {
        let m = "config meter 'a'\n option hook input\n";
        let cases: &[(&str, &str)] = &[
            (" option enabeld 0", "unknown option 'enabeld' (did you mean 'enabled'?)"),
            (" option scr 10.0.0.1", "unknown option 'scr' (did you mean 'src'?)"),
            (
                " option description x",
                "unknown option 'description' for a meter (known: hook, src, dst, iif, oif, proto, enabled)",
            ),
            (" list src 10.0.0.1", "option src takes one value (write: option src '...'; only hook may be a list)"),
            (" option src ''", "option src has no value (give one, or remove the line)"),
            (
                " option src '192.168.1.1/24'",
                "option src '192.168.1.1/24': host bits set after the prefix (write the network address)",
            ),
            (" option dst 'lan'", "option dst 'lan': not an IPv4 or IPv6 address"),
            (
                " option src 10.0.0.0/40",
                "option src '10.0.0.0/40': prefix length out of range (0-32 for IPv4, 0-128 for IPv6)",
            ),
            (
                " option iif 'eth 0'",
                "option iif 'eth 0': not an interface name (the device as `ip link` shows it: up to 15 letters, digits, _ - . @)",
            ),
            (" option proto tpc", "option proto 'tpc': unknown protocol (did you mean 'tcp'?)"),
            (
                " option proto ospf",
                "option proto 'ospf': unknown protocol (use tcp, udp, icmp, icmpv6, sctp, gre or esp)",
            ),
            (" option hook output", "option hook is set twice (first on line 2); give all hooks in one option hook 'input forward'"),
            (" list hook input", "hook input is given twice in meter 'a' (list each hook once)"),
            (" list hook 'forward inptu'", "option hook 'inptu': unknown hook (did you mean 'input'?)"),
            (" list hook prerouting", "option hook 'prerouting': unknown hook (hooks are input, output, forward, ingress and egress)"),
        ];
        for (opt, msg) in cases {
            assert_err(&format!("{m}\n{opt}\n"), 4, msg);
        }
        // The same option twice is refused, not last-one-wins.
        assert_err(
            &format!("{m} option src 10.0.0.1\n option src 10.0.0.2\n"),
            4,
            "option src is set twice (first on line 3); keep one",
        );
    }

    #[test]
    fn main_section_option_errors() {
        let cases: &[(&str, &str)] = &[
            ("option backend nftabels", "option backend 'nftabels': unknown backend (use auto, nft or iptables)"),
            ("option state_dir tmp/netmon", "option state_dir 'tmp/netmon': not an absolute path (start it with /)"),
            ("option stat_dir /tmp", "unknown option 'stat_dir' (did you mean 'state_dir'?)"),
            ("option interval 5", "unknown option 'interval' for the netmon section (known: backend, state_dir, persist_dir, sync_interval, billing_day, metrics_file)"),
            ("option metrics_file netmon.prom", "option metrics_file 'netmon.prom': not an absolute path (start it with /)"),
            ("option metrics_file /var/prometheus/", "option metrics_file '/var/prometheus/': names a directory: give the file's path, like /var/prometheus/netmon.prom"),
            ("option sync_interval 5", "option sync_interval '5': not a duration between 1m and 31d (write e.g. '12h', '30m', '1d' or seconds)"),
            ("option sync_interval 12x", "option sync_interval '12x': not a duration between 1m and 31d (write e.g. '12h', '30m', '1d' or seconds)"),
            ("option sync_interval 99999999d", "option sync_interval '99999999d': not a duration between 1m and 31d (write e.g. '12h', '30m', '1d' or seconds)"),
            ("option billing_day 32", "option billing_day '32': not a day of the month from 1 to 31 (a day past the end of a month means its last day)"),
            ("option billing_day 0", "option billing_day '0': not a day of the month from 1 to 31 (a day past the end of a month means its last day)"),
            ("option persist_dir etc/netmon", "option persist_dir 'etc/netmon': not an absolute path (start it with /)"),
            ("list backend nft", "option backend takes one value (write: option backend '...'; only hook may be a list)"),
        ];
        for (opt, msg) in cases {
            assert_err(&format!("config netmon 'main'\n\t{opt}\n"), 2, msg);
        }
        let long = format!("/{}", "d".repeat(MAX_PATH));
        assert_err(
            &format!("config netmon 'main'\n option state_dir '{long}'\n"),
            2,
            "option state_dir is longer than 255 bytes; use a shorter path",
        );
    }

    #[test]
    fn billing_day_keeps_what_str_parse_took() {
        // billing_day took `str::parse::<u8>`'s `+`.
        assert_eq!(billing_day("+5"), Ok(5));
        assert_eq!(billing_day("05"), Ok(5));
        assert!(billing_day("-5").is_err() && billing_day("005").is_err());
    }

    #[test]
    fn whole_meter_checks_report_the_later_line() {
        assert_err(
            "config meter a\n option hook input\n option src 10.0.0.0/8\n option dst fd00::/8\n",
            4,
            "options src and dst are of different IP families (one IPv4, one IPv6); \
             a meter matches one family, so split it into two meters",
        );
        assert_err(
            "config meter a\n option proto icmp\n option hook input\n option src fd00::1\n",
            4,
            "option proto 'icmp' matches only IPv4 but the meter's addresses are IPv6 (use proto 'icmpv6')",
        );
        assert_err(
            "config meter a\n option dst 10.0.0.1\n option hook input\n option proto icmpv6\n\nconfig meter b\n",
            4,
            "option proto 'icmpv6' matches only IPv6 but the meter's addresses are IPv4 (use proto 'icmp')",
        );
        assert_err(
            "config meter up\n option iif eth0\n option hook output\n",
            3,
            "option iif cannot match on hook output in meter 'up': packets the router sends have no \
             input interface (remove iif, or move hook output to a meter of its own)",
        );
        assert_err(
            "config meter down\n list hook input\n option oif eth0\n",
            3,
            "option oif cannot match on hook input in meter 'down': packets for the router have no \
             output interface (remove oif, or move hook input to a meter of its own)",
        );
        // Several hooks: the one that cannot take the interface is named.
        assert_err(
            "config meter x\n list hook forward\n option iif eth0\n list hook output\n list hook input\n",
            4,
            "option iif cannot match on hook output in meter 'x': packets the router sends have no \
             input interface (remove iif, or move hook output to a meter of its own)",
        );
        assert_err(
            "config meter nohook\n option src 10.0.0.1\n\nconfig meter b\n option hook input\n",
            1,
            "meter 'nohook' has no hook (add option hook 'input', 'output', 'forward', 'ingress' or 'egress')",
        );
        // Same family, and a family-free proto, are fine.
        ok("config meter a\n option hook forward\n option src 10.0.0.0/8\n option dst !10.1.0.0/16\n option proto udp\n option iif lan\n option oif wan\n");
    }

    fn meters(n: usize) -> String {
        let mut s = String::from("config netmon 'main'\n");
        for i in 0..n {
            s.push_str(&format!("\nconfig meter 'm{i}'\n\toption hook 'input'\n"));
        }
        s
    }

    #[test]
    fn thirty_two_meters_fit_and_the_thirty_third_is_refused() {
        assert_eq!(ok(&meters(MAX_METERS)).meters.len(), MAX_METERS);
        // Meter i (from 0) opens on line 3 + 3i: the 33rd (i = 32) on 99.
        assert_err(
            &meters(MAX_METERS + 1),
            99,
            "too many meters: netmon counts at most 32 meter sections, disabled ones included \
             (remove or merge some)",
        );
    }

    #[test]
    fn hostile_values_are_refused_not_passed_on() {
        // A line feed inside a quoted value (it would end a mail header).
        assert_err(
            "config meter a\n option hook input\n option iif 'eth0\nBcc: x@y'\n",
            3,
            "the ' quote is not closed on this line (close it; a value cannot span lines)",
        );
        assert_err(
            "config meter a\n option hook \"input\r\nforward\"\n",
            2,
            "this line holds a carriage return (byte 13); remove it (values may contain tabs but no other control characters)",
        );
        assert_err(
            "config meter a\n\n option hook 'in\0put'\n",
            3,
            "this line holds a NUL byte (byte 0); remove it (values may contain tabs but no other control characters)",
        );
    }

    #[test]
    fn sentence_names_file_and_line() {
        let e = parse(
            &format!("{BLOG}\toption intreval 5\n"),
            "/etc/config/netmon",
        )
        .unwrap_err();
        assert_eq!(
            e.sentence(),
            "cannot read /etc/config/netmon line 11: unknown option 'intreval' for a meter \
             (known: hook, src, dst, iif, oif, proto, enabled)"
        );
        let e = parse(
            "config meter a\n option hook input\n option enabled 0\n",
            "/tmp/x",
        )
        .unwrap_err();
        assert!(
            e.sentence().starts_with("cannot read /tmp/x: every meter"),
            "{}",
            e.sentence()
        );
    }

    /// A deterministic LCG (Numerical Recipes constants): no dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn no_input_makes_parse_panic() {
        let full = format!(
            "{BLOG}config meter 'x'\n\tlist hook \"for\\\nward\" ; option oif 'eth0' # c\n"
        );
        for i in 0..=full.len() {
            let _ = parse(&full[..i], "f");
        }
        // Bytes weighted towards UCI's own punctuation and keywords, so the
        // random texts reach past the first statement.
        let alphabet: &[&[u8]] = &[
            b"config ",
            b"meter ",
            b"netmon ",
            b"option ",
            b"list ",
            b"hook ",
            b"input",
            b"src ",
            b"'",
            b"\"",
            b"\\",
            b"#",
            b";",
            b"\n",
            b"\r",
            b" ",
            b"\t",
            b"\0",
            b"a",
            b"1",
            b"/",
            b"!",
            b":",
            b"\xc3\xa9",
            b"\xff",
            b"10.0.0.0/8",
            b"iif ",
            b"eth0",
            b"proto ",
            b"icmp",
        ];
        let mut rng = Lcg(42);
        for _ in 0..4000 {
            let mut bytes = Vec::new();
            let len = rng.next() % 64;
            for _ in 0..len {
                let r = rng.next() as usize;
                if r.is_multiple_of(4) {
                    bytes.push((r >> 8) as u8);
                } else {
                    bytes.extend_from_slice(alphabet[(r >> 8) % alphabet.len()]);
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text, "f");
        }
    }

    /// This machine's /proc/net/route, copied verbatim (tabs and trailing blanks).
    const ROUTE_REAL: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               \n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               \n";

    /// This machine's /proc/net/ipv6_route, copied verbatim.
    const V6_REAL: &str = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";

    const ROUTE_HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    fn wan(route: &str, v6: &str) -> Option<String> {
        match default_config(default_wan(route, v6).as_deref(), DEFAULT_PATH)
            .ok()?
            .source
        {
            Source::Default { wan } => Some(wan),
            _ => None,
        }
    }

    #[test]
    fn default_config_builds_wan_meters_for_the_default_route() {
        let c = default_config(default_wan(ROUTE_REAL, V6_REAL).as_deref(), DEFAULT_PATH).unwrap();
        assert_eq!(c.source, Source::Default { wan: "eth0".into() });
        let down = Meter {
            iif: Some(ifn("eth0")),
            ..bare("wan_down", &[Hook::Input, Hook::Forward])
        };
        let up = Meter {
            oif: Some(ifn("eth0")),
            ..bare("wan_up", &[Hook::Output, Hook::Forward])
        };
        assert_eq!(c.meters.as_slice(), [down, up]);
        assert_eq!((c.backend, c.state_dir), (None, None));
    }

    #[test]
    fn the_lowest_metric_default_route_wins() {
        let two = format!(
            "{ROUTE_HEADER}wwan0\t00000000\t0101A8C0\t0003\t0\t0\t20\t00000000\t0\t0\t0\n\
             br-lan\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
             pppoe-wan\t00000000\t0100000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n\
             eth1\t00000000\t0100000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n"
        );
        assert_eq!(wan(&two, "").as_deref(), Some("pppoe-wan"));
        // Down routes (no RTF_UP) and reject routes do not count.
        let down = format!(
            "{ROUTE_HEADER}eth9\t00000000\t0100000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n\
             eth8\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n\
             eth1\t00000000\t0100000A\t0003\t0\t0\t50\t00000000\t0\t0\t0\n"
        );
        assert_eq!(wan(&down, "").as_deref(), Some("eth1"));
        // A /0 destination with a non-zero mask is no default route.
        let masked =
            format!("{ROUTE_HEADER}eth1\t00000000\t0100000A\t0003\t0\t0\t0\t000000FF\t0\t0\t0\n");
        assert_eq!(wan(&masked, ""), None);
    }

    #[test]
    fn ipv6_default_route_is_the_fallback() {
        let only_v6 = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
00000000000000000000000000000000 00 20010db8000000000000000000000000 30 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 pppoe-wan
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000200 00000001 00000000 00000003 wan6
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 br-lan
";
        assert_eq!(wan(ROUTE_HEADER, only_v6).as_deref(), Some("wan6"));
        assert_eq!(wan(ROUTE_HEADER, V6_REAL).as_deref(), Some("eth0"));
        // IPv4 wins over IPv6 when both exist.
        let v4 =
            format!("{ROUTE_HEADER}eth1\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
        assert_eq!(wan(&v4, only_v6).as_deref(), Some("eth1"));
    }

    #[test]
    fn no_default_route_says_so_and_what_to_do() {
        let e = default_config(
            default_wan(ROUTE_HEADER, "").as_deref(),
            "/etc/config/netmon",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "there is no default route and no config file /etc/config/netmon, so netmon has no \
             WAN interface to count: run it again once the WAN is up (ip route show default), or \
             create /etc/config/netmon with config meter sections"
        );
        // The path given with --config is the one named.
        let e = default_config(default_wan("", "").as_deref(), "/tmp/nm.cfg").unwrap_err();
        assert!(e.contains("no config file /tmp/nm.cfg,"), "{e}");
        // Only the loopback reject route: still none.
        let lo_only = V6_REAL
            .lines()
            .filter(|l| l.ends_with("lo"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(default_config(default_wan("", &lo_only).as_deref(), DEFAULT_PATH).is_err());
        assert!(default_config(
            default_wan("garbage\n\t\t\n00000000", "zz 00 \n").as_deref(),
            DEFAULT_PATH
        )
        .is_err());
    }

    /// A file with settings and mail but no meter section.
    const NO_METERS: &str = "\
# netmon: only settings; the WAN meters are the default ones
config netmon 'main'
\toption backend 'iptables'
\toption state_dir '/tmp/nm'
\toption persist_dir '/mnt/usb/netmon'
\toption sync_interval '6h'
\toption billing_day '15'

config mail 'mail'
\toption server 'mail.example.org'
\toption from 'router@example.org'
\tlist to 'me@example.org'
";

    /// The default meters, on `wan`.
    fn wan_pair(wan: &str) -> [Meter; 2] {
        [
            Meter {
                iif: Some(ifn(wan)),
                ..bare("wan_down", &[Hook::Input, Hook::Forward])
            },
            Meter {
                oif: Some(ifn(wan)),
                ..bare("wan_up", &[Hook::Output, Hook::Forward])
            },
        ]
    }

    #[test]
    fn no_meter_section_asks_for_the_default_wan_meters() {
        // Parsing alone: no meters, the file as source (nothing resolved yet).
        let parsed = ok(NO_METERS);
        assert!(parsed.meters.is_empty());
        assert_eq!(parsed.source, Source::File("/etc/config/netmon".into()));
        // On a swconfig router whose WAN is eth0.2.
        let route =
            format!("{ROUTE_HEADER}eth0.2\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
        let c = with_default_meters(parsed.clone(), default_wan(&route, "").as_deref()).unwrap();
        assert_eq!(
            c.source,
            Source::FileDefault {
                file: "/etc/config/netmon".into(),
                wan: "eth0.2".into()
            }
        );
        assert_eq!(c.meters.as_slice(), wan_pair("eth0.2"));
        // Every other setting of the file is kept.
        assert_eq!(c.backend, Some(BackendChoice::Iptables));
        assert_eq!(c.state_dir.as_deref(), Some("/tmp/nm"));
        assert_eq!(c.persist_dir.as_deref(), Some("/mnt/usb/netmon"));
        assert_eq!((c.sync_interval, c.billing_day), (Some(6 * 3600), Some(15)));
        let mail = c.mail.as_ref().expect("mail section kept");
        assert_eq!(mail, parsed.mail.as_ref().unwrap());
        assert_eq!(mail.to, ["me@example.org"]);
        // Resolved per run: the same file follows the route to PPPoE.
        let ppp = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                   fe800000000000000000000000000001 00000400 00000001 00000000 00000003 pppoe-wan\n";
        let c = with_default_meters(parsed, default_wan(ROUTE_HEADER, ppp).as_deref()).unwrap();
        assert_eq!(c.meters.as_slice(), wan_pair("pppoe-wan"));
    }

    #[test]
    fn empty_and_comment_only_files_also_mean_the_default_meters() {
        for text in [
            "",
            "\n\n",
            "# nothing here yet\n#config meter 'x'\n",
            "package netmon\n",
            "config netmon 'main'\n",
            "config mail 'mail'\n option enabled 0\n option server s\n option from a@b\n list to c@d\n",
        ] {
            let c = ok(text);
            assert!(c.meters.is_empty(), "{text:?}");
            let c = with_default_meters(c, default_wan(ROUTE_REAL, "").as_deref()).unwrap();
            assert_eq!(c.meters.as_slice(), wan_pair("eth0"), "{text:?}");
        }
    }

    #[test]
    fn all_disabled_meters_stay_an_error_not_the_default() {
        // Disabling every meter is explicit: netmon must not count the WAN instead.
        let text = format!(
            "{NO_METERS}\nconfig meter 'lan'\n\toption hook 'input'\n\toption enabled '0'\n"
        );
        let (line, msg) = err(&text);
        assert_eq!(line, 0);
        assert!(msg.starts_with("every meter is disabled"), "{msg}");
    }

    #[test]
    fn a_file_without_meters_and_no_default_route_names_the_file() {
        let parsed = parse(NO_METERS, "/etc/config/netmon").unwrap();
        let e = with_default_meters(parsed, default_wan(ROUTE_HEADER, "").as_deref()).unwrap_err();
        assert_eq!(
            e,
            "there is no default route, and /etc/config/netmon defines no meter, so netmon has no \
             WAN interface to count: run it again once the WAN is up (ip route show default), or \
             add config meter sections with option iif or oif to /etc/config/netmon"
        );
    }

    /// The conffile the package installs.
    const SHIPPED: &str = include_str!("../../openwrt/files/netmon.config");

    #[test]
    fn the_shipped_config_means_the_default_wan_meters() {
        let c = parse(SHIPPED, DEFAULT_PATH).unwrap_or_else(|e| panic!("{}", e.sentence()));
        assert!(c.meters.is_empty(), "the shipped file must define no meter");
        assert_eq!(c.backend, Some(BackendChoice::Auto));
        // Node-exporter-lua's textfile collector finds the metrics as
        // installed (issue 13's default).
        assert_eq!(
            c.metrics_file.as_deref(),
            Some("/var/prometheus/netmon.prom")
        );
        let c = with_default_meters(c, default_wan(ROUTE_REAL, "").as_deref()).unwrap();
        assert_eq!(c.meters.as_slice(), wan_pair("eth0"));
    }

    #[test]
    fn the_shipped_examples_are_valid_when_uncommented() {
        // `#config ...` and `#<TAB>option ...` lines are examples; prose
        // comments are `# ` and stay comments.
        let uncommented: String = SHIPPED
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with("config ") || rest.starts_with('\t') => rest,
                _ => l,
            })
            .flat_map(|l| [l, "\n"])
            .collect();
        let c = parse(&uncommented, DEFAULT_PATH).unwrap_or_else(|e| panic!("{}", e.sentence()));
        let names: Vec<&str> = c.meters.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["wan_down", "wan_up", "proxy", "offnet", "nas_v6_down"]
        );
        // The WAN examples are the default meters, on the DSA name.
        assert_eq!(c.meters[..2], wan_pair("wan"));
    }

    #[test]
    fn quota_sections_parse_and_refuse_what_is_wrong() {
        let c = ok("config quota 'kids'\n\tlist device 'phone'\n\tlist device '02:00:00:00:00:01'\n\toption period 'day'\n\toption limit '1.5G'\n\toption direction 'down'\n\toption action 'block mail'\nconfig quota\n\toption limit '10GB'\n\toption action 'mail'\n");
        assert_eq!(c.quotas.len(), 2);
        let q = &c.quotas[0];
        assert_eq!(
            (q.name.as_str(), q.limit, q.block, q.mail),
            ("kids", 3 << 29, true, true)
        );
        assert_eq!(q.devices, ["phone", "02:00:00:00:00:01"]);
        assert_eq!(
            (q.period, q.direction),
            (crate::quota::Period::Day, crate::quota::Direction::Down)
        );
        let every = &c.quotas[1];
        assert_eq!(
            (every.name.as_str(), every.limit),
            ("quota2", 10_000_000_000)
        );
        assert!(every.devices.is_empty() && every.mail && !every.block);
        assert_eq!(every.period, crate::quota::Period::Month);
        assert_err(
            "config quota 'a'\n\toption action 'block'\n",
            1,
            "quota 'a' has no limit (add option limit, e.g. '20G')",
        );
        assert_err(
            "config quota 'a'\n\toption limit '5G'\n",
            1,
            "quota 'a' has no action (add option action 'block', 'mail' or 'block mail')",
        );
        assert_err(
            "config quota 'a'\n\toption limit '5 G'\n",
            2,
            "option limit '5 G': not a number of bytes above 0 (write e.g. '500M', '20G' or '1.5T'; G is GiB, GB is 10^9)",
        );
        assert_err(
            "config quota 'a'\n\toption action 'cut'\n",
            2,
            "option action 'cut': not an action (use block, mail or 'block mail')",
        );
        assert_err(
            "config quota 'a'\n\toption limit '1G'\n\toption action 'mail'\nconfig quota 'a'\n",
            4,
            "quota 'a' is defined twice; rename one",
        );
        let disabled = ok(
            "config quota 'a'\n\toption limit '1G'\n\toption action 'mail'\n\toption enabled '0'\n",
        );
        assert!(disabled.quotas.is_empty());
    }
}

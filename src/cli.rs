//! Command line: argh structs (the raw layer; doc comments are the help
//! text) and their validation into a `Command` in one place.

use crate::config::BackendChoice;
use crate::error::{Error, Result};
pub use crate::report::daily::DailyFormat;
use crate::report::devices;
use crate::report::top;
use crate::text::word_index;
use argh::FromArgs;

pub const DEFAULT_CONFIG: &str = "/etc/config/netmon";

#[derive(FromArgs, PartialEq, Debug)]
/// Network-usage accounting on the firewall's own counters. Without a command, runs `report`.
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Args {
    /// config file (default /etc/config/netmon; when it is missing, WAN download/upload meters for the default-route interface are used)
    #[argh(option, arg_name = "path")]
    pub config: Option<String>,
    /// state directory (default /tmp/netmon, or option state_dir)
    #[argh(option, arg_name = "dir")]
    pub state_dir: Option<String>,
    /// firewall backend: auto (default), nft or iptables
    #[argh(option, arg_name = "name")]
    pub backend: Option<String>,
    /// persistent state directory, written only by a sync (default /etc/netmon, or option persist_dir)
    #[argh(option, arg_name = "dir")]
    pub persist_dir: Option<String>,
    /// print every firewall command that would run, one per line, and run none (no state is written)
    #[argh(switch)]
    pub dry_run: bool,
    /// when no good copy of the state exists, move the damaged ones aside and start afresh
    #[argh(switch)]
    pub force: bool,
    /// also send warnings and errors to syslog (logread), even on a terminal; without it, only when stderr is not one
    #[argh(switch)]
    pub syslog: bool,
    #[argh(subcommand)]
    pub cmd: Option<Sub>,
}

#[derive(FromArgs, PartialEq, Debug)]
#[argh(subcommand)]
pub enum Sub {
    Start(StartArgs),
    Stop(StopArgs),
    Update(UpdateArgs),
    Report(ReportArgs),
    Status(StatusArgs),
    Daily(DailyArgs),
    Sync(SyncArgs),
    MailTest(MailTestArgs),
    MailRequeue(MailRequeueArgs),
    Shutdown(ShutdownArgs),
    Forget(ForgetArgs),
    Devices(DevicesArgs),
    Block(BlockArgs),
    Unblock(UnblockArgs),
    Blocked(BlockedArgs),
    Quota(QuotaArgs),
    Top(TopArgs),
    Metrics(MetricsArgs),
}

#[derive(FromArgs, PartialEq, Debug)]
/// Install the counting rules (idempotent) and take a first reading. Aliases: initiate, initialise.
#[argh(subcommand, name = "start")]
pub struct StartArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Take a last reading, save the totals (also to flash), then remove exactly the rules start added; netmon stays stopped (update counts nothing) until start. Aliases: clear, flush.
#[argh(subcommand, name = "stop")]
pub struct StopArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Before a reboot or power-off (the init script runs it): take a last reading and save the totals to flash. The rules stay until the reboot; the next start or update continues without a reset alarm.
#[argh(subcommand, name = "shutdown")]
pub struct ShutdownArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Drop a retired meter (one no longer in the config) with its totals and history. netmon status lists the retired meters.
#[argh(subcommand, name = "forget")]
pub struct ForgetArgs {
    /// the retired meter's name
    #[argh(positional, arg_name = "meter")]
    pub meter: String,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Read the counters and add them to the totals; reinstall the rules if they vanished (what cron runs).
#[argh(subcommand, name = "update")]
pub struct UpdateArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then show usage since the last report and the running totals.
#[argh(subcommand, name = "report")]
pub struct ReportArgs {
    /// output format: text (default) or json
    #[argh(option, arg_name = "fmt")]
    pub format: Option<String>,
    /// add usage of the last N days (1-62) from the saved buckets
    #[argh(option, arg_name = "n")]
    pub days: Option<String>,
    /// add usage per billing month (24) from the saved buckets
    #[argh(switch)]
    pub months: bool,
    /// also mail the report (config mail 'mail'); kept in a spool and retried when it cannot be sent
    #[argh(switch)]
    pub mail: bool,
    /// only look: the next report still starts where this one started (for dashboards and scripts that poll)
    #[argh(switch)]
    pub peek: bool,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Send a short test message with the mail settings and say what the server answered.
#[argh(subcommand, name = "mail-test")]
pub struct MailTestArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Move report mail given up after repeated refusals (spool/failed, see status) back into the spool, counters reset, and deliver the spool now.
#[argh(subcommand, name = "mail-requeue")]
pub struct MailRequeueArgs {
    /// the message to requeue: its file name in spool/failed (the .msg suffix may be left out)
    #[argh(positional, arg_name = "entry")]
    pub entry: Option<String>,
    /// requeue every given-up message
    #[argh(switch)]
    pub all: bool,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Show the backend, whether the rules are in place, the meters and the state.
#[argh(subcommand, name = "status")]
pub struct StatusArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Show usage per day (MiB; json: bytes), or per billing month, from the saved buckets.
#[argh(subcommand, name = "daily")]
pub struct DailyArgs {
    /// output format: tsv (default), csv or json
    #[argh(option, arg_name = "fmt")]
    pub format: Option<String>,
    /// how many days up to today (1-62, default 31)
    #[argh(option, arg_name = "n")]
    pub days: Option<String>,
    /// show billing months (up to 24) instead of days
    #[argh(switch)]
    pub months: bool,
    /// convert a netmon log file (time and running totals per meter) instead, like the blog's graph script
    #[argh(option, arg_name = "file")]
    pub log: Option<String>,
    /// one LAN device's download and upload instead (its name, or its MAC; netmon devices lists them); days 1-31, months 12
    #[argh(option, arg_name = "device")]
    pub device: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then show usage per LAN device (download, upload, name, addresses): this billing month, or the last N days.
#[argh(subcommand, name = "devices")]
pub struct DevicesArgs {
    /// output format: text (default), json or tsv (bytes)
    #[argh(option, arg_name = "fmt")]
    pub format: Option<String>,
    /// the last N days (1-31) instead of this billing month
    #[argh(option, arg_name = "n")]
    pub days: Option<String>,
    /// this billing month (the default)
    #[argh(switch)]
    pub months: bool,
    /// order by download, upload or total (default), largest first
    #[argh(option, arg_name = "key")]
    pub sort: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Cut a LAN device off: its traffic through the router (internet, other subnets; IPv4 and IPv6, established connections too) is dropped, its access to the router itself (DHCP, DNS, LuCI, SSH) is not. Kept across firewall reloads and reboots until unblock (or --for ends).
#[argh(subcommand, name = "block")]
pub struct BlockArgs {
    /// the device: its name (netmon devices lists them), MAC or IP address
    #[argh(positional, arg_name = "device")]
    pub device: String,
    /// lift the block after this long (e.g. 30m, 2h, 1d, 90s; lifted by the first update after it ends)
    #[argh(option, arg_name = "duration", long = "for")]
    pub for_: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Lift a block set with netmon block (a quota's cut lifts when its period ends).
#[argh(subcommand, name = "unblock")]
pub struct UnblockArgs {
    /// the device: its name, MAC or IP address
    #[argh(positional, arg_name = "device")]
    pub device: String,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then list the devices cut off now: blocked by the admin (until when) or by a used-up quota.
#[argh(subcommand, name = "blocked")]
pub struct BlockedArgs {
    /// output format: text (default) or json
    #[argh(option, arg_name = "fmt")]
    pub format: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then show each quota per device: used, limit, remaining, days left in the period and what that allows per day.
#[argh(subcommand, name = "quota")]
pub struct QuotaArgs {
    /// output format: text (default) or json
    #[argh(option, arg_name = "fmt")]
    pub format: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Show live download and upload rates per LAN device and per meter, highest first, from the firewall's counters read every few seconds (read-only: no state is written, no lock held). On a terminal it redraws in place until Ctrl-C; otherwise, or with --count, it prints a block of plain text per interval.
#[argh(subcommand, name = "top")]
pub struct TopArgs {
    /// seconds between two readings, a whole number from 1 to 3600 (default 2)
    #[argh(option, arg_name = "secs")]
    pub interval: Option<String>,
    /// print N blocks (1-100000), then exit; without it, top runs until Ctrl-C or SIGTERM
    #[argh(option, arg_name = "n")]
    pub count: Option<String>,
    /// order devices by download (default) or upload rate
    #[argh(option, arg_name = "key")]
    pub sort: Option<String>,
}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then print the totals per meter and device, the quotas and the blocks as Prometheus metrics (text exposition format 0.0.4).
#[argh(subcommand, name = "metrics")]
pub struct MetricsArgs {}

#[derive(FromArgs, PartialEq, Debug)]
/// Update, then copy the state to the persistent directory now (also done every sync_interval and by stop).
#[argh(subcommand, name = "sync")]
pub struct SyncArgs {}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    Start,
    Stop,
    Update,
    Report(ReportFormat, History, ReportEnd),
    MailTest,
    /// One given-up message by name, or all (None).
    MailRequeue(Option<String>),
    Status,
    Daily(Daily),
    Sync,
    Shutdown,
    Forget(String),
    Devices(DevicesView),
    /// The device as given, and for how many seconds (None: until unblock).
    Block(String, Option<u32>),
    Unblock(String),
    /// JSON (else text).
    Blocked(bool),
    Quota(bool),
    Top(TopView),
    Metrics,
}

/// What `top` shows, and how often.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TopView {
    /// Seconds between two readings.
    pub interval: u32,
    /// Blocks to print before exiting (plain text even on a terminal).
    pub count: Option<u32>,
    pub sort: top::Sort,
}

/// What `devices` shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DevicesView {
    pub format: devices::Format,
    pub span: devices::Span,
    pub sort: devices::Sort,
}

/// What a report does after it is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReportEnd {
    /// The next report starts now (the blog's "usage since the last report").
    Mark,
    /// Mailed too, then marked.
    Mail,
    /// Nothing: the next report starts where this one started.
    Peek,
}

/// History a report adds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum History {
    None,
    Days(u8),
    Months,
}

/// What `daily` shows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Daily {
    pub format: DailyFormat,
    pub days: u8,
    pub months: bool,
    pub log: Option<String>,
    /// One device's columns (download, upload) instead of the meters': a
    /// name or a MAC, looked up in the state when the command runs.
    pub device: Option<String>,
}

/// Most days `daily` can show: the day buckets kept per meter.
pub const MAX_DAILY_DAYS: u8 = crate::state::DAYS as u8;
/// Most days `daily --device` can show: the day buckets kept per device.
pub const MAX_DEVICE_DAYS: u8 = crate::state::DEVICE_DAYS as u8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReportFormat {
    Text,
    Json,
}

/// A validated command line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Command {
    pub action: Action,
    pub config: String,
    /// Whether --config was given (a missing explicit file is an error).
    pub config_given: bool,
    pub state_dir: Option<String>,
    pub persist_dir: Option<String>,
    pub backend: Option<BackendChoice>,
    pub dry_run: bool,
    pub force: bool,
    /// Warnings and errors go to syslog too, even on a terminal.
    pub syslog: bool,
}

/// What parsing the command line produced.
pub enum Parsed {
    /// Boxed: a `Command` is large, and moves through every `?` and match.
    Run(Box<Command>),
    /// `--help` and the like: print this on stdout, exit 0.
    Help(String),
}

/// Every command and alias with the command it names, for the lookup and
/// for suggestions. The blog's command names are kept as aliases:
/// `initiate`, `initialise` (and `initialize`) start, `clear` and `flush`
/// stop.
const COMMANDS: &[(&str, &str)] = &[
    ("start", "start"),
    ("stop", "stop"),
    ("update", "update"),
    ("report", "report"),
    ("status", "status"),
    ("daily", "daily"),
    ("sync", "sync"),
    ("mail-test", "mail-test"),
    ("mail-requeue", "mail-requeue"),
    ("shutdown", "shutdown"),
    ("forget", "forget"),
    ("devices", "devices"),
    ("block", "block"),
    ("unblock", "unblock"),
    ("blocked", "blocked"),
    ("quota", "quota"),
    ("top", "top"),
    ("metrics", "metrics"),
    ("help", "help"),
    ("initiate", "start"),
    ("initialise", "start"),
    ("initialize", "start"),
    ("clear", "stop"),
    ("flush", "stop"),
];

/// The command `word` names, if it is one or an alias of one.
fn canonical(word: &str) -> Option<&'static str> {
    COMMANDS.iter().find(|(w, _)| *w == word).map(|&(_, c)| c)
}

/// The global options that take a value.
const VALUE_OPTIONS: [&str; 4] = ["--config", "--state-dir", "--persist-dir", "--backend"];

fn unknown_command(w: &str) -> Error {
    let mut s = String::from("unknown command '");
    s.extend(w.chars().filter(|c| !c.is_control()).take(40));
    s.push('\'');
    let words: Vec<&'static str> = COMMANDS.iter().map(|&(w, _)| w).collect();
    Error::usage(crate::text::suggest(&s, w, &words, " (see netmon --help)"))
}

/// Parses `args` (without the program name).
pub fn parse(args: &[&str]) -> Result<Parsed> {
    let mut v: Vec<&str> = args.to_vec();
    // The first word that is neither an option nor an option's value is the command.
    let mut i = 0;
    while let Some(w) = v.get_mut(i) {
        if word_index(w, &VALUE_OPTIONS).is_some() {
            i += 2;
        } else if w.starts_with('-') {
            i += 1;
        } else {
            *w = canonical(w).ok_or_else(|| unknown_command(w))?;
            break;
        }
    }
    match Args::from_args(&["netmon"], &v) {
        Ok(a) => validate(a).map(Parsed::Run),
        Err(e) if e.status.is_ok() => Ok(Parsed::Help(e.output)),
        Err(e) => Err(usage_error(&e.output)),
    }
}

fn usage_error(out: &str) -> Error {
    let first = out
        .lines()
        .map(str::trim_ascii)
        .find(|l| !l.is_empty())
        .unwrap_or("bad arguments");
    // argh's sentences start with an ASCII capital: lower it, as the
    // sentence continues after `netmon: `.
    let mut s = String::from(first.trim_end_matches('.'));
    if let Some(c) = s.get_mut(..1) {
        c.make_ascii_lowercase();
    }
    s.push_str(" (see netmon --help)");
    Error::usage(s)
}

fn validate(a: Args) -> Result<Box<Command>> {
    let action = match a.cmd {
        None => Action::Report(ReportFormat::Text, History::None, ReportEnd::Mark),
        Some(Sub::Start(_)) => Action::Start,
        Some(Sub::Stop(_)) => Action::Stop,
        Some(Sub::Update(_)) => Action::Update,
        Some(Sub::Status(_)) => Action::Status,
        Some(Sub::Report(r)) => report(r)?,
        Some(Sub::Sync(_)) => Action::Sync,
        Some(Sub::MailTest(_)) => Action::MailTest,
        Some(Sub::MailRequeue(r)) => requeue(r)?,
        Some(Sub::Daily(d)) => Action::Daily(daily(d)?),
        Some(Sub::Shutdown(_)) => Action::Shutdown,
        Some(Sub::Forget(f)) => Action::Forget(forget(f)?),
        Some(Sub::Devices(d)) => Action::Devices(devices_view(d)?),
        Some(Sub::Block(b)) => {
            let secs = b.for_.as_deref().map(duration).transpose()?;
            Action::Block(device_word(b.device)?, secs)
        }
        Some(Sub::Unblock(u)) => Action::Unblock(device_word(u.device)?),
        Some(Sub::Blocked(b)) => {
            Action::Blocked(format(&b.format, &["text", "json"], "text or json")? == 1)
        }
        Some(Sub::Quota(q)) => {
            Action::Quota(format(&q.format, &["text", "json"], "text or json")? == 1)
        }
        Some(Sub::Top(t)) => Action::Top(top_view(t)?),
        Some(Sub::Metrics(_)) => Action::Metrics,
    };
    let backend = match a.backend.as_deref() {
        None => None,
        Some(b) => Some(
            BackendChoice::parse(b)
                .ok_or_else(|| bad_value("--backend", b, "auto, nft or iptables"))?,
        ),
    };
    for (opt, v) in [
        ("--state-dir", &a.state_dir),
        ("--persist-dir", &a.persist_dir),
    ] {
        if v.as_deref().is_some_and(str::is_empty) {
            let mut s = String::from(opt);
            s.push_str(" must not be empty");
            return Err(Error::usage(s));
        }
    }
    Ok(Box::new(Command {
        action,
        config_given: a.config.is_some(),
        config: a.config.unwrap_or_else(|| DEFAULT_CONFIG.into()),
        state_dir: a.state_dir,
        persist_dir: a.persist_dir,
        backend,
        dry_run: a.dry_run,
        force: a.force,
        syslog: a.syslog,
    }))
}

/// A meter name as the config allows it (so a typo cannot match nothing
/// silently; the state is checked when the command runs).
fn forget(f: ForgetArgs) -> Result<String> {
    if crate::meter::valid_name(&f.meter) {
        return Ok(f.meter);
    }
    Err(bad_value(
        "forget",
        &f.meter,
        "a meter name (up to 24 of a-z, 0-9 and _, starting with a letter)",
    ))
}

fn report(r: ReportArgs) -> Result<Action> {
    let fmt = match format(&r.format, &["text", "json"], "text or json")? {
        0 => ReportFormat::Text,
        _ => ReportFormat::Json,
    };
    let hist = match (r.days.as_deref(), r.months) {
        (None, false) => History::None,
        (None, true) => History::Months,
        (Some(v), false) => History::Days(days(v)?),
        (Some(_), true) => return Err(Error::usage("--days and --months cannot be combined")),
    };
    let end = match (r.mail, r.peek) {
        (false, false) => ReportEnd::Mark,
        (true, false) => ReportEnd::Mail,
        (false, true) => ReportEnd::Peek,
        (true, true) => return Err(Error::usage("--mail and --peek cannot be combined")),
    };
    Ok(Action::Report(fmt, hist, end))
}

fn devices_view(d: DevicesArgs) -> Result<DevicesView> {
    let format = match format(&d.format, &["text", "json", "tsv"], "text, json or tsv")? {
        0 => devices::Format::Text,
        1 => devices::Format::Json,
        _ => devices::Format::Tsv,
    };
    let sort = match d
        .sort
        .as_deref()
        .map(|s| (s, word_index(s, &["total", "down", "up"])))
    {
        None | Some((_, Some(0))) => devices::Sort::Total,
        Some((_, Some(1))) => devices::Sort::Down,
        Some((_, Some(_))) => devices::Sort::Up,
        Some((s, None)) => return Err(bad_value("--sort", s, "down, up or total")),
    };
    let span = match (d.days.as_deref(), d.months) {
        (Some(_), true) => return Err(Error::usage("--days and --months cannot be combined")),
        (Some(v), false) => match crate::text::parse_u64(v) {
            Ok(n) if (1..=crate::state::DEVICE_DAYS as u64).contains(&n) => {
                devices::Span::Days(n as u8)
            }
            _ => return Err(bad_value("--days", v, "a number of days from 1 to 31")),
        },
        (None, _) => devices::Span::Month,
    };
    Ok(DevicesView { format, span, sort })
}

/// Longest `block --for`: a year.
pub const MAX_BLOCK_SECONDS: u32 = 366 * 86_400;

/// `90s`, `30m`, `2h`, `1d` or seconds: 1 s to a year.
fn duration(v: &str) -> Result<u32> {
    let (digits, mult) = match v.as_bytes().last() {
        Some(b's') => (&v[..v.len() - 1], 1),
        Some(b'm') => (&v[..v.len() - 1], 60),
        Some(b'h') => (&v[..v.len() - 1], 3600),
        Some(b'd') => (&v[..v.len() - 1], 86_400),
        _ => (v, 1),
    };
    match crate::text::parse_u64(digits) {
        Ok(n) if digits.len() <= 8 && (1..=u64::from(MAX_BLOCK_SECONDS)).contains(&(n * mult)) => {
            Ok((n * mult) as u32)
        }
        _ => Err(bad_value(
            "--for",
            v,
            "a duration from 1s to 366d (e.g. 90s, 30m, 2h, 1d)",
        )),
    }
}

/// A device as the admin names it: not empty, no control characters
/// (it is resolved against the state when the command runs).
fn device_word(w: String) -> Result<String> {
    if w.is_empty() || w.len() > crate::device::MAX_DEVICE_NAME || w.chars().any(char::is_control) {
        return Err(bad_value(
            "device",
            &w,
            "a device's name (up to 63 bytes), MAC or IP address",
        ));
    }
    Ok(w)
}

/// Seconds between readings when `--interval` is not given.
pub const TOP_INTERVAL: u32 = 2;

fn top_view(t: TopArgs) -> Result<TopView> {
    let number = |opt: &str, v: Option<&str>, max: u64, want: &str| -> Result<Option<u32>> {
        let Some(v) = v else { return Ok(None) };
        match crate::text::parse_u64(v) {
            Ok(n) if (1..=max).contains(&n) => Ok(u32::try_from(n).ok()),
            _ => Err(bad_value(opt, v, want)),
        }
    };
    let interval = t.interval.as_deref();
    let whole = "a whole number of seconds from 1 to 3600";
    let interval = number("--interval", interval, 3600, whole)?.unwrap_or(TOP_INTERVAL);
    let count = number(
        "--count",
        t.count.as_deref(),
        100_000,
        "a number from 1 to 100000",
    )?;
    let sort = match t.sort.as_deref() {
        None | Some("down") => top::Sort::Down,
        Some("up") => top::Sort::Up,
        Some(s) => return Err(bad_value("--sort", s, "down or up")),
    };
    Ok(TopView {
        interval,
        count,
        sort,
    })
}

/// One entry or `--all`, not both, not neither.
fn requeue(r: MailRequeueArgs) -> Result<Action> {
    match (r.entry, r.all) {
        (Some(e), false) => Ok(Action::MailRequeue(Some(e))),
        (None, true) => Ok(Action::MailRequeue(None)),
        _ => Err(Error::usage(
            "mail-requeue needs either the name of a given-up message (see netmon status) or --all",
        )),
    }
}

/// 1-62 in decimal; a `+` sign is allowed, as `str::parse` took it.
fn days(v: &str) -> Result<u8> {
    match crate::text::parse_u64(v.strip_prefix('+').unwrap_or(v)) {
        Ok(n) if (1..=u64::from(MAX_DAILY_DAYS)).contains(&n) => Ok(n as u8),
        _ => Err(bad_value("--days", v, "a number of days from 1 to 62")),
    }
}

fn daily(d: DailyArgs) -> Result<Daily> {
    let format = match format(&d.format, &["tsv", "csv", "json"], "tsv, csv or json")? {
        0 => DailyFormat::Tsv,
        1 => DailyFormat::Csv,
        _ => DailyFormat::Json,
    };
    let days = match d.days.as_deref() {
        None => 31,
        Some(v) => days(v)?,
    };
    if d.months && d.days.is_some() {
        return Err(Error::usage("--days and --months cannot be combined"));
    }
    if let Some(dev) = &d.device {
        device_args(dev, &d, days)?;
    }
    Ok(Daily {
        format,
        days,
        months: d.months,
        log: d.log,
        device: d.device,
    })
}

/// `--device` takes no `--log`, a non-empty word, and at most the days a
/// device keeps.
fn device_args(dev: &str, d: &DailyArgs, days: u8) -> Result<()> {
    if d.log.is_some() {
        return Err(Error::usage("--device and --log cannot be combined"));
    }
    if dev.is_empty() {
        return Err(bad_value(
            "--device",
            dev,
            "a device name or MAC (see netmon devices)",
        ));
    }
    match d.days.as_deref() {
        Some(v) if days > MAX_DEVICE_DAYS => Err(bad_value(
            "--days",
            v,
            "a number of days from 1 to 31 with --device (the days a device keeps)",
        )),
        _ => Ok(()),
    }
}

/// The position of `--format`'s value in `names` (0, the default, when
/// it is not given).
fn format(v: &Option<String>, names: &[&str], want: &str) -> Result<usize> {
    match v.as_deref() {
        None => Ok(0),
        Some(o) => word_index(o, names).ok_or_else(|| bad_value("--format", o, want)),
    }
}

fn bad_value(opt: &str, v: &str, want: &str) -> Error {
    let mut s = String::from("invalid value '");
    s.extend(v.chars().filter(|c| !c.is_control()));
    Error::usage(crate::text::fill(
        "{}' for {}: expected {}",
        &[&s, opt, want],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Command {
        match parse(args) {
            Ok(Parsed::Run(c)) => *c,
            _ => panic!("expected a command for {args:?}"),
        }
    }

    #[test]
    fn bare_netmon_is_report() {
        assert_eq!(
            run(&[]).action,
            Action::Report(ReportFormat::Text, History::None, ReportEnd::Mark)
        );
    }

    #[test]
    fn blog_aliases() {
        for a in ["initiate", "initialise", "initialize", "start"] {
            assert_eq!(run(&[a]).action, Action::Start);
        }
        for a in ["clear", "flush", "stop"] {
            assert_eq!(run(&[a]).action, Action::Stop);
        }
        // An alias after global options, and an option value that looks like one.
        let c = run(&["--config", "clear", "--dry-run", "flush"]);
        assert_eq!(
            (c.action, c.config.as_str(), c.dry_run),
            (Action::Stop, "clear", true)
        );
    }

    #[test]
    fn a_peek_leaves_the_report_period_alone() {
        let c = run(&["report", "--peek", "--format", "json"]);
        assert_eq!(
            c.action,
            Action::Report(ReportFormat::Json, History::None, ReportEnd::Peek)
        );
        assert!(parse(&["report", "--peek", "--mail"]).is_err());
    }

    #[test]
    fn globals_and_formats() {
        let c = run(&[
            "--state-dir",
            "/x",
            "--backend",
            "nft",
            "report",
            "--format",
            "json",
        ]);
        assert_eq!(
            c.action,
            Action::Report(ReportFormat::Json, History::None, ReportEnd::Mark)
        );
        assert_eq!(
            run(&["report", "--days", "7"]).action,
            Action::Report(ReportFormat::Text, History::Days(7), ReportEnd::Mark)
        );
        assert_eq!(c.backend, Some(BackendChoice::Nft));
        assert_eq!(c.state_dir.as_deref(), Some("/x"));
        assert_eq!(c.config, DEFAULT_CONFIG);
        let d = Daily {
            format: DailyFormat::Csv,
            days: 7,
            months: false,
            log: None,
            device: None,
        };
        assert_eq!(
            run(&["daily", "--format", "csv", "--days", "7"]).action,
            Action::Daily(d)
        );
        assert_eq!(run(&["--force", "sync"]).action, Action::Sync);
        assert_eq!(run(&["mail-test"]).action, Action::MailTest);
        assert_eq!(
            run(&["mail-requeue", "000000000100-0000.msg"]).action,
            Action::MailRequeue(Some("000000000100-0000.msg".into()))
        );
        assert_eq!(
            run(&["mail-requeue", "--all"]).action,
            Action::MailRequeue(None)
        );
        let m = Action::Report(ReportFormat::Text, History::None, ReportEnd::Mail);
        assert_eq!(run(&["report", "--mail"]).action, m);
        assert!(run(&["--force", "sync"]).force);
    }

    #[test]
    fn errors_are_usage_errors() {
        for bad in [
            &["--bogus"][..],
            &["frobnicate"],
            &["--backend", "pf"],
            &["report", "--format", "xml"],
            &["daily", "--days", "63"],
            &["daily", "--days", "0"],
            &["daily", "--months", "--days", "3"],
            &["report", "--months", "--days", "3"],
            &["--state-dir", ""],
            &["--config"],
            &["daily", "--days", "63"],
            &["daily", "--days", "0"],
            &["daily", "--months", "--days", "3"],
            &["--state-dir", ""],
            &["mail-requeue"],
            &["mail-requeue", "x.msg", "--all"],
            &["mail-requeue", "x.msg", "y.msg"],
            &["daily", "--device", "tv", "--days", "32"],
            &["daily", "--device", "tv", "--log", "f"],
            &["daily", "--device", ""],
            &["top", "--interval", "0"],
            &["top", "--interval", "3601"],
            &["top", "--interval", "1.5"],
            &["top", "--interval", ""],
            &["top", "--count", "0"],
            &["top", "--count", "100001"],
            &["top", "--count", "-1"],
            &["top", "--sort", "total"],
            &["top", "extra"],
        ] {
            let e = parse(bad).err().expect("error");
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(!e.message().contains('\n'), "{bad:?}: {}", e.message());
        }
    }

    #[test]
    fn daily_device_takes_up_to_the_days_a_device_keeps() {
        let d = |args: &[&str]| match run(args).action {
            Action::Daily(d) => d,
            a => panic!("{a:?}"),
        };
        let one = d(&["daily", "--device", "02:00:00:00:00:01"]);
        assert_eq!(one.device.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(one.days, 31);
        assert_eq!(d(&["daily", "--device", "tv", "--days", "31"]).days, 31);
        assert!(d(&["daily", "--device", "tv", "--months"]).months);
        assert_eq!(d(&["daily", "--days", "62"]).device, None);
        let e = parse(&["daily", "--device", "tv", "--days", "32"])
            .err()
            .unwrap();
        assert_eq!(
            e.message(),
            "invalid value '32' for --days: expected a number of days from 1 to 31 with --device \
             (the days a device keeps)"
        );
    }

    #[test]
    fn top_takes_an_interval_a_count_and_a_sort() {
        let t = |args: &[&str]| match run(args).action {
            Action::Top(v) => v,
            a => panic!("{a:?}"),
        };
        let default = TopView {
            interval: TOP_INTERVAL,
            count: None,
            sort: top::Sort::Down,
        };
        assert_eq!(t(&["top"]), default);
        let v = t(&[
            "top",
            "--interval",
            "3600",
            "--count",
            "100000",
            "--sort",
            "up",
        ]);
        assert_eq!(
            (v.interval, v.count, v.sort),
            (3600, Some(100_000), top::Sort::Up)
        );
        assert_eq!(
            t(&["top", "--interval", "1", "--count", "1"]).count,
            Some(1)
        );
        let e = parse(&["top", "--interval", "0.5"]).err().unwrap();
        assert_eq!(
            e.message(),
            "invalid value '0.5' for --interval: expected a whole number of seconds from 1 to 3600"
        );
    }

    #[test]
    fn unknown_command_suggests_the_nearest() {
        let e = parse(&["reprot"]).err().expect("error");
        assert_eq!(
            e.message(),
            "unknown command 'reprot' (did you mean 'report'?)"
        );
        let e = parse(&["--dry-run", "xyzzy"]).err().expect("error");
        assert_eq!(e.message(), "unknown command 'xyzzy' (see netmon --help)");
    }

    fn help(argv: &[&str]) -> String {
        match parse(argv) {
            Ok(Parsed::Help(h)) => h,
            _ => panic!("no help for {argv:?}"),
        }
    }

    /// Every command answers `--help` and `help` with its usage line and
    /// description.
    #[test]
    fn every_command_has_help() {
        assert_eq!(
            help(&["start", "--help"]),
            "Usage: netmon start\n\nInstall the counting rules (idempotent) and take a first \
             reading. Aliases: initiate, initialise.\n\nOptions:\n  --help, help      \
             display usage information\n"
        );
        let derived = help(&["daily", "--help"]);
        assert!(derived.starts_with("Usage: netmon daily"), "{derived}");
        assert!(
            derived.ends_with("\n  --help, help      display usage information\n"),
            "argh's own help layout changed: {derived}"
        );
        let requeue = help(&["mail-requeue", "--help"]);
        assert!(
            requeue.starts_with(
                "Usage: netmon mail-requeue [--all] [--] [<entry>]\n\nMove report mail"
            ),
            "{requeue}"
        );
        for cmd in ["stop", "update", "status", "sync", "mail-test"] {
            let h = help(&[cmd, "help"]);
            assert!(h.starts_with(&format!("Usage: netmon {cmd}\n\n")), "{h}");
            assert!(h.ends_with("\n\nOptions:\n  --help, help      display usage information\n"));
        }
    }

    #[test]
    fn metrics_takes_no_arguments() {
        assert_eq!(run(&["metrics"]).action, Action::Metrics);
        assert!(parse(&["metrics", "--format", "json"]).is_err());
        let h = help(&["metrics", "--help"]);
        assert!(
            h.starts_with("Usage: netmon metrics\n\nUpdate, then print"),
            "{h}"
        );
    }

    #[test]
    fn help_is_not_an_error() {
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Help(_))));
        assert!(matches!(parse(&["report", "--help"]), Ok(Parsed::Help(_))));
    }
}

//! `/etc/config/netmon`: the UCI file format, parsed by netmon itself,
//! validated into a `Config`. (CONTRACT STUB: the config worker fills this in.)

use crate::meter::{Meter, MAX_METERS};

/// Which firewall backend to drive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BackendChoice {
    Auto,
    Nft,
    Iptables,
}

impl BackendChoice {
    pub fn parse(s: &str) -> Option<BackendChoice> {
        match s {
            "auto" => Some(BackendChoice::Auto),
            "nft" | "nftables" => Some(BackendChoice::Nft),
            "iptables" => Some(BackendChoice::Iptables),
            _ => None,
        }
    }
}

/// Where the meters came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Source {
    /// Read from this file.
    File(String),
    /// The embedded default, built for this WAN interface.
    Default { wan: String },
}

/// A validated configuration.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Config {
    pub source: Source,
    pub meters: heapless::Vec<Meter, MAX_METERS>,
    /// `config netmon 'main'` / `option backend` (auto|nft|iptables); CLI overrides.
    pub backend: Option<BackendChoice>,
    /// `config netmon 'main'` / `option state_dir`; CLI overrides.
    pub state_dir: Option<String>,
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
        let mut s = String::from("cannot read ");
        s.push_str(&self.file);
        if self.line > 0 {
            let mut b = crate::out::Buf::new();
            let _ = ufmt::uwrite!(b, " line {}", self.line);
            s.push_str(b.as_str());
        }
        s.push_str(": ");
        s.push_str(&self.msg);
        s
    }
}

/// Parses and validates the text of a UCI config file named `file`.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let _ = text;
    Err(ConfigError {
        file: file.into(),
        line: 0,
        msg: "config parser not built yet".into(),
    })
}

/// The embedded default used when the config file is missing: WAN download
/// (`hook input forward`, `iif WAN`) and upload (`hook output forward`,
/// `oif WAN`), WAN being the interface of the default route found in the
/// text of /proc/net/route, else /proc/net/ipv6_route.
pub fn default_config(route: &str, ipv6_route: &str) -> Result<Config, ConfigError> {
    let _ = (route, ipv6_route);
    Err(ConfigError {
        file: "/proc/net/route".into(),
        line: 0,
        msg: "no default route".into(),
    })
}

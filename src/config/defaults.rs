//! The default WAN meters: download and upload of the interface that
//! carries the default route, used when there is no config file or the
//! file defines no meter. The caller finds the interface at every run
//! (`parse::route::default_wan`), so a WAN failover moves the meters.

use super::{meter_name, Config, Source, DEFAULT_PATH};
use crate::meter::{Hook, IfName, Link, Meter};
use crate::text::fill;

/// The embedded default used when the config file `path` is missing: the
/// default WAN meters on `wan` (see `with_default_meters`), no other
/// settings. `Err` is the sentence for "no WAN device" (`wan` is `None`).
pub fn default_config(wan: Option<&str>, path: &str) -> Result<Box<Config>, String> {
    let mut cfg = Box::new(Config::empty(Source::File(String::new())));
    let Some(wan) = set_wan_meters(&mut cfg, wan) else {
        let m = "there is no default route and no config file {}, so netmon has no WAN \
                 interface to count: run it again once the WAN is up (ip route show default), \
                 or create {} with config meter sections";
        return Err(fill(m, &[path, path]));
    };
    cfg.source = Source::Default { wan };
    Ok(cfg)
}

/// `cfg`, parsed from a file without meter sections, with the default WAN
/// meters on `wan` and `Source::FileDefault`; its other settings are kept.
/// The caller resolves `wan` at every run (`default_wan`), as for a missing
/// file, so after a WAN failover the meters follow the new interface: their
/// rules' tags change, the next run reinstalls the rules, and the state
/// (keyed by meter name) counts that as a reset. `Err` is the sentence for
/// "no WAN device": a runtime condition (PPPoE not up yet), since the file
/// itself is fine.
pub fn with_default_meters(mut cfg: Box<Config>, wan: Option<&str>) -> Result<Box<Config>, String> {
    let file = match core::mem::replace(&mut cfg.source, Source::File(String::new())) {
        Source::File(f) | Source::FileDefault { file: f, .. } => f,
        // Not called for the missing file (`default_config` is); name the default path.
        Source::Default { .. } => DEFAULT_PATH.into(),
    };
    let Some(wan) = set_wan_meters(&mut cfg, wan) else {
        let m = "there is no default route, and {} defines no meter, so netmon has no WAN \
                 interface to count: run it again once the WAN is up (ip route show default), \
                 or add config meter sections with option iif or oif to {}";
        return Err(fill(m, &[&file, &file]));
    };
    cfg.source = Source::FileDefault { file, wan };
    Ok(cfg)
}

/// Makes `cfg`'s meters the two default ones on interface `wan`:
/// download (`hook input forward`, `iif WAN`) and upload (`hook output
/// forward`, `oif WAN`), built in place (a meter list is kilobytes).
/// Gives the interface; `None` (and `cfg` untouched) if `wan` is missing
/// or not a valid interface name.
fn set_wan_meters(cfg: &mut Config, wan: Option<&str>) -> Option<String> {
    // A kernel name, or one read back from the state dir: checked either way.
    let wan = wan.filter(|w| crate::meter::valid_ifname(w))?;
    let iface = IfName::try_from(wan).ok()?;
    let meters = &mut cfg.meters;
    meters.clear();
    // Capacity MAX_METERS (32) holds these two.
    let _ = meters.push(wan_meter(
        "wan_down",
        &[Hook::Input, Hook::Forward],
        Some(&iface),
        None,
    ));
    let _ = meters.push(wan_meter(
        "wan_up",
        &[Hook::Output, Hook::Forward],
        None,
        Some(&iface),
    ));
    Some(wan.into())
}

fn wan_meter(name: &str, hooks: &[Hook], iif: Option<&IfName>, oif: Option<&IfName>) -> Meter {
    Meter {
        name: meter_name(name).unwrap_or_default(),
        hooks: hooks.iter().copied().collect(),
        link: None,
        src: None,
        dst: None,
        iif: iif.cloned(),
        oif: oif.cloned(),
        proto: None,
    }
}

/// Moves the default WAN meters (download: input + forward with `iif`,
/// upload: output + forward with `oif`) to the WAN device's link hooks,
/// ingress and egress: the same traffic, counted where fw4's flowtable
/// cannot bypass it (and what the firewall drops counts too, as the ISP
/// counts it). For an Ethernet WAN device only: a PPP or raw-IP device
/// has no Ethernet header to account for, and offloaded PPPoE flows never
/// reach `pppoe-wan` anyway: the caller moves link meters on such a device
/// back to the firewall hooks. Names and totals stay.
pub fn wan_meters_on_link(cfg: &mut Config) {
    if matches!(cfg.source, Source::File(_)) {
        return;
    }
    for m in cfg.meters.iter_mut() {
        let link = match m.name.as_str() {
            "wan_down" => Link::Ingress,
            "wan_up" => Link::Egress,
            _ => continue,
        };
        m.hooks.clear();
        m.link = Some(link);
    }
}

/// The flow offloading the firewall config (its text) turns on.
pub fn offload(firewall: &str) -> crate::device::Offload {
    use crate::device::Offload;
    use crate::parse::uci::{Lexer, Statement};
    let (mut in_defaults, mut sw, mut hw) = (false, false, false);
    for (_, st) in Lexer::new(firewall).map_while(|s| s.ok()) {
        match st {
            Statement::Config { ty, .. } => in_defaults = ty == "defaults",
            Statement::Option { key, value } if in_defaults => {
                let on = super::bool_word(&value).unwrap_or(false);
                match &*key {
                    "flow_offloading" => sw = on,
                    "flow_offloading_hw" => hw = on,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    match (sw, hw) {
        (false, _) => Offload::Off,
        (true, false) => Offload::Software,
        (true, true) => Offload::Hardware,
    }
}

/// The device of `config interface 'lan'` in the text of
/// /etc/config/network (`option device`, or `option ifname` before
/// OpenWrt 21.02): where the LAN devices are when it is not `br-lan`.
pub fn lan_device(network: &str) -> Option<String> {
    use crate::parse::uci::{Lexer, Statement};
    let mut in_lan = false;
    let mut found = None;
    for (_, st) in Lexer::new(network).map_while(|s| s.ok()) {
        match st {
            Statement::Config { ty, name } => {
                in_lan = ty == "interface" && name.as_deref() == Some("lan");
            }
            Statement::Option { key, value } if in_lan && (key == "device" || key == "ifname") => {
                // `ifname` may list several devices; the first is the one.
                let dev = match key == "ifname" {
                    true => value.split_ascii_whitespace().next().unwrap_or(""),
                    false => &value,
                };
                if crate::meter::valid_ifname(dev) && (key == "device" || found.is_none()) {
                    found = Some(dev.into());
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::lan_device;

    #[test]
    fn offloading_is_read_from_the_firewall_defaults() {
        use super::offload;
        use crate::device::Offload;
        let sw = "config defaults\n\toption input 'REJECT'\n\toption flow_offloading '1'\n";
        assert_eq!(offload(sw), Offload::Software);
        let hw =
            "config defaults\n\toption flow_offloading 'on'\n\toption flow_offloading_hw '1'\n";
        assert_eq!(offload(hw), Offload::Hardware);
        let zone = "config zone\n\toption flow_offloading '1'\n";
        assert_eq!(offload(zone), Offload::Off);
        assert_eq!(
            offload("config defaults\n\toption flow_offloading '0'\n"),
            Offload::Off
        );
        assert_eq!(offload(""), Offload::Off);
    }

    #[test]
    fn the_lan_device_comes_from_the_network_config() {
        let dsa = "config device\n\toption name 'br-lan'\n\toption type 'bridge'\n\tlist ports 'lan1'\n\n\
                   config interface 'lan'\n\toption device 'br-lan'\n\toption proto 'static'\n";
        assert_eq!(lan_device(dsa).as_deref(), Some("br-lan"));
        let old =
            "config interface 'lan'\n\toption type 'bridge'\n\toption ifname 'eth0.1 wlan0'\n";
        assert_eq!(lan_device(old).as_deref(), Some("eth0.1"));
        let hostile = "config interface 'lan'\n\toption device 'a b;rm -rf /'\n";
        assert_eq!(lan_device(hostile), None);
        assert_eq!(
            lan_device("config interface 'wan'\n\toption device 'eth1'\n"),
            None
        );
    }
}

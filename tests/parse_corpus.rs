//! Every fixture through every parser (no panic, no error, same result for
//! any read chunking), then exact values from specific real outputs:
//! the shared corpus of public dumps (`../shared/fixtures`) and netmon's own
//! captures (`tests/fixtures`, see its README). Without the shared
//! corpus its tests print `SKIPPED` and pass, except under CI (`CI` set),
//! where they fail.

use netmon::parse::{iptables, nft, ParseError};
use std::collections::BTreeMap;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The shared corpus of public dumps, relative to the crate.
const SHARED: &str = "../shared/fixtures";

fn dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The shared corpus, if `test` can use it. When it is missing: under CI
/// (`CI` set) a panic, since a skipped corpus test must not read as a
/// pass there; elsewhere `SKIPPED <test>: ...` on stderr and `None`.
fn shared(test: &str) -> Option<PathBuf> {
    let d = dir(SHARED);
    if d.is_dir() {
        return Some(d);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test} cannot run under CI: the shared fixture directory {} is missing",
            d.display()
        );
    }
    // Straight to fd 2: libtest captures eprintln!, and a skip must be
    // visible in a passing run (as common::require_root_tools does).
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {SHARED} not found");
    None
}

fn files(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

type Nft = Vec<String>;
type Ipt = Vec<(String, String, u64, u64, String, Option<String>)>;

fn nft_items(bytes: &[u8], cap: usize) -> Result<Nft, ParseError> {
    let mut v = Vec::new();
    nft::parse(BufReader::with_capacity(cap, bytes), |i| {
        v.push(format!("{i:?}"))
    })?;
    Ok(v)
}

fn own(r: iptables::Rule<'_>) -> (String, String, u64, u64, String, Option<String>) {
    let c = r.comment.map(str::to_string);
    (
        r.table.into(),
        r.chain.into(),
        r.packets,
        r.bytes,
        r.target.into(),
        c,
    )
}

fn list_rules(bytes: &[u8], cap: usize) -> Result<Ipt, ParseError> {
    let mut v = Vec::new();
    iptables::parse_list(BufReader::with_capacity(cap, bytes), |r| v.push(own(r)))?;
    Ok(v)
}

fn save_rules(bytes: &[u8], cap: usize) -> Result<Ipt, ParseError> {
    let mut v = Vec::new();
    iptables::parse_save(BufReader::with_capacity(cap, bytes), |r| v.push(own(r)))?;
    Ok(v)
}

fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn every_parser_on_every_file(d: &Path) {
    for p in files(d) {
        let b = read(&p);
        let name = p.display();
        let n = nft_items(&b, 8192).unwrap_or_else(|e| panic!("nft {name}: {e:?}"));
        let l = list_rules(&b, 8192).unwrap_or_else(|e| panic!("list {name}: {e:?}"));
        let s = save_rules(&b, 8192).unwrap_or_else(|e| panic!("save {name}: {e:?}"));
        // A pipe may deliver a line in any number of pieces.
        assert_eq!(nft_items(&b, 1).unwrap(), n, "nft chunking {name}");
        assert_eq!(list_rules(&b, 1).unwrap(), l, "list chunking {name}");
        assert_eq!(save_rules(&b, 1).unwrap(), s, "save chunking {name}");
        // CRLF line ends give the same records.
        let crlf: Vec<u8> = b
            .iter()
            .flat_map(|&c| {
                if c == b'\n' {
                    vec![b'\r', b'\n']
                } else {
                    vec![c]
                }
            })
            .collect();
        assert_eq!(nft_items(&crlf, 7).unwrap(), n, "nft crlf {name}");
        assert_eq!(list_rules(&crlf, 7).unwrap(), l, "list crlf {name}");
        assert_eq!(save_rules(&crlf, 7).unwrap(), s, "save crlf {name}");
    }
}

#[test]
fn shared_corpus_through_every_parser() {
    if let Some(d) = shared("shared_corpus_through_every_parser") {
        every_parser_on_every_file(&d);
    }
}

#[test]
fn own_fixtures_through_every_parser() {
    every_parser_on_every_file(&dir("tests/fixtures"));
}

fn shared_file(test: &str, name: &str) -> Option<Vec<u8>> {
    shared(test).map(|d| read(&d.join(name)))
}

fn own_file(name: &str) -> Vec<u8> {
    read(&dir("tests/fixtures").join(name))
}

fn rule(
    t: &str,
    c: &str,
    p: u64,
    b: u64,
    tg: &str,
    cm: Option<&str>,
) -> (String, String, u64, u64, String, Option<String>) {
    (t.into(), c.into(), p, b, tg.into(), cm.map(str::to_string))
}

#[test]
fn retailnext_save_counters_above_2_pow_32() {
    let Some(b) = shared_file(
        "retailnext_save_counters_above_2_pow_32",
        "ipt-save-c_retailnext-server.txt",
    ) else {
        return;
    };
    let got = save_rules(&b, 8192).unwrap();
    assert_eq!(got.len(), 8);
    assert_eq!(
        got[0],
        rule("filter", "INPUT", 7981319024, 1536987862973, "ACCEPT", None)
    );
    assert_eq!(
        got[4],
        rule("filter", "OUTPUT", 7903596488, 341918393697, "ACCEPT", None)
    );
    // 18832348733 is the mangle PREROUTING *policy* counter: chain policies
    // are not rules and are not reported.
    assert!(got.iter().all(|r| r.2 != 18832348733));
    let Some(b) = shared_file(
        "retailnext_save_counters_above_2_pow_32",
        "ipt-save-c_retailnext-router.txt",
    ) else {
        return;
    };
    let got = save_rules(&b, 8192).unwrap();
    assert_eq!(
        got[1],
        rule("filter", "INPUT", 17256030, 2279773210, "ACCEPT", None)
    );
    assert_eq!(got.len(), 3);
}

#[test]
fn fedora_save_gotos_tables_and_stray_completed_line() {
    let Some(b) = shared_file(
        "fedora_save_gotos_tables_and_stray_completed_line",
        "ipt-save-c_iptables-upstream-fedora27-v4.txt",
    ) else {
        return;
    };
    let got = save_rules(&b, 8192).unwrap();
    assert_eq!(
        got[0],
        rule("mangle", "PREROUTING", 1, 2, "PREROUTING_direct", None)
    );
    assert_eq!(
        got[1],
        rule(
            "mangle",
            "PREROUTING",
            3,
            4,
            "PREROUTING_ZONES_SOURCE",
            None
        )
    );
    assert_eq!(
        got[8],
        rule(
            "mangle",
            "PREROUTING_ZONES",
            0,
            0,
            "PRE_FedoraWorkstation",
            None
        )
    );
    assert_eq!(
        got.last().unwrap(),
        &rule("filter", "IN_FedoraWorkstation_allow", 7, 8, "ACCEPT", None)
    );
    let lines = String::from_utf8(b).unwrap();
    assert_eq!(
        got.len(),
        lines.lines().filter(|l| l.starts_with('[')).count()
    );
}

#[test]
fn save_without_counters_reports_zero_and_keeps_comment_spaces() {
    let Some(b) = shared_file(
        "save_without_counters_reports_zero_and_keeps_comment_spaces",
        "ipt-save_iptables-upstream-wireless-nocounters.txt",
    ) else {
        return;
    };
    let got = save_rules(&b, 8192).unwrap();
    assert!(got.iter().all(|r| r.2 == 0 && r.3 == 0));
    assert_eq!(
        got.last().unwrap(),
        &rule("filter", "VPN_USERS_OUT", 0, 0, "ACCEPT", Some("User: "))
    );
    assert_eq!(
        got[0],
        rule("raw", "PREROUTING", 0, 0, "port_assignment", None)
    );
}

#[test]
fn nokia_list_wide_counters_and_long_targets() {
    let Some(b) = shared_file(
        "nokia_list_wide_counters_and_long_targets",
        "ipt-L-nvx_nokia-moler-ratelimit.txt",
    ) else {
        return;
    };
    let got = list_rules(&b, 8192).unwrap();
    assert_eq!(got.len(), 68);
    let has = |r| got.contains(&r);
    assert!(has(rule("", "INPUT", 17207, 52497455, "ACCEPT", None)));
    assert!(has(rule(
        "",
        "INPUT",
        13,
        468,
        "CP_TRAFFIC_RATE_LIMIT",
        None
    )));
    assert!(has(rule(
        "",
        "INPUT",
        0,
        0,
        "UDP_ECHO_REQUEST_RATE_LIMIT",
        None
    )));
    assert!(has(rule(
        "",
        "OUTPUT",
        38592,
        18743328,
        "EGRESS_ICMP",
        None
    )));
    assert!(has(rule(
        "",
        "EGRESS_ICMP_RATE_LIMIT",
        32491,
        15908613,
        "DROP",
        None
    )));
    assert!(has(rule(
        "",
        "MP_TRAFFIC_RATE_LIMIT",
        254,
        15621,
        "ACCEPT",
        None
    )));
}

#[test]
fn ip6tables_empty_target_and_wide_prot() {
    let Some(b) = shared_file(
        "ip6tables_empty_target_and_wide_prot",
        "ip6t-L-v-n_iptables-upstream-empty-target.txt",
    ) else {
        return;
    };
    let got = list_rules(&b, 8192).unwrap();
    let targets: Vec<&str> = got.iter().map(|r| r.4.as_str()).collect();
    assert_eq!(targets, ["ACCEPT", "ACCEPT", "", "", "LOG"]);
    assert!(got.iter().all(|r| r.1 == "FORWARD"));
}

#[test]
fn nft_set_element_counters_next_to_quota() {
    let Some(b) = shared_file(
        "nft_set_element_counters_next_to_quota",
        "nft-list_nftables-upstream-set-elem-counter-quota.nft",
    ) else {
        return;
    };
    let want = [
        r#"Table { family: "ip", name: "x", handle: None }"#,
        r#"SetElem { set: "y", key: "1.1.1.1", packets: 0, bytes: 0 }"#,
        r#"SetElem { set: "y", key: "1.2.3.4", packets: 9, bytes: 756 }"#,
        r#"SetElem { set: "y", key: "2.2.2.2", packets: 0, bytes: 0 }"#,
        r#"Chain { name: "y", handle: None }"#,
        r#"ChainType { chain: "y", text: "type filter hook output priority filter; policy accept;" }"#,
        r#"Rule { chain: "y", counter_ref: None, counter: None, comment: None, handle: None }"#,
    ];
    assert_eq!(nft_items(&b, 8192).unwrap(), want);
}

#[test]
fn nft_only_counter_statements_make_set_elements() {
    let Some(b) = shared_file(
        "nft_only_counter_statements_make_set_elements",
        "nft-list_nftables-upstream-set-stmts.nft",
    ) else {
        return;
    };
    let elems: Vec<String> = nft_items(&b, 8192)
        .unwrap()
        .into_iter()
        .filter(|i| i.starts_with("SetElem"))
        .collect();
    let want = [
        r#"SetElem { set: "y0", key: "2.2.2.0", packets: 3, bytes: 4 }"#,
        r#"SetElem { set: "y0", key: "3.3.3.0", packets: 1, bytes: 2 }"#,
        r#"SetElem { set: "y0", key: "5.5.5.0", packets: 1, bytes: 2 }"#,
        r#"SetElem { set: "y0", key: "6.6.6.0", packets: 3, bytes: 4 }"#,
    ];
    assert_eq!(elems, want);
}

#[test]
fn nft_same_table_name_in_two_families() {
    let Some(b) = shared_file(
        "nft_same_table_name_in_two_families",
        "nft-list_nftables-upstream-reset-multi-table.nft",
    ) else {
        return;
    };
    let got = nft_items(&b, 8192).unwrap();
    let tables: Vec<&String> = got.iter().filter(|i| i.starts_with("Table")).collect();
    assert_eq!(tables.len(), 3);
    assert!(tables[0].contains(r#"family: "ip", name: "t""#));
    assert!(tables[1].contains(r#"family: "inet", name: "t""#));
    assert_eq!(
        got[1],
        r#"SetElem { set: "s", key: "1.1.1.1", packets: 1, bytes: 11 }"#
    );
    let rules = got.iter().filter(|i| i.starts_with("Rule")).count();
    assert_eq!(rules, 8);
    assert!(got
        .iter()
        .filter(|i| i.starts_with("Rule"))
        .all(|r| r.contains("counter: Some((0, 0))")));
}

#[test]
fn nft_json_is_skipped_without_error() {
    // The text parser does not read `nft -j`; the named counters in this
    // JSON (cnt_http, cnt_smtp) are checked in netmon's own text captures.
    assert_eq!(
        nft_items(
            &own_file("nft-j-list-ruleset_netmon-many-tables.json"),
            8192
        )
        .unwrap(),
        Vec::<String>::new()
    );
    let Some(b) = shared_file(
        "nft_json_is_skipped_without_error",
        "nft-json_nftables-rs-named-counters.json",
    ) else {
        return;
    };
    assert_eq!(nft_items(&b, 8192).unwrap(), Vec::<String>::new());
}

#[test]
fn own_nft_netmon_table_exact() {
    let want = [
        r#"Table { family: "inet", name: "netmon", handle: Some(1) }"#,
        r#"Counter { name: "m_proxy", packets: 6020, bytes: 4813680 }"#,
        r#"Counter { name: "m_offnet", packets: 3010, bytes: 2406840 }"#,
        r#"Chain { name: "input", handle: Some(1) }"#,
        r#"ChainType { chain: "input", text: "type filter hook input priority filter - 1; policy accept;" }"#,
        r#"Rule { chain: "input", counter_ref: Some("m_proxy"), counter: None, comment: Some("netmon:proxy:0123abcd"), handle: Some(6) }"#,
        r#"Rule { chain: "input", counter_ref: Some("m_offnet"), counter: None, comment: Some("netmon:offnet:89abcdef"), handle: Some(7) }"#,
        r#"Chain { name: "output", handle: Some(2) }"#,
        r#"ChainType { chain: "output", text: "type filter hook output priority filter - 1; policy accept;" }"#,
        r#"Rule { chain: "output", counter_ref: Some("m_proxy"), counter: None, comment: Some("netmon:proxy:0123abcd"), handle: Some(8) }"#,
        r#"Chain { name: "forward", handle: Some(3) }"#,
        r#"ChainType { chain: "forward", text: "type filter hook forward priority filter - 1; policy accept;" }"#,
    ];
    assert_eq!(
        nft_items(&own_file("nft-a-list-table_netmon.nft"), 8192).unwrap(),
        want
    );
    // Without -a: same items, no handles.
    let plain: Vec<String> = want
        .iter()
        .map(|s| s.replace(|c: char| c.is_ascii_digit(), "#"))
        .collect();
    let got: Vec<String> = nft_items(&own_file("nft-list-table_netmon.nft"), 8192).unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&plain) {
        assert_eq!(
            g.replace(|c: char| c.is_ascii_digit(), "#"),
            w.replace("Some(#)", "None")
        );
    }
}

/// Named counters per (family, table, name) from a whole ruleset.
fn counters_by_table(b: &[u8]) -> BTreeMap<String, (u64, u64)> {
    let mut table = String::new();
    let mut m = BTreeMap::new();
    nft::parse(b, |i| match i {
        nft::Item::Table { family, name, .. } => table = format!("{family} {name}"),
        nft::Item::Counter {
            name,
            packets,
            bytes,
        } => {
            m.insert(format!("{table} {name}"), (packets, bytes));
        }
        _ => {}
    })
    .unwrap();
    m
}

#[test]
fn own_nft_ruleset_counters_keep_their_table() {
    for f in [
        "nft-a-list-ruleset_netmon-many-tables.nft",
        "nft-list-ruleset_netmon-many-tables.nft",
        "nft-list-counters.nft",
    ] {
        let m = counters_by_table(&own_file(f));
        assert_eq!(m["inet netmon m_proxy"], (6020, 4813680), "{f}");
        assert_eq!(m["ip other m_proxy"], (0, 0), "{f}");
        assert_eq!(m["ip other cnt_big"], (4294970306, 2406839), "{f}");
        assert_eq!(m["ip6 v6 m_v6"], (3000, 1716000), "{f}");
        assert_eq!(m["bridge br c1"], (0, 0), "{f}");
        assert_eq!(m.len(), 6, "{f}");
    }
    let got = nft_items(&own_file("nft-a-list-ruleset_netmon-many-tables.nft"), 8192).unwrap();
    let has = |s: &str| got.iter().any(|i| i == s);
    assert!(has(
        r#"SetElem { set: "hosts", key: "127.0.0.1", packets: 3010, bytes: 2406840 }"#
    ));
    assert!(has(
        r#"SetElem { set: "hosts", key: "10.0.0.4", packets: 0, bytes: 0 }"#
    ));
    // Elements without a counter are members, never counted ones.
    let lim: Vec<&String> = got.iter().filter(|i| i.contains(r#"set: "lim""#)).collect();
    assert_eq!(
        lim,
        [
            r#"Elem { set: "lim", key: "10.1.0.1", value: None }"#,
            r#"Elem { set: "lim", key: "10.1.0.2", value: None }"#
        ]
    );
    assert!(has(
        r#"Rule { chain: "pre", counter_ref: None, counter: None, comment: None, handle: Some(12) }"#
    ));
    assert!(has(
        r#"Rule { chain: "pre", counter_ref: None, counter: Some((1500, 1542000)), comment: None, handle: Some(13) }"#
    ));
    assert!(has(
        r#"Rule { chain: "input", counter_ref: Some("m_v6"), counter: None, comment: Some("netmon:v6:00000000"), handle: Some(3) }"#
    ));
    assert!(has(
        r#"Rule { chain: "netmon_in", counter_ref: None, counter: Some((4294967296, 18446744073709551615)), comment: None, handle: Some(19) }"#
    ));
}

/// netmon's iptables counters by comment.
fn by_comment(rules: &Ipt) -> BTreeMap<String, (u64, u64)> {
    let mut m = BTreeMap::new();
    for r in rules {
        if let Some(c) = r.5.as_deref().filter(|c| c.starts_with("netmon:")) {
            *m.entry(c.to_string()).or_insert((0, 0)) = (r.2, r.3);
        }
    }
    m
}

#[test]
fn own_iptables_list_and_save_agree() {
    for (v, be) in [("4", "nft"), ("4", "legacy"), ("6", "nft"), ("6", "legacy")] {
        let list = list_rules(&own_file(&format!("ipt{v}-{be}-L-nvx.txt")), 8192).unwrap();
        let num = list_rules(
            &own_file(&format!("ipt{v}-{be}-L-nvx-line-numbers.txt")),
            8192,
        )
        .unwrap();
        let save = save_rules(&own_file(&format!("ipt{v}-{be}-save-c.txt")), 8192).unwrap();
        assert_eq!(list, num, "{v} {be}");
        assert_eq!(by_comment(&list), by_comment(&save), "{v} {be}");
        assert_eq!(list.len(), save.len(), "{v} {be}");
        let jumps: Vec<_> = list
            .iter()
            .filter(|r| r.5.as_deref() == Some("netmon"))
            .map(|r| r.4.as_str())
            .collect();
        assert_eq!(jumps, ["netmon_in", "netmon_fwd", "netmon_out"], "{v} {be}");
    }
    let m = by_comment(&list_rules(&own_file("ipt4-legacy-L-nvx.txt"), 8192).unwrap());
    assert_eq!(m["netmon:proxy:0123abcd"], (3010, 2406840));
    assert_eq!(m["netmon:big:ffffffff"], (1 << 32, u64::MAX));
    assert_eq!(m.len(), 6);
    let m = by_comment(&list_rules(&own_file("ipt6-legacy-L-nvx.txt"), 8192).unwrap());
    assert_eq!(m["netmon:big6:ffffffff"], (u64::MAX, 4294967297));
    assert_eq!(m["netmon:icmp6:22222222"], (1500, 894000));
    let goto = list_rules(&own_file("ipt4-nft-L-nvx.txt"), 8192).unwrap();
    assert!(goto.contains(&rule(
        "",
        "netmon_out",
        1500,
        1542000,
        "some_user_chain_with_long_nm",
        Some("netmon:udp:00c0ffee")
    )));
}

#[test]
fn own_iptables_suffixes_are_approximate() {
    let m = by_comment(&list_rules(&own_file("ipt4-legacy-L-nv-suffixes.txt"), 8192).unwrap());
    assert_eq!(m["netmon:proxy:0123abcd"], (3010, 2_407_000));
    // iptables' own rounding wraps u64::MAX bytes to "0K".
    assert_eq!(m["netmon:big:ffffffff"], (4_295_000_000, 0));
    let nocount = save_rules(&own_file("ipt4-nft-save-nocounters.txt"), 8192).unwrap();
    assert!(nocount.iter().all(|r| (r.2, r.3) == (0, 0)));
    assert_eq!(by_comment(&nocount).len(), 6);
}

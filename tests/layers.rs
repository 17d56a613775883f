//! The layout stays true: arrows follow the data. Reads `src/` and fails
//! when a module imports from a layer above its own, when two modules
//! import each other (directly or around a longer circle), when a leaf
//! (`text`, `sys`) imports anything from the crate, or when a pure module
//! reaches for the system (`sys`, files, the environment, the clock).
//!
//! What counts as an import: every `crate::` path and every `super::`
//! path that leaves its file's module, outside comments, string literals
//! and `#[cfg(test)]` items (tests may use whatever they need).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may import from its own layer or any
/// below it, never from one above.
const LAYERS: &[(&str, &[&str])] = &[
    ("leaf", &["text", "sys"]),
    (
        "core",
        &[
            "units", "time", "tz", "calendar", "meter", "device", "quota", "state",
        ],
    ),
    ("codec", &["parse"]),
    (
        "edge",
        &[
            "error", "logging", "store", "firewall", "hosts", "report", "mail", "config",
        ],
    ),
    ("command", &["cli", "cmd"]),
];

/// Leaves import nothing from the crate.
const LEAVES: &[&str] = &["text", "sys"];

/// Modules that must not touch the system: the core and the codecs, and
/// the pure pieces of the edges (renderers, the SMTP dialogue, the
/// message builder). Module paths; a path covers its submodules.
const PURE: &[&str] = &[
    "units",
    "time",
    "tz",
    "calendar",
    "meter",
    "device",
    "quota",
    "state",
    "parse",
    "report",
    "mail::message",
    "mail::base64",
    "mail::smtp::command",
    "mail::smtp::envelope",
    "mail::smtp::reply",
    "mail::smtp::session",
    "mail::smtp::stuff",
];

/// What a pure module may not name.
const IMPURE: &[&str] = &[
    "crate::sys",
    "std::fs",
    "std::env",
    "std::process",
    "std::net::TcpStream",
    "SystemTime",
    "Instant::now",
    "libc::",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under src/ (`mail/smtp/session.rs` ->
/// `mail::smtp::session`; `mail/mod.rs` -> `mail`); `None` for the crate
/// roots and for files that hold only tests.
fn module_of(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match stem {
        "lib" | "main" if parts.is_empty() => return None,
        "tests" => return None,
        "mod" => {}
        s => parts.push(s.to_string()),
    }
    Some(parts)
}

/// `src` without comments, without the contents of string and char
/// literals, and without `#[cfg(test)]` items.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &src[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if rest.starts_with("#[cfg(test)]") {
            i += skip_item(rest);
        } else if let Some(n) = raw_string_len(rest) {
            out.push_str("\"\"");
            i += n;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if let Some(n) = char_literal_len(rest) {
            out.push_str("' '");
            i += n;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"..."`, `r#"..."#`, `br"..."`: the literal's length.
fn raw_string_len(s: &str) -> Option<usize> {
    let t = s.strip_prefix('b').unwrap_or(s);
    let t = t.strip_prefix('r')?;
    let hashes = t.bytes().take_while(|&c| c == b'#').count();
    if t.as_bytes().get(hashes) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let body = &t[hashes + 1..];
    let end = body.find(&close)? + close.len();
    Some(s.len() - t.len() + hashes + 1 + end)
}

/// `'x'`, `'\n'`, `'\''`, `b'x'`; not a lifetime (`'a`).
fn char_literal_len(s: &str) -> Option<usize> {
    let t = s.strip_prefix('b').unwrap_or(s);
    let t = t.strip_prefix('\'')?;
    let pre = s.len() - t.len();
    if let Some(esc) = t.strip_prefix('\\') {
        let end = esc.find('\'')?;
        return (end <= 10).then_some(pre + 1 + end + 1);
    }
    let c = t.chars().next()?;
    (t[c.len_utf8()..].starts_with('\'')).then_some(pre + c.len_utf8() + 1)
}

/// The length of the attribute and the item after it: up to the `;` or
/// the brace that closes the item's first `{`.
fn skip_item(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices().skip("#[cfg(test)]".len()) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            ';' if depth == 0 => return i + 1,
            _ => {}
        }
    }
    s.len()
}

fn ident_len(s: &str) -> usize {
    s.bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count()
}

/// The module paths `code` names after `prefix` (`crate::` or `super::`),
/// as word lists: `crate::mail::smtp::Outcome` gives
/// `[mail, smtp, Outcome]`; `crate::{store, sys::Fd}` gives `[store]` and
/// `[sys, Fd]`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        from = start + prefix.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut path = Vec::new();
        path_tail(&code[from..], &mut path, &mut out);
    }
    out
}

fn path_tail(s: &str, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        // Each top-level item of the group, up to the matching brace.
        let mut depth = 0;
        let mut item_start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    path_tail(&group[item_start..i], &mut path.clone(), out);
                    return;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    path_tail(&group[item_start..i], &mut path.clone(), out);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        return;
    }
    let n = ident_len(s);
    if n == 0 {
        if !path.is_empty() {
            out.push(path.clone());
        }
        return;
    }
    path.push(s[..n].to_string());
    match s[n..].strip_prefix("::") {
        Some(rest) => path_tail(rest, path, out),
        None => out.push(path.clone()),
    }
}

struct Module {
    file: String,
    path: Vec<String>,
    code: String,
}

fn modules() -> Vec<Module> {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "src/ looks empty: {files:?}");
    files
        .into_iter()
        .filter_map(|f| {
            let rel = f.strip_prefix(&root).unwrap().to_path_buf();
            let path = module_of(&rel)?;
            let src = fs::read_to_string(&f).unwrap();
            Some(Module {
                file: rel.display().to_string(),
                path,
                code: code_only(&src),
            })
        })
        .collect()
}

/// Every module path a module names, absolute (`super::` resolved).
fn imports(m: &Module) -> Vec<Vec<String>> {
    let mut v = paths_after(&m.code, "crate::");
    for p in paths_after(&m.code, "super::") {
        // `super` of `a::b::c` (file module) is `a::b`; repeated `super`s
        // climb further.
        let mut base = m.path.clone();
        base.pop();
        let mut p = p.as_slice();
        while p.first().is_some_and(|w| w == "super") {
            base.pop();
            p = &p[1..];
        }
        base.extend(p.iter().cloned());
        v.push(base);
    }
    v.retain(|p| !p.is_empty() && p[0] != "self");
    v
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

#[test]
fn every_module_has_a_layer() {
    for m in modules() {
        assert!(
            layer_of(&m.path[0]).is_some(),
            "{}: module `{}` is in no layer of tests/layers.rs; add it where it belongs",
            m.file,
            m.path[0]
        );
    }
}

#[test]
fn no_import_points_up_a_layer() {
    let mut bad = Vec::new();
    for m in modules() {
        let Some(own) = layer_of(&m.path[0]) else {
            continue;
        };
        for p in imports(&m) {
            match layer_of(&p[0]) {
                Some(l) if l > own => bad.push(format!(
                    "{} ({}) imports {} ({})",
                    m.file,
                    LAYERS[own].0,
                    p.join("::"),
                    LAYERS[l].0
                )),
                _ => {}
            }
        }
    }
    assert!(bad.is_empty(), "imports that point up:\n{}", bad.join("\n"));
}

#[test]
fn leaves_import_nothing_from_the_crate() {
    let mut bad = Vec::new();
    for m in modules()
        .iter()
        .filter(|m| LEAVES.contains(&m.path[0].as_str()))
    {
        for p in imports(m) {
            if p[0] != m.path[0] {
                bad.push(format!("{} imports {}", m.file, p.join("::")));
            }
        }
    }
    assert!(bad.is_empty(), "leaves with imports:\n{}", bad.join("\n"));
}

#[test]
fn pure_modules_do_not_touch_the_system() {
    let mut bad = Vec::new();
    for m in modules() {
        let name = m.path.join("::");
        let pure = PURE
            .iter()
            .any(|p| name == *p || name.starts_with(&format!("{p}::")));
        if !pure {
            continue;
        }
        for word in IMPURE {
            if m.code.contains(word) {
                bad.push(format!("{} ({name}) uses {word}", m.file));
            }
        }
        for p in imports(&m) {
            if p[0] == "sys" {
                bad.push(format!("{} ({name}) imports {}", m.file, p.join("::")));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "pure modules touching the system:\n{}",
        bad.join("\n")
    );
}

/// A circle in `edges`, if there is one, as the list of its nodes.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

/// No two modules import each other, at every level: between the crate's
/// top-level modules, and between sibling modules inside each one
/// (`mail::spool` and `mail::deliver`, `cmd::ctx` and `cmd::update`).
/// A parent and its own child are not siblings (a `mod.rs` re-exports
/// its children; a child uses its parent's items).
#[test]
fn no_modules_import_each_other_in_a_circle() {
    let mods = modules();
    // Edges keyed by the common parent of the two sibling modules.
    let mut levels: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for m in &mods {
        for p in imports(m) {
            let common = m.path.iter().zip(&p).take_while(|(a, b)| a == b).count();
            // One is the other's ancestor, or the name is the module itself.
            if common >= m.path.len() || common >= p.len() {
                continue;
            }
            let (Some(from), Some(to)) = (m.path.get(common), p.get(common)) else {
                continue;
            };
            // `to` must be a module, not an item of the common parent.
            let target: Vec<String> = p[..=common].to_vec();
            if !mods.iter().any(|x| x.path == target) {
                continue;
            }
            levels
                .entry(m.path[..common].join("::"))
                .or_default()
                .entry(from.clone())
                .or_default()
                .insert(to.clone());
        }
    }
    let mut circles = Vec::new();
    for (parent, edges) in &levels {
        if let Some(c) = find_cycle(edges) {
            let at = if parent.is_empty() { "crate" } else { parent };
            circles.push(format!("in {at}: {}", c.join(" -> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "modules importing each other:\n{}",
        circles.join("\n")
    );
}

/// The checker itself: the pieces that read paths must find what they
/// are meant to find, or every check above would pass vacuously.
#[test]
fn the_checker_reads_imports() {
    let code = code_only(
        "use crate::{store, sys::{self, Fd}};\n// use crate::cmd;\nlet s = \"crate::cli\";\n\
         fn f() { crate::text::fill(); super::x::y(); }\n#[cfg(test)]\nmod tests { use crate::cmd; }\n\
         let c = '\"'; use crate::report;",
    );
    let paths: Vec<String> = paths_after(&code, "crate::")
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        paths,
        ["store", "sys::self", "sys::Fd", "text::fill", "report"]
    );
    let m = Module {
        file: "mail/spool.rs".into(),
        path: vec!["mail".into(), "spool".into()],
        code: "use super::deliver::X; use super::super::store;".into(),
    };
    let v: Vec<String> = imports(&m).iter().map(|p| p.join("::")).collect();
    assert_eq!(v, ["mail::deliver::X", "store"]);
    let mut e: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    e.entry("a".into()).or_default().insert("b".into());
    e.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&e), None);
    e.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&e).map(|c| c.len()), Some(4));
}

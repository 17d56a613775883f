"""Checks for luci-app-netmon, run by tests/luci.sh (stdlib only).

  check.py acl VIEWS_DIR ACL_JSON MENU_JSON
      the ACL grants exactly the netmon argv the views pass to fs.exec
      (both ways), the read part grants no write, the menu and the view
      files agree.
  check.py wrap VIEWS_DIR DATA_DIR OUT_DIR ACL_JSON
      views.js (each view as LuCI's loader runs it: a function of the
      modules it requires) and data.js (what the real binary printed, and
      the ACL's exec entries, which the fake fs.exec enforces as rpcd does).
  check.py dom DUMP DATA_DIR SRC_DIR
      what the views rendered in Chromium (--dump-dom) against the data.

Each check prints "ok   ..." or "FAIL ..."; the exit status is 1 when any
failed.
"""
import fnmatch
import html.parser
import json
import os
import re
import sys

FAILS = 0
NETMON = "/usr/sbin/netmon"
# Every fs.exec call in a view, one per line, in this form: tests rely on it.
EXEC = re.compile(r"fs\.exec\('(?P<cmd>[^']*)', \[ (?P<args>[^\]]*) \]\)")
ACTIONS = ("block", "unblock")


def check(what, cond, detail=""):
    global FAILS
    if cond:
        print("ok   " + what)
    else:
        FAILS += 1
        print("FAIL " + what + (": " + str(detail) if detail else ""))


def views(vdir):
    return sorted(f for f in os.listdir(vdir) if f.endswith(".js"))


def exec_calls(vdir):
    """(file, argv pattern) of every fs.exec call; a non-literal arg is *."""
    calls, stray = [], []
    for f in views(vdir):
        for n, line in enumerate(open(os.path.join(vdir, f)), 1):
            if line.lstrip().startswith("//"):
                continue
            found = list(EXEC.finditer(line))
            if line.count("fs.exec") != len(found):
                stray.append("%s:%d" % (f, n))
            for m in found:
                args = [a.strip() for a in m.group("args").split(",")]
                words = [a[1:-1] if re.fullmatch(r"'[^'\\]*'", a) else "*" for a in args]
                calls.append((f, " ".join([m.group("cmd")] + words)))
    return calls, stray


def acl(vdir, acl_path, menu_path):
    calls, stray = exec_calls(vdir)
    check("every fs.exec call is in the form fs.exec('/usr/sbin/netmon', [ ... ]) on one line",
          not stray, stray)
    check("the views call fs.exec", calls)
    check("every fs.exec runs /usr/sbin/netmon",
          all(c.split(" ")[0] == NETMON for _, c in calls), calls)
    groups = json.load(open(acl_path))
    check("the ACL has exactly one group, luci-app-netmon", list(groups) == ["luci-app-netmon"],
          list(groups))
    g = groups.get("luci-app-netmon", {})
    read, write = g.get("read", {}), g.get("write", {})
    check("ACL parts are only read and write (and a description)",
          set(g) <= {"description", "read", "write"}, sorted(g))
    for part, perms in (("read", read), ("write", write)):
        check(part + ": ubus is exactly file exec (what fs.exec calls)",
              perms.get("ubus") == {"file": ["exec"]}, perms.get("ubus"))
        check(part + ": uci is exactly netmon", perms.get("uci") == ["netmon"], perms.get("uci"))
        check(part + ": nothing but ubus, file and uci", set(perms) <= {"ubus", "file", "uci"},
              sorted(perms))
        check(part + ": every file entry is exec only",
              all(v == ["exec"] for v in perms.get("file", {}).values()), perms.get("file"))
    read_cmds = set(read.get("file", {}))
    write_cmds = set(write.get("file", {}))
    want_read = {c for _, c in calls if c.split(" ")[1] not in ACTIONS}
    want_write = {c for _, c in calls if c.split(" ")[1] in ACTIONS}
    check("read ACL exec entries are exactly the views' read-only argv",
          read_cmds == want_read, {"acl only": sorted(read_cmds - want_read),
                                   "views only": sorted(want_read - read_cmds)})
    check("read ACL: no glob, no block/unblock (no write permission)",
          all("*" not in c and "?" not in c and "[" not in c for c in read_cmds)
          and not any(c.split(" ")[1] in ACTIONS for c in read_cmds), sorted(read_cmds))
    check("write ACL exec entries are exactly netmon block * and netmon unblock *",
          write_cmds == {NETMON + " block *", NETMON + " unblock *"}, sorted(write_cmds))
    # rpcd matches "command arg..." against the entries with fnmatch (no
    # FNM_PATHNAME): each call the views make is granted ...
    granted = read_cmds | write_cmds
    for f, c in calls:
        check("%s: %r is granted" % (f, c), any(fnmatch.fnmatchcase(c, p) for p in granted))
    # ... and each entry is one the views call (literally, as written).
    for p in sorted(granted):
        check("ACL entry %r is called by a view" % p, p in {c for _, c in calls})
    write_calls = {c for _, c in calls if c.split(" ")[1] in ACTIONS}
    check("block/unblock calls are only in devices.js",
          {f for f, c in calls if c in write_calls} == {"devices.js"})
    menu = json.load(open(menu_path))
    paths = {v["action"]["path"] for v in menu.values() if v["action"]["type"] == "view"}
    files = {"netmon/" + f[:-3] for f in views(vdir)}
    check("menu views are exactly the view files", paths == files,
          {"menu": sorted(paths), "files": sorted(files)})
    check("menu: Status -> netmon and Services -> netmon",
          {"admin/status/netmon", "admin/services/netmon"} <= set(menu), sorted(menu))
    check("menu: top entries depend on the luci-app-netmon ACL",
          all(menu[k].get("depends", {}).get("acl") == ["luci-app-netmon"]
              for k in ("admin/status/netmon", "admin/services/netmon")))


def wrap(vdir, ddir, out, acl_path):
    with open(os.path.join(out, "views.js"), "w") as w:
        w.write("var NETMON_VIEWS = {};\n")
        for f in views(vdir):
            src = open(os.path.join(vdir, f)).read()
            w.write("NETMON_VIEWS[%s] = function(L, E, _, view, fs, ui, form, rpc) {\n%s\n};\n"
                    % (json.dumps(f[:-3]), src))
    data = json.load(open(os.path.join(ddir, "argv.json")))
    stdout = {k: open(os.path.join(ddir, v)).read() for k, v in data.items()}
    with open(os.path.join(out, "data.js"), "w") as w:
        w.write("var NETMON_DATA = %s;\n" % json.dumps(stdout))
        w.write("var HOSTILE = %s;\n" % json.dumps(open(os.path.join(ddir, "hostile")).read()))
        g = json.load(open(acl_path))["luci-app-netmon"]
        entries = sorted(set(g["read"]["file"]) | set(g["write"]["file"]))
        w.write("var NETMON_ACL = %s;\n" % json.dumps(entries))


class Tree(html.parser.HTMLParser):
    """A small DOM: (tag, attrs, children) with text as str children."""
    VOID = {"img", "br", "hr", "meta", "input", "link", "source", "wbr", "col", "area"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = ("#root", {}, [])
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = (tag, dict(attrs), [])
        self.stack[-1][2].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1][2].append((tag, dict(attrs), []))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1][2].append(data)


def walk(node):
    yield node
    for c in node[2]:
        if not isinstance(c, str):
            yield from walk(c)


def text(node):
    return "".join(c if isinstance(c, str) else text(c) for c in node[2])


def by_id(root, i):
    return next((n for n in walk(root) if n[1].get("id") == i), None)


def rows(table):
    """Cell texts of each <tr> but the titles."""
    return [[text(td) for td in tr[2] if not isinstance(td, str) and td[0] == "td"]
            for tr in walk(table) if tr[0] == "tr" and "table-titles" not in tr[1].get("class", "")]


def rust_options(src, name):
    for f in os.listdir(os.path.join(src, "config")):
        body = open(os.path.join(src, "config", f)).read()
        m = re.search(r"const %s: \[&str; \d+\] = \[(.*?)\];" % name, body, re.S)
        if m:
            return set(re.findall(r'"([a-z_]+)"', m.group(1)))
    return None


def human(n):
    units, i, n = ["B", "KiB", "MiB", "GiB", "TiB"], 0, float(n)
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return ("%.1f" % n if i else "%d" % n) + " " + units[i]


def shown(d):
    """A device's name as the devices view shows it."""
    return "(other devices)" if d.get("other") else d["name"] or "-"


def dom(dump, ddir, src):
    raw = open(dump).read()
    t = Tree()
    t.feed(raw)
    root = t.root
    argv = json.load(open(os.path.join(ddir, "argv.json")))
    data = {k.split(" ")[0]: json.load(open(os.path.join(ddir, v))) for k, v in argv.items()}
    hostile = open(os.path.join(ddir, "hostile")).read()
    body = next(n for n in walk(root) if n[0] == "body")
    check("the page ran to the end", body[1].get("data-done") == "1")
    check("no error in any view", not text(by_id(root, "errors")).strip(), text(by_id(root, "errors")))
    check("no fs.exec call was refused by the ACL (checked as rpcd does)",
          text(by_id(root, "denied")).strip() == "[]", text(by_id(root, "denied")))

    meters = by_id(root, "netmon-meters")
    check("overview: meters table rendered", meters is not None)
    got = rows(meters) if meters else []
    want = [[m["name"], human(m["period_bytes"]), human(m["total_bytes"]), m["total_since"]]
            for m in data["report"]["meters"]]
    check("overview: one row per meter of report --format json, with its bytes",
          got == want, {"got": got, "want": want})
    chart = by_id(root, "netmon-chart")
    bars = [n for n in walk(chart) if n[0] == "rect"] if chart else []
    check("overview: chart has one bar per day row (%d)" % len(data["report"]["days"]),
          len(bars) == len(data["report"]["days"]) > 0, len(bars))
    tips = [text(n) for n in walk(chart) if n[0] == "title"] if chart else []
    last = data["report"]["days"][-1]
    check("overview: the last bar is today's sum of the meters",
          tips and tips[-1] == "%s: %s" % (last["date"], human(sum(last["bytes"].values()))), tips[-1:])

    devs = by_id(root, "netmon-devices")
    check("devices: table rendered", devs is not None)
    got = sorted(r[:2] + r[4:6] for r in rows(devs)) if devs else []
    want = sorted([shown(d), d["mac"] or "other", human(d["download_bytes"]), human(d["upload_bytes"])]
                  for d in data["devices"]["devices"])
    check("devices: one row per device with name, MAC, download, upload", got == want,
          {"got": got, "want": want})
    rate = lambda n: "-" if n is None else human(n) + "/s"
    got = sorted(r[:1] + r[7:9] for r in rows(devs)) if devs else []
    want = sorted([shown(d), rate(d["download_bytes_per_second"]), rate(d["upload_bytes_per_second"])]
                  for d in data["devices"]["devices"])
    check("devices: the rates between the last two updates", got == want, {"got": got, "want": want})
    check("devices: the lab's devices have rates",
          all(d["download_bytes_per_second"] is not None for d in data["devices"]["devices"]),
          data["devices"]["devices"])
    names = [d["name"] for d in data["devices"]["devices"]]
    check("devices: the data has the hostile name %r" % hostile, hostile in names)
    check("devices: the hostile name is a cell's text", any(r and r[0] == hostile for r in rows(devs or root)))
    check("devices: the dump holds it escaped", re.sub(r"([<>])", lambda m: {"<": "&lt;", ">": "&gt;"}[m.group(1)], hostile) in raw)
    for sec in ("view-overview", "view-devices", "view-quotas", "view-settings"):
        imgs = [n for n in walk(by_id(root, sec)) if n[0] == "img"]
        check(sec + ": no <img> element (no name became markup)", not imgs, imgs)
    alerts = text(by_id(root, "alerts")).split()
    check("no alert(1) ran", "1" not in alerts, alerts)
    control = by_id(root, "control")
    check("control: a bare string child (LuCI's innerHTML trap) does become an <img> and runs",
          any(n[0] == "img" for n in walk(control)) and "control" in alerts, alerts)
    order = lambda i: json.loads(text(by_id(root, i)))
    by_total = [shown(d) for d in sorted(data["devices"]["devices"],
                key=lambda d: -(d["download_bytes"] + d["upload_bytes"]))]
    check("devices: sorted by total, largest first", order("order-default") == by_total,
          order("order-default"))
    by_name = sorted(order("order-default"), key=lambda s: s.lower())
    check("devices: a click on Name sorts by name", order("order-by-name") == by_name,
          order("order-by-name"))
    check("devices: a second click reverses", order("order-by-name-again") == by_name[::-1])
    cut = {b["mac"] for b in data["blocked"]["blocked"]}
    free = [d["mac"] for d in data["devices"]["devices"] if d["mac"] and d["mac"] not in cut]
    want = [[NETMON, "block", free[0]], [NETMON, "unblock", sorted(cut)[0]]]
    check("devices: Block and Unblock run netmon block MAC / unblock MAC as argv",
          order("actions") == want, {"got": order("actions"), "want": want})

    quotas = by_id(root, "netmon-quotas")
    got = [r[:3] for r in rows(quotas)] if quotas else []
    want = [[q["quota"], q["name"] or q["mac"], q["mac"]] for q in data["quota"]["quotas"]]
    check("quotas: one row per quota and device", got == want and want, {"got": got, "want": want})

    smap = next((n for n in walk(root) if n[1].get("data-config") == "netmon"), None)
    check("settings: form.Map('netmon') rendered", smap is not None)
    secs = {}
    for s in walk(smap or root):
        if "data-section-type" in s[1]:
            secs[s[1]["data-section-type"]] = {o[1]["data-option"] for o in walk(s) if "data-option" in o[1]}
    check("settings: sections main, devices, mail, quota",
          set(secs) == {"netmon", "devices", "mail", "quota"}, sorted(secs))
    for stype, const in (("netmon", "MAIN_OPTIONS"), ("devices", "DEVICE_OPTIONS"),
                         ("mail", "MAIL_OPTIONS"), ("quota", "QUOTA_OPTIONS")):
        known = rust_options(src, const)
        check("settings: %s options are ones netmon's config reader knows (%s)" % (stype, const),
              known and secs.get(stype) and secs[stype] <= known,
              sorted(secs.get(stype, set()) - (known or set())))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"acl": acl, "wrap": wrap, "dom": dom}[cmd](*args)
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""netmon's apk writer and reader: OpenWrt 25.12+ packages without apk-tools.

    apk.py mkpkg --info KEY:VALUE... [--script TYPE:FILE...] --files DIR --output FILE
    apk.py dump FILE            the package as JSON, after checking it (exit 1 if broken)
    apk.py extract FILE DIR     its files into DIR, with their modes

`mkpkg` takes the arguments of apk-tools 3's `apk mkpkg`, as OpenWrt's
include/package-pack.mk passes them (the --info fields netmon's packages
use; depends as plain names) and writes the same bytes: tests/apk.sh
compares it with packages the real `apk mkpkg` made (tests/fixtures/apk/).
File times are $SOURCE_DATE_EPOCH when set (as apk mkpkg does), every file
and directory is owned by root:root (as the ipk's numeric owner 0), and
only regular files and directories are packed.

The format is apk-tools 3's ADB ("apk database") as of v3.0.6. The sources
cited below are that tag's src/ files.
"""

import hashlib
import json
import os
import re
import stat
import struct
import sys
import zlib

# --- ADB values (src/adb.h) --------------------------------------------------
# A value is a little-endian u32: 4 type bits, 28 bits of payload. Small
# integers live in the payload; everything else is an offset into the ADB
# block's data, where blobs carry their length in front (8, 16 or 32 bits,
# whichever fits) and objects/arrays are u32 slots, slot 0 holding the count.
T_INT, T_INT_32, T_INT_64 = 0x10000000, 0x20000000, 0x30000000
T_BLOB_8, T_BLOB_16, T_BLOB_32 = 0x80000000, 0x90000000, 0xA0000000
T_ARRAY, T_OBJECT = 0xD0000000, 0xE0000000
TYPE_MASK, VALUE_MASK = 0xF0000000, 0x0FFFFFFF
NULL = 0

# File and block framing (src/adb.h, src/apk_adb.h).
FILE_MAGIC = b"ADB."
SCHEMA_PACKAGE = b"pckg"  # ADB_SCHEMA_PACKAGE 0x676b6370, little-endian
BLOCK_ADB, BLOCK_SIG, BLOCK_DATA = 0, 1, 2
BLOCK_ALIGN = 8
# adb_block_init: sizes past this need the 16-byte extended header.
BLOCK_MAX_SMALL = 0x3FFFFFFF - 4

# Schema field numbers (src/apk_adb.h).
PI = {  # package info, ADBI_PI_*
    "name": 0x01, "version": 0x02, "hashes": 0x03, "description": 0x04,
    "arch": 0x05, "license": 0x06, "origin": 0x07, "maintainer": 0x08,
    "url": 0x09, "installed-size": 0x0C, "depends": 0x0F,
}
PI_DEPENDS, PI_HASHES, PI_INSTALLED_SIZE = PI["depends"], PI["hashes"], PI["installed-size"]
DEP_NAME = 0x01  # ADBI_DEP_*; netmon's depends carry names only
ACL_MODE, ACL_USER, ACL_GROUP = 0x01, 0x02, 0x03  # ADBI_ACL_*
FI_NAME, FI_ACL, FI_SIZE, FI_MTIME, FI_HASHES = 0x01, 0x02, 0x03, 0x04, 0x05  # ADBI_FI_*
DI_NAME, DI_ACL, DI_FILES = 0x01, 0x02, 0x03  # ADBI_DI_*
PKG_INFO, PKG_PATHS, PKG_SCRIPTS = 0x01, 0x02, 0x03  # ADBI_PKG_*
SCRIPTS = {  # ADBI_SCRPT_*
    "trigger": 0x01, "pre-install": 0x02, "post-install": 0x03,
    "pre-deinstall": 0x04, "post-deinstall": 0x05, "pre-upgrade": 0x06,
    "post-upgrade": 0x07,
}
# app_mkpkg.c: the package's unique id is the first 20 bytes (SHA-1's
# length) of the SHA-256 of the ADB block, taken with those bytes zeroed.
UID_LEN = 20


def le32(n):
    return struct.pack("<I", n)


class AdbWriter:
    """The ADB block as src/adb.c's writer lays it out.

    Byte-for-byte equality with apk mkpkg needs its exact order of writes and
    its de-duplication: adb_w_data() reuses an earlier identical byte string
    (blob with its length, int, object) when its offset has the alignment
    asked for, otherwise writes it again and remembers the new offset."""

    def __init__(self):
        # struct adb_hdr: compat 0, version 0, reserved, root (set last).
        self.buf = bytearray(8)
        self.seen = {}

    def raw(self, data, align):
        """adb_w_raw: zero-pad to the alignment, append, return the offset."""
        self.buf += bytes(-len(self.buf) % align)
        off = len(self.buf)
        self.buf += data
        return off

    def data(self, data, align):
        off = self.seen.get(data)
        if off is None or off % align:
            off = self.seen[data] = self.raw(data, align)
        return off

    def blob(self, b, cache=True):
        """adb_w_blob_vec: the empty blob is NULL; length prefix as small as fits."""
        if not b:
            return NULL
        for kind, fmt, limit in ((T_BLOB_8, "<B", 0xFF), (T_BLOB_16, "<H", 0xFFFF),
                                 (T_BLOB_32, "<I", 0xFFFFFFFF)):
            if len(b) <= limit:
                data, align = struct.pack(fmt, len(b)) + b, struct.calcsize(fmt)
                break
        else:
            raise ValueError("blob of %d bytes" % len(b))
        # adb_w_blob_raw bypasses the cache: its bytes are patched later.
        off = self.data(data, align) if cache else self.raw(data, align)
        return kind | off

    def int(self, n):
        """adb_w_int: up to 28 bits inline, else a 32/64-bit word, 4-aligned."""
        if n < 0x10000000:
            return T_INT | n
        if n < 0x100000000:
            return T_INT_32 | self.data(le32(n), 4)
        return T_INT_64 | self.data(struct.pack("<Q", n), 4)

    def obj(self, slots):
        """__adb_w_obj: {index: value} without trailing NULLs, count in slot 0.

        apk mkpkg writes its arrays through adb_w_obj too (adb_wo_obj), so
        they carry the OBJECT tag; the count includes slot 0."""
        n = max([i for i, v in slots.items() if v != NULL], default=0) + 1
        if n == 1:
            return NULL
        words = [n] + [slots.get(i, NULL) for i in range(1, n)]
        return T_OBJECT | self.data(b"".join(le32(w) for w in words), 4)

    def arr(self, values):
        return self.obj(dict(enumerate(values, 1)))


# --- package contents ----------------------------------------------------------
# OpenWrt's version grammar as apk-tools checks it (src/version.c): digits
# with dots, an optional letter, _suffixes, and -rN.
VERSION_RE = re.compile(
    r"^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(-r[0-9]+)?$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+_.-]*$")


def parse_info(items):
    info = {}
    for item in items:
        key, sep, value = item.partition(":")
        if not sep or key not in PI or key in ("hashes", "installed-size"):
            raise SystemExit("apk.py: invalid info field: %s" % item)
        info[key] = value
    for key in ("name", "version"):
        if key not in info:
            raise SystemExit("apk.py: required info field '%s' not provided" % key)
    if not NAME_RE.match(info["name"]):
        raise SystemExit("apk.py: bad package name %r" % info["name"])
    if not VERSION_RE.match(info["version"]):
        raise SystemExit("apk.py: bad version %r (OpenWrt's apk wants e.g. 0.1.0-r1)"
                         % info["version"])
    for dep in info.get("depends", "").split():
        if not NAME_RE.match(dep):
            raise SystemExit("apk.py: dependency %r: only plain names are supported" % dep)
    return info


def scan(root):
    """Directories (relative, '' for the root) each with its regular files,
    as app_mkpkg.c walks them: names sorted bytewise (strcmp)."""
    dirs = {}

    def walk(rel):
        files = []
        path = os.path.join(root, rel)
        for name in sorted(os.listdir(path), key=os.fsencode):
            sub = os.path.join(rel, name) if rel else name
            st = os.lstat(os.path.join(root, sub))
            if stat.S_ISDIR(st.st_mode):
                walk(sub)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                files.append((name, st))
            else:
                raise SystemExit("apk.py: %s: only regular files (no links) are packed" % sub)
        dirs[rel] = (os.lstat(path), files)

    walk("")
    return dirs


def write_dir(w, root, rel, dstat, files, mtime_of):
    """mkpkg_process_directory: its files first, then the directory itself."""
    fobjs = []
    for name, st in files:
        with open(os.path.join(root, rel, name), "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        # Order of writes as mkpkg_process_dirent: name, hash, mtime, size,
        # then the acl's mode, user, group, the acl, the file.
        slots = {FI_NAME: w.blob(os.fsencode(name)), FI_HASHES: w.blob(digest)}
        slots[FI_MTIME] = w.int(mtime_of(st))
        slots[FI_SIZE] = w.int(st.st_size)
        acl = {ACL_MODE: w.int(st.st_mode & 0o7777), ACL_USER: w.blob(b"root"),
               ACL_GROUP: w.blob(b"root")}
        slots[FI_ACL] = w.obj(acl)
        fobjs.append(w.obj(slots))
    slots = {DI_NAME: w.blob(os.fsencode(rel))}
    acl = {ACL_MODE: w.int(dstat.st_mode & 0o7777), ACL_USER: w.blob(b"root"),
           ACL_GROUP: w.blob(b"root")}
    slots[DI_ACL] = w.obj(acl)
    # Already in name order, which the schema's pre_commit sort keeps.
    slots[DI_FILES] = w.arr(fobjs)
    return w.obj(slots)


def build_adb(info, scripts, root, epoch):
    """The ADB block and the files for the data blocks, in app_mkpkg.c's order.

    Every directory is recorded, empty or not: mkpkg's default --compat
    (3.0.0_pre1) sets compat_rootnode and compat_dirnode, so it prunes none."""
    w = AdbWriter()
    pi = {}
    for key, idx in sorted(PI.items(), key=lambda kv: kv[1]):
        if key not in info:
            continue
        if idx == PI_DEPENDS:
            # dependencies_fromstring: each name, then its object; the array
            # is sorted by name and de-duplicated (adb_wa_sort_unique).
            deps = {}
            for name in info[key].split():
                deps.setdefault(name, w.obj({DEP_NAME: w.blob(name.encode())}))
            pi[idx] = w.arr([deps[n] for n in sorted(deps, key=str.encode)])
        else:
            pi[idx] = w.blob(info[key].encode())

    def mtime_of(st):
        return epoch if epoch is not None else int(st.st_mtime)

    dirs = scan(root)
    order = sorted(dirs, key=os.fsencode)  # '' (the root) first
    dir_vals = [write_dir(w, root, rel, *dirs[rel], mtime_of) for rel in order]
    size = sum(st.st_size for rel in order for _, st in dirs[rel][1])
    pi[PI_INSTALLED_SIZE] = w.int(size or 1)
    uid_val = w.blob(bytes(UID_LEN), cache=False)
    pi[PI_HASHES] = uid_val
    pkg = {PKG_INFO: w.obj(pi), PKG_PATHS: w.arr(dir_vals)}
    if scripts:
        texts = {SCRIPTS[k]: w.blob(v) for k, v in sorted(scripts.items(),
                                                         key=lambda kv: SCRIPTS[kv[0]])}
        pkg[PKG_SCRIPTS] = w.obj(texts)
    w.buf[4:8] = le32(w.obj(pkg))
    uid_at = (uid_val & VALUE_MASK) + 1
    w.buf[uid_at:uid_at + UID_LEN] = hashlib.sha256(w.buf).digest()[:UID_LEN]
    data = [(p, f, os.path.join(root, rel, name), st.st_size)
            for p, rel in enumerate(order, 1)
            for f, (name, st) in enumerate(dirs[rel][1], 1) if st.st_size]
    return bytes(w.buf), data


def block(kind, payload):
    """adb_c_block: u32 type<<30 | (4 + length), the payload, zeros to 8."""
    if len(payload) > BLOCK_MAX_SMALL:
        raise SystemExit("apk.py: block of %d bytes is too large" % len(payload))
    raw = le32((kind << 30) + 4 + len(payload)) + payload
    return raw + bytes(-len(raw) % BLOCK_ALIGN)


def mkpkg(args):
    info, scripts, files, output = [], {}, None, None
    it = iter(args)
    for opt in it:
        val = next(it, None)
        if val is None:
            raise SystemExit("apk.py: %s needs a value" % opt)
        if opt in ("--info", "-I"):
            info.append(val)
        elif opt in ("--script", "-s"):
            kind, sep, path = val.partition(":")
            if not sep or kind not in SCRIPTS:
                raise SystemExit("apk.py: invalid script type: %s" % val)
            with open(path, "rb") as f:
                scripts[kind] = f.read()
        elif opt in ("--files", "-F"):
            files = val
        elif opt in ("--output", "-o"):
            output = val
        else:
            raise SystemExit("apk.py: unknown mkpkg option %s" % opt)
    if files is None or output is None:
        raise SystemExit("apk.py: mkpkg needs --files and --output")
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    adb, data = build_adb(parse_info(info), scripts, files, int(sde) if sde else None)
    # File header, the ADB block, then one data block per non-empty file:
    # u32 path index, u32 file index (1-based, in the ADB's order), content.
    # No signature block: OpenWrt's packages are unsigned, its index signed.
    body = [FILE_MAGIC + SCHEMA_PACKAGE, block(BLOCK_ADB, adb)]
    for p, f, path, size in data:
        with open(path, "rb") as fh:
            content = fh.read()
        if len(content) != size:
            raise SystemExit("apk.py: %s changed while packing" % path)
        body.append(block(BLOCK_DATA, le32(p) + le32(f) + content))
    # adb_compress with the default spec: "ADBd", then raw deflate (window
    # bits -15) at level 9, memLevel 8 (io_gunzip.c, apk_ostream_zlib).
    z = zlib.compressobj(9, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    out = b"ADBd" + z.compress(b"".join(body)) + z.flush()
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, output)


# --- reader --------------------------------------------------------------------
class Broken(Exception):
    pass


def decompress(raw):
    """adb_decompress: 'ADB.' plain, 'ADBd' raw deflate, 'ADBc' + alg + level."""
    if raw[:4] == b"ADB.":
        return raw
    if raw[:4] == b"ADBd":
        stream = raw[4:]
    elif raw[:4] == b"ADBc" and raw[4:5] == b"\x01":
        stream = raw[6:]
    else:
        raise Broken("not an ADB package (or compressed other than deflate)")
    d = zlib.decompressobj(-15)
    out = d.decompress(stream) + d.flush()
    if not d.eof or d.unused_data:
        raise Broken("deflate stream truncated or followed by junk")
    return out


def blocks(data):
    if data[:8] != FILE_MAGIC + SCHEMA_PACKAGE:
        raise Broken("header is not ADB. + pckg")
    pos = 8
    while pos < len(data):
        if pos + 4 > len(data):
            raise Broken("truncated block header")
        (ts,) = struct.unpack_from("<I", data, pos)
        kind, raw = ts >> 30, ts & 0x3FFFFFFF
        if kind == 3 or raw < 4 or pos + raw > len(data):
            raise Broken("bad block at %d" % pos)
        yield kind, data[pos + 4:pos + raw]
        end = pos + raw + (-raw % BLOCK_ALIGN)
        if data[pos + raw:end] != bytes(end - pos - raw):
            raise Broken("non-zero block padding at %d" % pos)
        pos = end


class AdbReader:
    def __init__(self, buf):
        self.buf = buf

    def at(self, off, n):
        if off + n > len(self.buf):
            raise Broken("value points past the ADB block")
        return self.buf[off:off + n]

    def int(self, v):
        t, off = v & TYPE_MASK, v & VALUE_MASK
        if v == NULL:
            return None
        if t == T_INT:
            return off
        if t == T_INT_32:
            return struct.unpack("<I", self.at(off, 4))[0]
        if t == T_INT_64:
            return struct.unpack("<Q", self.at(off, 8))[0]
        raise Broken("expected an integer, found type %x" % (t >> 28))

    def blob(self, v):
        t, off = v & TYPE_MASK, v & VALUE_MASK
        if v == NULL:
            return None
        for kind, fmt in ((T_BLOB_8, "<B"), (T_BLOB_16, "<H"), (T_BLOB_32, "<I")):
            if t == kind:
                hl = struct.calcsize(fmt)
                (n,) = struct.unpack(fmt, self.at(off, hl))
                return self.at(off + hl, n)
        raise Broken("expected a blob, found type %x" % (t >> 28))

    def obj(self, v):
        """{index: value}; arrays come back as {1: .., 2: ..}."""
        t, off = v & TYPE_MASK, v & VALUE_MASK
        if v == NULL:
            return {}
        if t not in (T_OBJECT, T_ARRAY) or off % 4:
            raise Broken("expected an object, found %08x" % v)
        (n,) = struct.unpack("<I", self.at(off, 4))
        words = struct.unpack("<%dI" % n, self.at(off, 4 * n))
        return {i: words[i] for i in range(1, n) if words[i] != NULL}

    def arr(self, v):
        o = self.obj(v)
        return [o[i] for i in sorted(o)]

    def text(self, v):
        b = self.blob(v)
        return None if b is None else b.decode()


def read(path):
    """The package as a dict, after checking what apk add would check:
    framing, the unique id, one data block per non-empty file in order,
    each with the size and SHA-256 its file entry records."""
    with open(path, "rb") as f:
        data = decompress(f.read())
    bl = list(blocks(data))
    if not bl or bl[0][0] != BLOCK_ADB:
        raise Broken("first block is not the ADB block")
    adb = bl[0][1]
    r = AdbReader(adb)
    (root,) = struct.unpack_from("<I", adb, 4)
    pkg = r.obj(root)
    pi = r.obj(pkg.get(PKG_INFO, NULL))
    info = {k: r.text(pi[i]) for k, i in PI.items()
            if i in pi and i not in (PI_DEPENDS, PI_HASHES, PI_INSTALLED_SIZE)}
    info["installed-size"] = r.int(pi.get(PI_INSTALLED_SIZE, NULL))
    info["depends"] = [r.text(r.obj(d)[DEP_NAME]) for d in r.arr(pi.get(PI_DEPENDS, NULL))]
    uid = r.blob(pi.get(PI_HASHES, NULL))
    if uid is None or len(uid) != UID_LEN:
        raise Broken("no unique id")
    at = (pi[PI_HASHES] & VALUE_MASK) + 1
    zeroed = adb[:at] + bytes(UID_LEN) + adb[at + UID_LEN:]
    if hashlib.sha256(zeroed).digest()[:UID_LEN] != uid:
        raise Broken("unique id is not the SHA-256 of the ADB block")
    info["unique-id"] = uid.hex()
    paths, want = [], []
    for p, dv in enumerate(r.arr(pkg.get(PKG_PATHS, NULL)), 1):
        d = r.obj(dv)
        acl = r.obj(d.get(DI_ACL, NULL))
        entry = {"dir": r.text(d.get(DI_NAME, NULL)) or "", "mode": "%04o" % r.int(acl[ACL_MODE]),
                 "user": r.text(acl[ACL_USER]), "group": r.text(acl[ACL_GROUP]), "files": []}
        for f, fv in enumerate(r.arr(d.get(DI_FILES, NULL)), 1):
            fo = r.obj(fv)
            facl = r.obj(fo.get(FI_ACL, NULL))
            fe = {"name": r.text(fo[FI_NAME]), "mode": "%04o" % r.int(facl[ACL_MODE]),
                  "user": r.text(facl[ACL_USER]), "group": r.text(facl[ACL_GROUP]),
                  "size": r.int(fo.get(FI_SIZE, NULL)) or 0,
                  "mtime": r.int(fo.get(FI_MTIME, NULL)),
                  "sha256": (r.blob(fo.get(FI_HASHES, NULL)) or b"").hex()}
            entry["files"].append(fe)
            if fe["size"]:
                want.append((p, f, fe))
        paths.append(entry)
    got = [b for b in bl[1:] if b[0] != BLOCK_SIG]
    if len(got) != len(want) or any(k != BLOCK_DATA for k, _ in got):
        raise Broken("%d data blocks for %d non-empty files" % (len(got), len(want)))
    contents = {}
    for (_, payload), (p, f, fe) in zip(got, want):
        if struct.unpack_from("<II", payload) != (p, f):
            raise Broken("data block for %s out of order" % fe["name"])
        body = payload[8:]
        if len(body) != fe["size"] or hashlib.sha256(body).hexdigest() != fe["sha256"]:
            raise Broken("%s: content does not match its size/SHA-256" % fe["name"])
        contents[(p, f)] = body
    sc = r.obj(pkg.get(PKG_SCRIPTS, NULL))
    scripts = {k: r.text(sc[i]) for k, i in SCRIPTS.items() if i in sc}
    return {"info": info, "paths": paths, "scripts": scripts}, contents


def extract(path, dest):
    pkg, contents = read(path)
    for p, d in enumerate(pkg["paths"], 1):
        ddir = os.path.join(dest, d["dir"])
        os.makedirs(ddir, exist_ok=True)
        for f, fe in enumerate(d["files"], 1):
            target = os.path.join(ddir, fe["name"])
            with open(target, "wb") as out:
                out.write(contents.get((p, f), b""))
            os.chmod(target, int(fe["mode"], 8))
        os.chmod(ddir, int(d["mode"], 8))


def main(argv):
    try:
        if len(argv) >= 2 and argv[1] == "mkpkg":
            mkpkg(argv[2:])
            return 0
        if len(argv) == 3 and argv[1] == "dump":
            json.dump(read(argv[2])[0], sys.stdout, indent=1, sort_keys=True)
            print()
            return 0
        if len(argv) == 4 and argv[1] == "extract":
            extract(argv[2], argv[3])
            return 0
    except OSError as e:
        print("apk.py: %s" % e, file=sys.stderr)
        return 1
    except (Broken, struct.error, zlib.error, KeyError, UnicodeDecodeError) as e:
        # mkpkg raises none of these: argv[2] is the package read.
        print("apk.py: %s: broken package: %s" % (argv[2], e), file=sys.stderr)
        return 1
    print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

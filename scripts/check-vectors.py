#!/usr/bin/python3
"""check-vectors.py - read the golden wire vectors with an independent MessagePack implementation.

usage: check-vectors.py [--annotate] VECTOR_DIR
       check-vectors.py --doc PROTOCOL.md [--update] VECTOR_DIR

Every tests/vectors/<name>.bin is one complete frame (4-byte big-endian length, then one
MessagePack value) written by the C encoder; <name>.json holds what the C decoder made of it.
This script decodes each .bin with python3-msgpack (not our code) and checks, per file:
  - the length prefix equals the body length and "frame_len" in the .json;
  - the body is exactly one MessagePack value (no trailing bytes), an array [type, rid, body];
  - the generic rendering of that value equals the "msgpack" member of the .json;
  - body map keys are unsigned integers written in ascending order (the canonical form);
  - every body field of the message, by the field tables of docs/PROTOCOL.md (encoded here
    independently of the C code), equals the named field in the "message" member; and optional
    fields absent from the bytes have their documented default in "message".
With --annotate it prints the annotated hex dump of the example session (tests/vectors/SESSION)
used in docs/PROTOCOL.md. With --doc it checks that the generated blocks of docs/PROTOCOL.md
(the error-code table from SK_ERR_LIST in proto/sk_err.h, and the annotated session) are up to
date, or rewrites them with --update. Exit status 0 when all pass, 1 otherwise.
"""
import json
import os
import re
import sys

import msgpack

TYPES = {1: "HELLO", 2: "CHALLENGE", 3: "AUTH", 4: "WELCOME", 5: "PUSH", 6: "PUSH_ACK",
         7: "PULL", 8: "CHANGES", 9: "PING", 10: "PONG", 11: "BYE", 12: "ERROR", 13: "ENROLL",
         14: "ENROLLED", 15: "WIPE", 16: "HISTORY", 17: "HISTORY_OF"}

# Body field tables of docs/PROTOCOL.md: key -> (name, required, default).
BODY = {
    "HELLO": {1: ("versions", True, None), 2: ("device", False, 0), 3: ("app", False, ""),
              4: ("caps", False, 0), 5: ("max_frame", False, 1048576)},
    "CHALLENGE": {1: ("nonce", True, None), 2: ("server_ms", True, None),
                  3: ("version", True, None)},
    "AUTH": {1: ("sig", True, None)},
    "WELCOME": {1: ("session", True, None), 2: ("server_ms", True, None),
                3: ("max_frame", True, None), 4: ("max_batch", True, None),
                5: ("max_inflight", True, None), 6: ("caps", False, 0), 7: ("role", True, None),
                8: ("worker", True, None), 9: ("district", False, 0)},
    "PUSH": {1: ("changes", True, None)},
    "PUSH_ACK": {1: ("acks", True, None)},
    "PULL": {1: ("cursor", True, None), 2: ("limit", False, 100)},
    "CHANGES": {1: ("records", True, None), 2: ("next", True, None), 3: ("more", False, False),
                4: ("last", False, True)},
    "PING": {1: ("ms", False, 0)},
    "PONG": {1: ("ms", False, 0)},
    "BYE": {1: ("code", False, 0), 2: ("msg", False, "")},
    "ERROR": {1: ("code", True, None), 2: ("msg", False, ""), 3: ("retry_ms", False, 0)},
    "ENROLL": {1: ("code", True, None), 2: ("pubkey", True, None), 3: ("label", False, "")},
    "ENROLLED": {1: ("device", True, None), 2: ("worker", True, None), 3: ("role", True, None),
                 4: ("district", False, 0)},
    "WIPE": {1: ("code", False, 0), 2: ("msg", False, "")},
    "HISTORY": {1: ("id", True, None), 2: ("after", False, 0), 3: ("limit", False, 100)},
    "HISTORY_OF": {1: ("id", True, None), 2: ("changes", True, None), 3: ("next", True, None),
                   4: ("more", False, False)},
}
CHANGE = ["id", "op", "base", "hlc", "kind", "fields", "entries"]
RECORD = ["id", "version", "flags", "created", "created_ver", "updated", "fields", "stamps",
          "entries"]
KINDS = {0: "upsert", 1: "delete", 2: "erase"}


def generic(v):
    """The generic JSON rendering the C side uses (sk_msg_mp_to_json)."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list):
        return [generic(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if isinstance(k, bool) or not isinstance(k, (int, str)):
                k = json.dumps(generic(k), separators=(",", ":"), ensure_ascii=False)
            out[str(k)] = generic(x)
        return out
    return v


def uuid_of(b):
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class Fail(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Fail(what)


def check_change(c, j):
    expect(len(c) == 7, "change is not an array of 7")
    d = dict(zip(CHANGE, c))
    expect(uuid_of(d["id"]) == j["id"], "change id")
    for k in ("op", "base", "hlc"):
        expect(d[k] == j[k], f"change {k}")
    expect(KINDS.get(d["kind"], d["kind"]) == j["kind"], "change kind")
    expect(generic(d["fields"]) == j["fields"], "change fields")
    expect(list(d["fields"]) == sorted(d["fields"]), "change field keys not ascending")
    expect(len(d["entries"]) == len(j["entries"]), "change entries")
    for e, je in zip(d["entries"], j["entries"]):
        expect(len(e) == 3 and uuid_of(e[0]) == je["id"] and e[1] == je["list"]
               and generic(e[2]) == je["value"], "change entry")


def check_record(r, j):
    if isinstance(r, int):  # the version-only form (SK_CAP_ECHO): the bare version
        expect(j.get("version_only") is True and r >= 1 and r == j["version"],
               "version-only record")
        return
    expect(isinstance(r, list) and len(r) == 9, "record is not an array of 9 (or a version)")
    d = dict(zip(RECORD, r))
    expect(uuid_of(d["id"]) == j["id"], "record id")
    for k in ("version", "flags", "created", "created_ver", "updated"):
        expect(d[k] == j[k], f"record {k}")
    expect(sorted(str(k) for k in d["fields"]) == sorted(j["fields"]), "record field keys")
    for k, v in d["fields"].items():
        jf = j["fields"][str(k)]
        hlc, ver = d["stamps"].get(k, [d["created"], d["created_ver"]])
        expect(generic(v) == jf["value"] and jf["hlc"] == hlc and jf["ver"] == ver,
               f"record field {k}")
    for k, st in d["stamps"].items():
        expect(k in d["fields"], "stamp for a missing field")
        expect(st != [d["created"], d["created_ver"]], "stamp equal to the default written")
    expect(len(d["entries"]) == len(j["entries"]), "record entries")
    for e, je in zip(d["entries"], j["entries"]):
        expect(len(e) in (3, 5) and uuid_of(e[0]) == je["id"] and e[1] == je["list"]
               and generic(e[2]) == je["value"], "record entry")
        hlc, ver = (e[3], e[4]) if len(e) == 5 else (d["created"], d["created_ver"])
        expect(je["hlc"] == hlc and je["ver"] == ver, "record entry stamps")


def check_ack(a, j):
    expect(len(a) in (3, 4, 6), "ack length")
    expect(a[0] == j["op"] and a[1] == j["status"] and a[2] == j["version"], "ack")
    expect((a[1] == 2) == (len(a) == 6), "ack length vs status")
    if len(a) == 4:  # the server's fields of a created record (SK_CAP_ECHO)
        expect(a[1] == 0 and isinstance(a[3], dict), "ack fields: applied acks only, a map")
        expect(all(isinstance(k, int) and 1 <= k <= 65535 for k in a[3]), "ack field keys")
        expect(list(a[3]) == sorted(a[3]), "ack field keys not ascending")
        expect(generic(a[3]) == j["fields"], "ack fields")
    else:
        expect("fields" not in j, "ack fields rendered for a plain ack")
    if a[1] == 2:
        expect(a[2] == 0 and a[3] == j["code"] and a[4] == j["field"] and a[5] == j["msg"],
               "rejected ack")


def check_history(changes):
    """HISTORY_OF changes by docs/PROTOCOL.md 3.16."""
    expect(isinstance(changes, list) and len(changes) <= 1000, "history changes")
    for c in changes:
        expect(isinstance(c, list) and len(c) >= 9, "history change is not an array of 9")
        seq, by, device, hlc, kind, keys, conflicts, entries, displaced = c[:9]
        expect(all(isinstance(x, int) and x >= 0 for x in (seq, device, hlc, kind, entries)),
               "history change numbers")
        expect(isinstance(by, str) and len(by.encode()) <= 64, "history change by")
        for ks in (keys, conflicts):
            expect(isinstance(ks, list) and len(ks) <= 256 and
                   all(isinstance(k, int) and 1 <= k <= 65535 for k in ks), "history keys")
        expect(isinstance(displaced, list) and len(displaced) <= 512, "displaced")
        for d in displaced:
            expect(isinstance(d, list) and len(d) >= 6, "displaced is not an array of 6")
            key, _value, set_by, dhlc, lost, withheld = d[:6]
            expect(isinstance(key, int) and 1 <= key <= 65535, "displaced key")
            expect(isinstance(set_by, str) and len(set_by.encode()) <= 64, "displaced set_by")
            expect(isinstance(dhlc, int) and isinstance(lost, bool) and
                   isinstance(withheld, bool), "displaced hlc, lost, withheld")
            expect(not withheld or _value is None, "a withheld value must be nil")


def check_one(path_bin, path_json):
    raw = open(path_bin, "rb").read()
    j = json.load(open(path_json, encoding="utf-8"))
    expect(len(raw) >= 5, "frame too short")
    n = int.from_bytes(raw[:4], "big")
    expect(n == len(raw) - 4, "length prefix does not match the body")
    expect(j["frame_len"] == len(raw), "frame_len")
    v = msgpack.unpackb(raw[4:], raw=False, strict_map_key=False)  # raises on trailing bytes
    expect(isinstance(v, list) and len(v) == 3, "envelope is not an array of 3")
    typ, rid, body = v
    expect(generic(v) == j["msgpack"], "generic rendering differs from the .json")
    m = j["message"]
    name = TYPES.get(typ)
    expect(name is not None and m["type"] == name and m["type_code"] == typ, "type")
    expect(rid == m["rid"] and 0 <= rid <= 0xFFFFFFFF, "rid")
    expect(isinstance(body, dict), "body is not a map")
    keys = list(body)
    expect(all(isinstance(k, int) and k >= 0 for k in keys), "body keys are not uints")
    expect(keys == sorted(keys), "body keys not ascending")
    for key, (fname, required, default) in BODY[name].items():
        if key not in body:
            expect(not required, f"required field {fname} missing")
            expect(m[fname] == default, f"{fname}: default {default!r} expected")
            continue
        val = body[key]
        expect(default is None or val != default, f"{fname} written at its default")
        if name in ("HISTORY", "HISTORY_OF") and fname == "id":
            expect(isinstance(val, bytes) and len(val) == 16 and uuid_of(val) == m["id"], "id")
        elif name == "HISTORY_OF" and fname == "changes":
            check_history(val)
            expect(generic(val) == m[fname], "history changes")
        elif fname == "changes":
            expect(len(val) == len(m[fname]), "changes count")
            for c, jc in zip(val, m[fname]):
                check_change(c, jc)
        elif fname == "records":
            expect(len(val) == len(m[fname]), "records count")
            for r, jr in zip(val, m[fname]):
                check_record(r, jr)
        elif fname == "acks":
            expect(len(val) == len(m[fname]), "acks count")
            for a, ja in zip(val, m[fname]):
                check_ack(a, ja)
        else:
            expect(generic(val) == m[fname], f"field {fname}")
    return name


# ---- annotated hex dump ----------------------------------------------------------------------

def case_field_names():
    """Field key -> name from proto/sk_case.h (SK_F_NAME = 10 -> 'name')."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        text = open(os.path.join(here, "..", "proto", "sk_case.h"), encoding="utf-8").read()
    except OSError:
        return {}
    return {int(n): k.lower() for k, n in re.findall(r"SK_F_(\w+)\s*=\s*(\d+)", text)
            if k != "SERVICE_BASE"}


FIELD_NAMES = {}


def token(buf, off):
    """Header of the MessagePack value at off: (kind, header_len, payload_len, count, value)."""
    c = buf[off]
    be = lambda a, n: int.from_bytes(buf[a:a + n], "big")
    if c <= 0x7f:
        return ("uint", 1, 0, 0, c)
    if c >= 0xe0:
        return ("int", 1, 0, 0, c - 256)
    if 0x80 <= c <= 0x8f:
        return ("map", 1, 0, c & 15, None)
    if 0x90 <= c <= 0x9f:
        return ("array", 1, 0, c & 15, None)
    if 0xa0 <= c <= 0xbf:
        return ("str", 1, c & 31, 0, None)
    simple = {0xc0: ("nil", None), 0xc2: ("bool", False), 0xc3: ("bool", True)}
    if c in simple:
        return (simple[c][0], 1, 0, 0, simple[c][1])
    if c in (0xc4, 0xc5, 0xc6):
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[c]
        return ("bin", 1 + w, be(off + 1, w), 0, None)
    if c in (0xd9, 0xda, 0xdb):
        w = {0xd9: 1, 0xda: 2, 0xdb: 4}[c]
        return ("str", 1 + w, be(off + 1, w), 0, None)
    if 0xcc <= c <= 0xcf:
        w = 1 << (c - 0xcc)
        return ("uint", 1 + w, 0, 0, be(off + 1, w))
    if c in (0xdc, 0xdd):
        w = 2 if c == 0xdc else 4
        return ("array", 1 + w, 0, be(off + 1, w), None)
    if c in (0xde, 0xdf):
        w = 2 if c == 0xde else 4
        return ("map", 1 + w, 0, be(off + 1, w), None)
    raise Fail(f"annotate: unsupported byte {c:#x}")


class Dump:
    def __init__(self):
        self.lines = []

    def emit(self, data, depth, text):
        hx = data.hex(" ")
        chunks = [hx[i:i + 48] for i in range(0, len(hx), 48)] or [""]
        for i, ch in enumerate(chunks):
            label = ("  " * depth + text) if i == 0 else ""
            self.lines.append(f"{ch:<48}  {label}".rstrip())


def describe(kind, val, payload):
    if kind == "str":
        s = payload.decode("utf-8")
        short = s if len(s) <= 40 else s[:37] + "..."
        return f'str({len(payload)}) "{short}"'
    if kind == "bin":
        return f"bin({len(payload)})"
    if kind in ("uint", "int"):
        return f"{val}"
    if kind == "nil":
        return "nil"
    if kind == "bool":
        return "true" if val else "false"
    return kind


def walk(d, buf, off, depth, label, schema):
    """Annotate the value at off; schema names what it is. Returns the offset after it."""
    kind, hl, pl, count, val = token(buf, off)
    head = buf[off:off + hl + pl]
    payload = buf[off + hl:off + hl + pl]
    prefix = f"{label}: " if label else ""
    if kind == "uint" and schema == "type":
        d.emit(head, depth, f"{prefix}{val} = {TYPES.get(val, 'unknown')}")
        return off + hl
    if kind == "uint" and schema == "hlc":
        d.emit(head, depth, f"{prefix}{val} (ms {val >> 16}, counter {val & 0xffff})")
        return off + hl
    if kind == "bin" and pl == 16 and schema == "id":
        d.emit(head, depth, f"{prefix}bin(16) id {uuid_of(payload)}")
        return off + hl + pl
    if kind not in ("array", "map"):
        d.emit(head, depth, prefix + describe(kind, val, payload))
        return off + hl + pl
    d.emit(head, depth, f"{prefix}{kind}({count})" + (f" {schema}" if isinstance(schema, str)
                                                       and schema else ""))
    off += hl
    if kind == "array":
        for i in range(count):
            sub_label, sub_schema = "", None
            if schema == "envelope":
                sub_label, sub_schema = ["type", "rid", "body"][i], ["type", None, "body"][i]
            elif schema == "change":
                sub_label = CHANGE[i] if i < 7 else f"[{i}]"
                sub_schema = {"id": "id", "hlc": "hlc", "fields": "fields",
                              "entries": "entries"}.get(sub_label)
            elif schema == "record":
                sub_label = RECORD[i] if i < 9 else f"[{i}]"
                sub_schema = {"id": "id", "created": "hlc", "updated": "hlc", "fields": "fields",
                              "stamps": "stamps", "entries": "entries"}.get(sub_label)
            elif schema == "entry":
                sub_label = ["entry id", "list", "value", "hlc", "ver"][i]
                sub_schema = {0: "id", 3: "hlc"}.get(i)
            elif schema == "ack":
                sub_label = ["op", "status", "version", "code", "field", "msg"][i]
            elif schema == "stamp":
                sub_label = ["hlc", "ver"][i]
                sub_schema = "hlc" if i == 0 else None
            elif schema in ("changes", "records", "acks", "entries"):
                sub_schema = {"changes": "change", "records": "record", "acks": "ack",
                              "entries": "entry"}[schema]
            off = walk(d, buf, off, depth + 1, sub_label, sub_schema)
        return off
    for i in range(count):
        kk, khl, _, _, kval = token(buf, off)
        kname = ""
        sub_schema = None
        if isinstance(schema, tuple) and schema[0] == "body":
            kname = BODY[schema[1]].get(kval, ("unknown",))[0]
            sub_schema = {"changes": "changes", "records": "records", "acks": "acks"}.get(kname)
        elif schema in ("fields", "stamps"):
            kname = FIELD_NAMES.get(kval, "field")
            sub_schema = "stamp" if schema == "stamps" else None
        d.emit(buf[off:off + khl], depth + 1, f"key {kval}" + (f" ({kname})" if kname else ""))
        off += khl
        off = walk(d, buf, off, depth + 2, "", sub_schema)
    return off


def annotate(vdir):
    global FIELD_NAMES
    FIELD_NAMES = case_field_names()
    names = [n.strip() for n in open(os.path.join(vdir, "SESSION")) if n.strip()]
    out = []
    for i, name in enumerate(names, 1):
        raw = open(os.path.join(vdir, name + ".bin"), "rb").read()
        j = json.load(open(os.path.join(vdir, name + ".json"), encoding="utf-8"))
        typ = raw[5] if raw[5] <= 0x7f else None
        out.append(f"-- frame {i}: {j['direction']} {TYPES.get(typ, '?')} "
                   f"({name}.bin, {len(raw)} bytes): {j['note']}")
        d = Dump()
        d.emit(raw[:4], 0, f"length {int.from_bytes(raw[:4], 'big')}")
        body = raw[4:]
        # the body's schema depends on the type, known once the envelope's first element is read
        v = msgpack.unpackb(body, raw=False, strict_map_key=False)
        schema_body = ("body", TYPES[v[0]])

        def walk_env(buf):
            kind, hl, _, count, _ = token(buf, 0)
            d.emit(buf[:hl], 0, f"array({count}) envelope")
            off = hl
            off = walk(d, buf, off, 1, "type", "type")
            off = walk(d, buf, off, 1, "rid", None)
            off = walk(d, buf, off, 1, "body", schema_body)
            expect(off == len(buf), "annotate: trailing bytes")

        walk_env(body)
        out.extend(d.lines)
        out.append("")
    print("\n".join(out))


ADVICE = {"FIX": "a bug or bad data on the sender side: do not resend unchanged (a rejected change goes back to the worker)",
          "RETRY": "transient: resend later with backoff (ERROR.retry_ms when given)",
          "REAUTH": "reconnect and authenticate again",
          "STOP": "stop syncing; needs a person"}


def error_table():
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "proto", "sk_err.h"), encoding="utf-8").read()
    rows = re.findall(r'X\((\d+), (\w+), (\w+), "([^"]*)"\)', text)
    out = ["| code | name | meaning | client action |", "|---:|---|---|---|"]
    for num, name, adv, meaning in rows:
        out.append(f"| {num} | {name} | {meaning} | {adv}: {ADVICE[adv]} |")
    return "\n".join(out)


def annotated_session(vdir):
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        annotate(vdir)
    return "```\n" + buf.getvalue().rstrip("\n") + "\n```"


def doc_blocks(doc_path, vdir, update):
    text = open(doc_path, encoding="utf-8").read()
    blocks = {"errors": error_table(), "session": annotated_session(vdir)}
    new = text
    for name, content in blocks.items():
        begin, end = f"<!-- BEGIN generated:{name} -->", f"<!-- END generated:{name} -->"
        a, b = new.find(begin), new.find(end)
        if a < 0 or b < a:
            print(f"FAIL: {doc_path} lacks the markers for {name}")
            return 1
        new = new[:a + len(begin)] + "\n" + content + "\n" + new[b:]
    if new == text:
        print(f"ok   {doc_path} generated blocks are current")
        return 0
    if update:
        open(doc_path, "w", encoding="utf-8").write(new)
        print(f"updated {doc_path}")
        return 0
    print(f"FAIL: {doc_path} generated blocks are stale (run with --doc {doc_path} --update)")
    return 1


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if "--doc" in argv and len(args) == 2:
        return doc_blocks(args[0], args[1], "--update" in argv)
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    vdir = args[0]
    if "--annotate" in argv:
        annotate(vdir)
        return 0
    bins = sorted(f[:-4] for f in os.listdir(vdir) if f.endswith(".bin"))
    jsons = sorted(f[:-5] for f in os.listdir(vdir) if f.endswith(".json"))
    bad = 0
    if bins != jsons:
        print(f"FAIL: .bin and .json files do not pair up: {set(bins) ^ set(jsons)}")
        bad += 1
    seen = set()
    for name in bins:
        try:
            seen.add(check_one(os.path.join(vdir, name + ".bin"),
                               os.path.join(vdir, name + ".json")))
            print(f"ok   {name}")
        except (Fail, ValueError, KeyError, TypeError, msgpack.ExtraData,
                msgpack.exceptions.UnpackException) as e:
            print(f"FAIL {name}: {e}")
            bad += 1
    missing = set(TYPES.values()) - seen
    if missing:
        print(f"FAIL: no vector for {sorted(missing)}")
        bad += 1
    if len(bins) == 0:
        bad += 1
    print(f"{len(bins)} vectors, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

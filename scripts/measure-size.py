#!/usr/bin/python3
"""measure-size.py - wire size of the sample referrals against their compact JSON (issue 3).

usage: measure-size.py [tests/data/sample-referrals.json]

Maps each sample referral (the JSON export layout) onto the case model of proto/sk_case.h -
small integer field keys, enumeration codes, Unix-ms times, 16-byte binary ids - and encodes it
with python3-msgpack in exactly the layout of the C codec (docs/PROTOCOL.md): a PUSH frame
  4-byte length + [5, rid, {1: [change]}],  change = [id, op, base, hlc, kind, {key: value},
  [[entry_id, list, {1: by, 2: text, 3: at}]...]]
and the same referral as a stored record in a CHANGES frame. Then it compresses a PUSH batch of
50 referrals with the zstd and gzip command-line tools (python here has no zstd module) to see
whether frame compression pays. Prints the figures recorded in docs/PROTOCOL.md, "Compactness".
"""
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

import msgpack

# proto/sk_case.h keys and codes (the measurement must use the real layout).
F = dict(schema=1, created_at=2, device=3, worker=4, case_no=5, district=6, block=7, village=8,
         taken_at=9, name=10, age=11, age_band=12, minor=13, phone=14, safe_to_call=15,
         marital=16, children=17, concerns=18, concern_other=19, urgency=20, source=21,
         consent_share=22, consent_contact=23, consent_by=24, consent_at=25, status=26,
         status_reason=27, notes=28, assigned=29)
SERVICE_BASE = 40
ENUMS = {
    "district": ["leh", "kargil"],
    "taken_at": ["home_visit", "anganwadi_centre", "health_centre", "police_station", "phone",
                 "osc"],
    "marital": ["unmarried", "married", "separated", "divorced", "widowed"],
    "concern": ["domestic_violence", "financial_abuse", "cyber_bullying", "abandonment",
                "drug_abuse", "child_marriage", "sexual_offence_minor", "other"],
    "urgency": ["immediate_danger", "urgent", "routine"],
    "service": ["legal_aid", "medical_assistance", "police_facilitation", "counselling",
                "shelter"],
    "source": ["self", "helpline_181", "police", "hospital", "court", "government_department",
               "ngo", "family", "community", "frontline_worker"],
    "status": ["new", "received", "accepted", "in_service", "closed", "referred"],
}
LIST_FOLLOWUP = 1
SVC_NEEDED = 1


def code(enum, name):
    return ENUMS[enum].index(name.lower()) + 1


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
               .timestamp() * 1000)


def idbin(u):
    return bytes.fromhex(u.replace("-", ""))


def device_fields(r):
    """What the device pushes: every captured field (server-set ones excluded)."""
    p, c = r["person"], r["consent"]
    f = {
        F["schema"]: r["schema_version"],
        F["created_at"]: ms(r["created_at"]),
        F["district"]: code("district", r["district"]),
        F["block"]: r["block"],
        F["village"]: r["village"],
        F["taken_at"]: code("taken_at", r["taken_at"]),
        F["name"]: p["name"],
        F["age"]: p["age"],
        F["minor"]: p["minor"],
        F["phone"]: p["phone"],
        F["safe_to_call"]: p["safe_to_call"],
        F["marital"]: code("marital", p["marital_status"]),
        F["children"]: p["children"],
        F["concerns"]: [code("concern", x) for x in r["concerns"]],
        F["urgency"]: code("urgency", r["urgency"]),
        F["source"]: code("source", r["referral_source"]),
        F["consent_share"]: c["share_with_centre"],
        F["consent_contact"]: c["contact"],
        F["status"]: code("status", r["status"]),
        F["notes"]: r["notes"],
    }
    for s in r["services_needed"]:
        f[SERVICE_BASE + code("service", s)] = SVC_NEEDED
    return dict(sorted(f.items()))


def entries(r):
    return [[idbin(e["id"]), LIST_FOLLOWUP, {1: e["by"], 2: e["text"], 3: ms(e["at"])}]
            for e in r["follow_ups"]]


def change(r, op):
    hlc = ms(r["created_at"]) << 16
    return [idbin(r["id"]), op, 0, hlc, 0, device_fields(r), entries(r)]


def record(r, version, serial):
    """The referral as the server stores and sends it: server fields, all stamped at creation
    (no per-field stamps), entries at the record's stamps."""
    f = device_fields(r)
    f[F["device"]] = int(r["device_id"].split("-")[-1])
    f[F["worker"]] = r["worker_id"]
    f[F["case_no"]] = f"LEH-2026-{serial:06d}"
    hlc = ms(r["created_at"]) << 16
    return [idbin(r["id"]), version, 0, hlc, version, hlc, dict(sorted(f.items())), {},
            entries(r)]


def frame(value):
    body = msgpack.packb(value, use_bin_type=True)
    return len(body).to_bytes(4, "big") + body


def push(changes, rid=3):
    return frame([5, rid, {1: changes}])


def compact_json(x):
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cli_size(tool, args, data):
    if not shutil.which(tool):
        return None
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in")
        open(src, "wb").write(data)
        out = subprocess.run([tool, *args, "-c", src], check=True, capture_output=True).stdout
    return len(out)


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "data", "sample-referrals.json")
    refs = json.load(open(path, encoding="utf-8"))
    rows = []
    for i, r in enumerate(refs):
        j = len(compact_json(r))
        p = len(push([change(r, i + 1)]))
        c = len(frame([8, 4, {1: [record(r, 100 + i, i + 1)], 2: 100 + i}]))
        rows.append((j, p, c, r))
    rows.sort(key=lambda x: x[0])
    med = rows[len(rows) // 2]
    tot_j = sum(x[0] for x in rows)
    tot_p = sum(x[1] for x in rows)
    print(f"sample: {len(rows)} referrals, compact JSON median {statistics.median(x[0] for x in rows)}"
          f" bytes, mean {tot_j / len(rows):.0f}")
    print(f"typical referral (median JSON size, id {med[3]['id']}):")
    print(f"  compact JSON            {med[0]:6d} bytes")
    print(f"  PUSH frame, 1 change    {med[1]:6d} bytes  ({100 * med[1] / med[0]:.1f}% of JSON)")
    print(f"  CHANGES frame, 1 record {med[2]:6d} bytes  ({100 * med[2] / med[0]:.1f}% of JSON)")
    worst = max(rows, key=lambda x: x[1] / x[0])
    print(f"all 200: PUSH frame / JSON = {100 * tot_p / tot_j:.1f}% overall; worst single "
          f"referral {100 * worst[1] / worst[0]:.1f}% ({worst[1]} of {worst[0]} bytes)")

    batch = refs[:50]
    pb = push([change(r, i + 1) for i, r in enumerate(batch)])
    jb = compact_json(batch)
    print(f"batch of 50: compact JSON {len(jb)} bytes, PUSH frame {len(pb)} bytes "
          f"({100 * len(pb) / len(jb):.1f}%)")
    for tool, args, label in (("zstd", ["-3", "-q"], "zstd -3"), ("zstd", ["-19", "-q"],
                                                                   "zstd -19"),
                              ("gzip", ["-9", "-n"], "gzip -9")):
        zp = cli_size(tool, args, pb)
        zj = cli_size(tool, args, jb)
        if zp is None:
            print(f"  {label}: {tool} not installed, skipped")
            continue
        print(f"  {label:8s} PUSH frame -> {zp:6d} bytes ({100 * zp / len(pb):.1f}% of frame); "
              f"JSON -> {zj} bytes")
    # The sample has only 10 distinct free texts, so the batch figures above overstate what
    # compression gains on real data. Separate the parts: the batch without its free text.
    bare = []
    for i, r in enumerate(batch):
        c = change(r, i + 1)
        c[5] = {k: v for k, v in c[5].items() if k != F["notes"]}
        c[6] = [[e[0], e[1], {1: e[2][1], 3: e[2][3]}] for e in c[6]]
        bare.append(c)
    pbare = push(bare)
    zb = cli_size("zstd", ["-3", "-q"], pbare)
    if zb is not None:
        print(f"  without free text: PUSH frame {len(pbare)} bytes -> zstd -3 {zb} bytes "
              f"({100 * zb / len(pbare):.1f}%)")
    one = push([change(med[3], 1)])
    z1 = cli_size("zstd", ["-3", "-q"], one)
    if z1 is not None:
        print(f"  zstd -3 on the single typical PUSH frame: {len(one)} -> {z1} bytes")
    acks = frame([6, 3, {1: [[i + 1, 0, 1000 + i] for i in range(50)]}])
    print(f"PUSH_ACK for 50 applied changes: {len(acks)} bytes; for 1: "
          f"{len(frame([6, 3, {1: [[1, 0, 101]]}]))} bytes; empty CHANGES: "
          f"{len(frame([8, 4, {1: [], 2: 104}]))} bytes; PULL: {len(frame([7, 4, {1: 104}]))} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

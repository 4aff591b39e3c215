#!/usr/bin/env python3
"""test_desk_admin.py BUILD_DIR - the desk's administrator pages against a real sakhi-server:
devices and workers (enrolled, last seen, revoke; a new phone enrolled from the code and URI the
desk shows, with its QR code), the monthly report (its figures equal sakhi-admin report's, SVG
charts, the twelve-month trend, an audited CSV download) and the audit trail, the
administrator's pages refused to other roles.
"""

import datetime
import json

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk_support import check, run_on_centre  # noqa: E402

def counts(body, table_id):
    m = re.search(('<table class="counts" id="%s">(.*?)</table>' % table_id).encode(), body, re.S)
    if not m:
        return None
    return {k.decode(): int(v) for k, v in
            re.findall(rb'<tr data-code="([a-z0-9_]+)"><th>[^<]*</th><td>(\d+)</td></tr>', m.group(1))}


def transitions(body):
    """The transitions table as {(group, name, measure): count}."""
    m = re.search(rb'<table class="counts" id="transitions">.*?<tbody>(.*?)</tbody>', body, re.S)
    out = {}
    if not m:
        return out
    for g, n, cells in re.findall(rb'<tr data-group="([a-z_]+)" data-code="([a-z0-9_]+)"><th>'
                                  rb'[^<]*</th>(.*?)</tr>', m.group(1)):
        for meas, v in re.findall(rb'<td data-measure="([a-z_]+)">(\d+)</td>', cells):
            out[(g.decode(), n.decode(), meas.decode())] = int(v)
    return out


def report_checks(c, boss, bcsrf, cw):
    # the centre's month: midnight to midnight in IST, as sakhi-admin report without --utc
    ist = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    month = ist.strftime("%Y-%m")
    want = json.loads(c.admin("--json", "report", "--month", month))
    want_csv = c.admin("report", "--month", month, "--csv")
    st, h, body, _ = boss.get("/report")
    check(st == 200 and ('<span id="month">%s</span>' % month).encode() in body,
          "the report opens on the current IST month")
    st, h, body, _ = boss.get("/report?month=" + month)
    check(st == 200 and len(body) < 50000, "report page 200, under 50 KB (%d)" % len(body))
    # the transitions: every row of sakhi-admin report --csv, cell for cell
    rows = [l.split(",") for l in want_csv.strip().split("\n")[1:]]
    exp = {(g, n, m): int(v) for g, n, m, v in rows if g != "service"}
    got = transitions(body)
    check(len(exp) > 50 and got == exp,
          "the transitions equal sakhi-admin report --csv (%d rows; %s)" %
          (len(exp), sorted(set(got.items()) ^ set(exp.items()))[:6]))
    check(sum(v for (g, n, m), v in exp.items() if g == "all" and m == "received") > 0,
          "the month has transitions to compare")
    given = counts(body, "services-given")
    check(given == {n: int(v) for g, n, m, v in rows if g == "service"},
          "services given equal sakhi-admin report --csv (%s)" % given)
    check(b'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-transitions"' in body,
          "a bar chart of the transitions")
    tot = counts(body, "totals")
    check(tot == {"total": want["total"], "minors": want["minors"], "review": want["review"]},
          "totals equal sakhi-admin report's (%s)" % tot)
    for part, key in (("status", "by_status"), ("concern", "by_concern"),
                      ("source", "by_source"), ("district", "by_district")):
        got = counts(body, part)
        exp = {k: v for k, v in want[key].items()}
        check(got == exp, "by %s equals sakhi-admin report's (%s vs %s)" % (part, got, exp))
        check(('<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-%s"' % part)
              .encode() in body, "a bar chart of %s" % part)
    svc = re.search(rb'<table class="counts" id="services">.*?<tbody>(.*?)</tbody>', body, re.S)
    rows = {k.decode(): [int(x) for x in re.findall(rb"<td>(\d+)</td>", v)] for k, v in
            re.findall(rb'<tr data-code="([a-z_]+)"><th>[^<]*</th>(.*?)</tr>', svc.group(1))}
    exp = {s: [want["by_service"][s][x] for x in ("needed", "in_progress", "given", "declined",
                                                   "not_needed")] for s in want["by_service"]}
    check(rows == exp, "services by status equal sakhi-admin report's")
    trend = re.findall(rb'data-month="(\d{4}-\d\d)" data-count="(\d+)"', body)
    check(len(trend) == 12 and trend[-1] == (month.encode(), str(want["total"]).encode()) and
          all(n == b"0" for _, n in trend[:-1]), "a twelve-month trend ending this month")
    st, h, body, _ = boss.get("/report?month=2026-13")
    check(st == 400, "a month that does not exist is refused (%d)" % st)
    # CSV, audited
    st, h, body, _ = boss.get("/report.csv?month=" + month)
    check(st == 200 and h.get("content-type") == "text/csv; charset=utf-8" and
          h.get("content-disposition") == 'attachment; filename="sakhi-report-%s.csv"' % month,
          "the CSV downloads as a file")
    check(body.decode() == want_csv,
          "the CSV is sakhi-admin report --csv byte for byte (%r)" % body[:80])
    ev = [e for e in c.audit() if e["event"] == "desk_report_csv"]
    check(ev and ev[-1]["worker"] == "boss" and ev[-1]["detail"] == "month=" + month,
          "the CSV export is audited under the person")
    st, h, body, _ = cw.get("/report?month=" + month)
    check(st == 200, "a caseworker sees the report of her scope")

    # -- the audit trail ---------------------------------------------------------------------
    st, h, body, _ = cw.get("/audit")
    check(st == 403, "a caseworker may not open the audit trail (%d)" % st)
    st, h, body, _ = boss.get("/audit")
    seqs = [int(x) for x in re.findall(rb'<tr data-seq="(\d+)">', body)]
    check(st == 200 and len(body) < 50000 and len(seqs) == min(100, max(seqs or [0])) and
          seqs == sorted(seqs, reverse=True), "the audit trail, newest first, 100 a page")
    check(b'<td class="event">desk_report_csv</td><td class="worker">boss</td>' in body,
          "the newest entries are there with the person's name")
    mid = seqs[len(seqs) // 2] if seqs else 0
    st, h, body, _ = boss.get("/audit?before=%d" % mid)
    older = [int(x) for x in re.findall(rb'<tr data-seq="(\d+)">', body)]
    check(older and older[0] == mid - 1 and older == sorted(older, reverse=True) and
          older[-1] == max(1, mid - 100), "older entries page back (%d)" % mid)
    st, h, body, _ = boss.get("/audit?before=x")
    check(st == 400, "a bad page is refused")


def run(c):
    c.capture("--block", "Leh", "--village", "Stok", "--name", "Tsering", "--age", "30",
              "--urgency", "routine")
    a = c.capture("--block", "Leh", "--village", "Spituk", "--name", "Dolkar", "--age", "24",
                  "--urgency", "urgent")
    c.capture("--block", "Leh", "--village", "Nang", "--name", "Girl", "--age", "14",
              "--minor", "yes", "--urgency", "urgent")
    c.sync()
    c.admin("accept", a)
    c.admin("service", a, "--service", "medical_assistance", "--status", "given")
    boss, bcsrf = c.staff("boss", "admin", None, "boss password 1")
    cw, wcsrf = c.staff("cw", "caseworker", "leh", "caseworker pw 1")

    # -- other roles are refused ---------------------------------------------------------------
    st, _, body, _ = cw.get("/devices")
    check(st == 403 and b"Only an administrator" in body, "a caseworker may not open devices")
    st, _, body, _ = cw.post("/devices/enroll", {"csrf": wcsrf, "worker": "field-1"})
    check(st == 403, "a caseworker may not enrol a phone (%d)" % st)
    st, _, body, _ = boss.post("/devices/enroll", {"worker": "field-1"})
    check(st == 403, "an enrollment without the CSRF token is refused (%d)" % st)

    # -- the list ------------------------------------------------------------------------------
    st, _, body, _ = boss.get("/devices")
    check(st == 200 and len(body) < 50000, "devices page 200, under 50 KB")
    m = re.search(rb'<tr data-device="(\d+)"><td>field-1</td><td>field</td><td>Leh</td>'
                  rb'<td>\d+ test phone</td><td>(\d{4}-\d\d-\d\d \d\d:\d\d IST)</td>', body)
    check(m is not None, "the field worker's phone is listed with when it was last seen")
    check(re.search(rb'<tr data-worker="boss"><td>boss</td><td>admin</td>', body) is not None,
          "a worker without devices is listed too")
    # a district the centre adds is named from its list (not from the code)
    c.admin("district", "add", "3", "zanskar", "ZSK", "--en", "Zanskar", "--hi", "ज़ांस्कर")
    c.admin("worker", "add", "field-z", "--role", "field", "--district", "zanskar")
    st, _, body, _ = boss.get("/devices")
    check(re.search(rb'<tr data-worker="field-z"><td>field-z</td><td>field</td><td>Zanskar</td>',
                    body) is not None, "a worker of an added district shows its name")

    # -- enrol a new phone -----------------------------------------------------------------------
    st, _, body, _ = boss.post("/devices/enroll", {"csrf": bcsrf, "worker": "field-1"})
    check(st == 200 and len(body) < 50000, "the enrollment page (%d, %d bytes)" % (st, len(body)))
    code = re.search(rb'<code id="enroll-code">([A-Z0-9]+)</code>', body)
    uri = re.search(rb'<code id="enroll-uri">([^<]+)</code>', body)
    check(code is not None and uri is not None, "it shows the code and the URI")
    code = code.group(1).decode() if code else ""
    want = "sakhi:enroll?v=1&amp;addr=127.0.0.1:%d&amp;code=%s&amp;pin=%s" % (
        c.sync_port, code, c.pin)
    check(uri is not None and uri.group(1).decode() == want,
          "the URI names this server, the code and the centre's pin (%s)" %
          (uri.group(1).decode() if uri else None))
    check(re.search(rb'<svg xmlns="http://www.w3.org/2000/svg" id="qr" viewBox="0 0 (\d+) \1"',
                    body) is not None and body.count(b"M") > 50, "and a QR code drawn as SVG")
    ev = [e for e in c.audit() if e["event"] == "desk_enroll_code"]
    check(ev and ev[-1]["worker"] == "boss" and ev[-1]["detail"] == "worker=field-1" and
          code not in ev[-1]["detail"], "the enrollment is audited, without the code")
    d3 = os.path.join(c.tmp, "device-3")
    c.sakhi("init", device=d3)
    c.sakhi("enroll", "--server", "127.0.0.1:%d" % c.sync_port, "--code", code, "--server-pin",
            c.pin, "--label", "new phone", device=d3)
    c.sync(device=d3)
    st, _, body, _ = boss.get("/devices")
    m3 = re.search(rb'<tr data-device="(\d+)"><td>field-1</td><td>field</td><td>Leh</td>'
                   rb'<td>\d+ new phone</td>', body)
    check(m3 is not None, "the code enrolled the new phone")

    # -- revoke it -------------------------------------------------------------------------------
    dev = m3.group(1).decode() if m3 else "0"
    # a revoke with a token the desk did not give: refused, nothing applied, and logged like a
    # case form's
    st, _, _, _ = boss.post("/devices/revoke", {"csrf": "x" * len(bcsrf), "device": dev})
    check(st == 403, "a revoke with a wrong token is refused (%d)" % st)
    st, _, body, _ = boss.get("/devices")
    check(re.search(('<tr data-device="%s">' % dev).encode(), body) is not None,
          "the phone is not revoked by a forged form")
    with open(c.log, "rb") as f:
        check(b"desk_csrf_refused user=boss" in f.read(), "the forged revoke is logged")
    st, h, body, _ = boss.post("/devices/revoke", {"csrf": bcsrf, "device": "x1"})
    st, _, body, _ = boss.get("/devices")
    check(b"values are missing or not valid" in body, "a device id that is no number is refused")
    st, h, body, _ = boss.post("/devices/revoke", {"csrf": bcsrf, "device": "999999"})
    st, _, body, _ = boss.get("/devices")
    check(b"Refused: Not found." in body, "an unknown device is refused")
    st, h, body, _ = boss.post("/devices/revoke", {"csrf": bcsrf, "device": dev})
    check(st == 303 and h.get("location") == "/devices", "revoke 303 back to the list")
    st, _, body, _ = boss.get("/devices")
    check(re.search((r'<tr data-device="%s" class="off">.*?<span class="tag">revoked</span>'
                     % dev).encode(), body) is not None, "the phone shows as revoked")
    ev = [e for e in c.audit() if e["event"] == "desk_device_revoke"]
    check(ev and ev[-1]["worker"] == "boss" and ev[-1]["detail"] == "device=" + dev,
          "the revocation is audited under the person")
    r = subprocess.run([c.sakhi_bin, "--store", d3, "--pin-file", c.pinfile, "--json", "sync",
                        "--via", "127.0.0.1:%d" % c.sync_port, "--timeout", "30"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode != 0, "the revoked phone can no longer sync")
    report_checks(c, boss, bcsrf, cw)
    try:
        c.sync()
        other_ok = True
    except AssertionError:
        other_ok = False
    check(other_ok, "the worker's other phone still syncs")


if __name__ == "__main__":
    sys.exit(run_on_centre(run, sys.argv[1]))

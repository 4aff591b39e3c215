#!/usr/bin/env python3
"""test_desk_casework.py BUILD_DIR - every casework step from the desk's case page, against a
real sakhi-server, through the casework API it shares with sakhi-admin.

A field device captures referrals and syncs them; a second device of the same worker edits one
referral's village offline while the first does too. Staff then, in the desk: decline with a
reason, accept, assign a counsellor and the field worker, record a service, start and extend
temporary shelter, add a task and mark it done, refer onward (refused without consent until an
override reason is given), reopen, close, resolve the conflict by keeping one of the competing
values, and add a note. Each refusal shows the model's message on the page and leaves the store
as it was. The page lists who changed the record and who viewed it; the assigned counsellor sees
a minor's identity, a caseworker never does.
"""

import datetime
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk_support import check, run_on_centre  # noqa: E402

def show(c, rid):
    j = json.loads(c.admin("show", rid))
    f = j["fields"]
    f["_version"] = j["version"]
    return f


def listed_review(c, rid):
    return any(line.startswith(rid) and line.rstrip().endswith("review")
               for line in c.admin("list").splitlines())


def flash(body):
    m = re.search(rb'<p class="flash[^"]*" id="flash">([^<]*)</p>', body)
    return m.group(1).decode() if m else ""


def act(b, csrf, rid, op, **fields):
    f = {"csrf": csrf, "id": rid}
    f.update(fields)
    st, h, body, _ = b.post("/case/" + op, f)
    if st != 303:
        return st, body, ""
    st, h, body, _ = b.get("/case?id=" + rid)
    return st, body, flash(body)


def ist_date(days_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=5, minutes=30)
    return (t + datetime.timedelta(days=days_from_now)).strftime("%Y-%m-%d")


def run(c):
    r1 = c.capture("--block", "Nubra", "--village", "Diskit", "--name", "Padma", "--age", "30",
                   "--phone", "9876543210", "--urgency", "urgent")
    r2 = c.capture("--block", "Leh", "--village", "Saboo", "--name", "Again", "--age", "41",
                   "--urgency", "routine")
    r3 = c.sakhi("capture", "--district", "leh", "--taken-at", "home_visit", "--concern",
                 "domestic_violence", "--source", "frontline_worker", "--consent-share", "no",
                 "--consent-contact", "yes", "--block", "Leh", "--village", "Stok", "--name",
                 "withheld", "--age", "28", "--urgency", "routine").strip()
    r4 = c.capture("--block", "Nubra", "--village", "Turtuk", "--name", "Conflict", "--age",
                   "33", "--urgency", "routine")
    minor = c.capture("--block", "Leh", "--village", "Phyang", "--name", "Young Girl", "--age",
                      "15", "--minor", "yes", "--urgency", "urgent")
    check(c.sync()["applied"] == 5, "five referrals reached the centre")
    # two devices of the same worker change r4's village offline: a conflict to review
    d2 = c.add_device("field-1", "phone-2")
    c.sync(device=d2)
    c.edit_village(c.device, r4, "Hunder")
    c.edit_village(d2, r4, "Sumur")
    c.sync()
    c.sync(device=d2)
    check(listed_review(c, r4), "the concurrent edits flag the referral for review")

    boss, bcsrf = c.staff("boss", "admin", None, "boss password 1")
    cou, ccsrf = c.staff("cou", "counsellor", "leh", "counsellor pw 1")
    cw, wcsrf = c.staff("cw", "caseworker", "leh", "caseworker pw 1")

    # -- decline, with the form's choices checked before anything is applied ----------------
    st, body, fl = act(boss, bcsrf, r2, "decline", decline_reason="no_such_reason")
    check("values are missing or not valid" in fl and
          show(c, r2)["status"] == "received", "a decline reason not offered is refused whole")
    st, body, fl = act(boss, bcsrf, r2, "decline", decline_reason="duplicate", reason="same woman")
    s2 = show(c, r2)
    check(s2["status"] == "declined" and s2.get("decline_reason") == "duplicate",
          "decline with a reason (%s)" % s2["status"])

    # -- an illegal step: the model's words on the page, nothing applied -----------------------
    st, body, fl = act(boss, bcsrf, r1, "close", reason="too early")
    check("status: cannot go from received to closed" in fl, "close from received: '%s'" % fl)
    check(show(c, r1)["status"] == "received", "the refused close changed nothing")

    # -- accept, assign, service, shelter --------------------------------------------------------
    st, body, fl = act(boss, bcsrf, r1, "accept")
    s1 = show(c, r1)
    check(s1["status"] == "accepted" and re.match(r"LEH-\d{4}-\d{6}$", s1.get("case_no", "")),
          "accept gives a case number (%s)" % s1.get("case_no"))
    check(s1["case_no"] in fl, "the case number is shown after accepting")
    st, body, fl = act(boss, bcsrf, r1, "assign", owner="cou", field_worker="field-1")
    s1 = show(c, r1)
    check(s1.get("owner") == "cou" and s1.get("assigned_to") == ["field-1"],
          "assign a counsellor and the field worker (%s, %s)" %
          (s1.get("owner"), s1.get("assigned_to")))
    st, body, fl = act(boss, bcsrf, r1, "assign", owner="field-1")
    check("owner: must be an enabled staff member" in fl and show(c, r1)["owner"] == "cou",
          "a field worker cannot own a case: '%s'" % fl)
    st, body, fl = act(boss, bcsrf, r1, "service", service="legal_aid",
                       service_status="in_progress")
    s1 = show(c, r1)
    check(s1.get("service.legal_aid") == "in_progress" and s1["status"] == "in_service",
          "a service under way puts the case in service")
    st, body, fl = act(boss, bcsrf, r1, "shelter", start=ist_date(0))
    s1 = show(c, r1)
    check(s1.get("shelter_days") == 5 and s1.get("service.shelter") == "in_progress",
          "temporary shelter starts with 5 days")
    check(b'id="f-shelter-extend"' in body, "the page then offers the extension")
    st, body, fl = act(boss, bcsrf, r1, "shelter-extend", days="12")
    check("shelter_days: an extension goes from 6 up to 10 days" in fl and
          show(c, r1)["shelter_days"] == 5, "an extension past 10 days is refused: '%s'" % fl)
    st, body, fl = act(boss, bcsrf, r1, "shelter-extend", days="8")
    check(show(c, r1)["shelter_days"] == 8, "shelter extended to 8 days")

    # -- tasks -----------------------------------------------------------------------------------
    st, body, fl = act(boss, bcsrf, r1, "task-add", text="Visit her at home", **{"for": "field-1"},
                       due=ist_date(7))
    m = re.search(rb'<tr data-task="([0-9a-f-]{36})" class="task u\d"><td>Visit her at home</td>'
                  rb'<td>field-1</td>', body)
    check(m is not None, "the task is listed with its worker")
    task = m.group(1).decode() if m else ""
    st, body, fl = act(boss, bcsrf, r1, "task-add", text="No date", **{"for": "field-1"}, due="")
    check("values are missing or not valid" in fl, "a task without a due date is refused: '%s'" % fl)
    st, body, fl = act(boss, bcsrf, r1, "task-set", task=task, state="done", text="she is safe")
    check(re.search((r'data-task="%s"[^>]*>.*?<td class="state">done: she is safe</td>' % task)
                    .encode(), body) is not None, "the task is marked done with its note")
    st, body, fl = act(boss, bcsrf, r1, "task-set", task=task, state="done")
    check("task: already done" in fl, "marking it done twice: '%s'" % fl)

    # -- refer onward: consent, or an audited override -------------------------------------------
    act(boss, bcsrf, r3, "accept")
    st, body, fl = act(boss, bcsrf, r3, "refer", destination="police_station",
                       detail="Leh police station")
    check("consent_override: referring onward without consent to share needs an override "
          "reason" in fl and show(c, r3)["status"] == "accepted",
          "referral onward without consent is refused: '%s'" % fl)
    check(b'id="refer-override"' in body, "the form asks for the override reason")
    st, body, fl = act(boss, bcsrf, r3, "refer", destination="police_station",
                       detail="Leh police station", override="she is in danger tonight")
    s3 = show(c, r3)
    check(s3["status"] == "referred" and s3.get("referred_to") == "police_station",
          "referred onward with an override")
    ev = [e for e in c.audit() if e["event"] == "case_refer" and r3 in e["detail"]]
    check(ev and ev[-1]["worker"] == "boss" and "consent_override=1" in ev[-1]["detail"],
          "the override is audited under the person")
    st, body, fl = act(boss, bcsrf, r1, "refer", destination="hospital", detail="SNM hospital",
                       reason="medical care")
    check(show(c, r1)["status"] == "referred", "referred onward with her consent")
    st, body, fl = act(boss, bcsrf, r1, "reopen", reason="")
    check("status_reason: is required" in fl and show(c, r1)["status"] == "referred",
          "reopen needs a reason: '%s'" % fl)
    st, body, fl = act(boss, bcsrf, r1, "reopen", reason="came back")
    check(show(c, r1)["status"] == "in_service", "reopened")
    st, body, fl = act(boss, bcsrf, r1, "close", reason="resolved")
    s1 = show(c, r1)
    check(s1["status"] == "closed" and s1.get("status_reason") == "resolved", "closed")
    st, body, fl = act(boss, bcsrf, r1, "note", text="Closed after the <b>hearing</b>")
    check(b"Closed after the &lt;b&gt;hearing&lt;/b&gt;" in body, "a note, escaped")

    # -- conflict review: keep one of the competing values -------------------------------------
    st, body, fl = act(boss, bcsrf, r4, "reveal")
    check(b'id="review"' in body and b'data-field="village"' in body,
          "the case page lists the field in conflict")
    forms = re.findall(rb'<li><span class="value">([^<]*)</span>.*?name="value" value="([0-9a-f]+)"',
                       body)
    vals = {v.decode(): h.decode() for v, h in forms}
    check("Hunder" in vals and "Sumur" in vals, "both competing values offered (%s)" % list(vals))
    st, body, fl = act(boss, bcsrf, r4, "resolve", field="village", value=vals.get("Sumur", ""))
    s4 = show(c, r4)
    check(s4.get("village") == "Sumur" and b'id="review-tag"' not in body,
          "keeping a value resolves the conflict (%s)" % s4.get("village"))
    ev = [e for e in c.audit() if e["event"] == "case_resolve" and r4 in e["detail"]]
    check(ev and ev[-1]["worker"] == "boss", "the resolution is audited")
    st, body, fl = act(boss, bcsrf, r4, "resolve", keep="1")
    check("review: this record has no conflict to resolve" in fl, "nothing left to resolve")

    # -- who changed it, who viewed it ---------------------------------------------------------
    st, _, body, _ = boss.get("/case?id=" + r1)
    changes = re.search(rb'<table id="changes"><tbody>(.*?)</tbody>', body, re.S)
    check(changes and changes.group(1).count(b"<tr>") >= 8 and b"boss (centre 0)" in
          changes.group(1) and b"field-1 (device" in changes.group(1),
          "who changed the record: the device and the staff member")
    viewers = re.search(rb'<table id="viewers"><tbody>(.*?)</tbody>', body, re.S)
    check(viewers and b"desk_view" in viewers.group(1) and b"case_close" in viewers.group(1),
          "who viewed and changed it, from the audit chain")
    check(len(body) < 50000, "the case page weighs under 50 KB (%d)" % len(body))

    # -- a minor: her assigned counsellor sees her identity, a caseworker never ----------------
    act(boss, bcsrf, minor, "accept")
    act(boss, bcsrf, minor, "assign", owner="cou")
    st, body, fl = act(cou, ccsrf, minor, "reveal")
    check(b"Young Girl" in body, "the assigned counsellor sees the minor's name when she asks")
    st, body, fl = act(cw, wcsrf, minor, "reveal")
    check(b"Young Girl" not in body and b"Phyang" not in body and b'id="no-identity"' in body,
          "a caseworker gets no identity of a minor")
    st, body, fl = act(cw, wcsrf, minor, "note", text="seen")
    check(fl.startswith("Done"), "a caseworker may still add a note (%s)" % fl)


    # -- tasks (mine, due, overdue) and alerts ---------------------------------------------------
    act(boss, bcsrf, minor, "task-add", text="Call the school", **{"for": "cou"}, due=ist_date(-2))
    act(boss, bcsrf, minor, "task-add", text="Court date", **{"for": "cou"}, due=ist_date(3))
    act(boss, bcsrf, minor, "task-add", text="Not hers", **{"for": "boss"}, due=ist_date(1))
    st, _, body, _ = cou.get("/tasks")
    rows = re.findall(rb'class="task u(\d)"><td>[^<]*</td><td class="urg">([^<]*)</td><td>([^<]*)'
                      rb'</td>', body)
    check([(u, t) for u, _, t in rows] ==
          [(b"3", b"Call the school"), (b"1", b"Court date"),
           (b"1", b"Temporary shelter ends after day 8: arrange what follows or extend it")],
          "her tasks, overdue first then by due date, nobody else's (%s)" % rows)
    check(rows and rows[0][1] == b"overdue", "the overdue task says so")
    check(len(body) < 50000, "the tasks page weighs under 50 KB")
    # a minor's task text stays hidden from a role that may not see her identity (the worklist
    # of sakhi-admin tasks, storage/sk_worklist.c)
    act(boss, bcsrf, minor, "task-add", text="Visit Phyang school", **{"for": "cw"},
        due=ist_date(2))
    st, _, body, _ = cw.get("/tasks")
    check(st == 200 and b"Visit Phyang school" not in body and
          b'<i class="withheld">hidden</i>' in body,
          "a caseworker's task on a minor's case does not show its text")
    st, _, body, _ = cou.get("/alerts")
    changed = re.search(rb'<ul id="alerts-changed">(.*?)</ul>', body, re.S)
    s1no = show(c, r1)["case_no"].encode()
    check(changed and s1no in changed.group(1) and b"<b>boss</b>" in changed.group(1),
          "a case of hers changed by someone else is an alert")
    overdue = re.search(rb'<ul id="alerts-overdue">(.*?)</ul>', body, re.S)
    check(overdue and b"Call the school" in overdue.group(1) and
          b"Court date" not in overdue.group(1), "her overdue task is an alert")
    st, _, body, _ = boss.get("/alerts")
    changed = re.search(rb'<ul id="alerts-changed">(.*?)</ul>', body, re.S)
    check(changed and changed.group(1) == b"", "her own changes are no alert to the boss")

    # -- search: inside her scope, audited -----------------------------------------------------
    before = len([e for e in c.audit() if e["event"] == "desk_search"])
    st, _, body, _ = cou.get("/search?q=padma")
    check(st == 200 and ('data-id="%s"' % r1).encode() in body and b"Padma" in body,
          "search by name finds the case")
    ev = [e for e in c.audit() if e["event"] == "desk_search"]
    check(len(ev) == before + 1 and ev[-1]["worker"] == "cou" and
          ev[-1]["detail"] == "results=1" and "padma" not in json.dumps(ev[-1]).lower(),
          "the search is audited under the person, without its terms")
    st, _, body, _ = cou.get("/search?q=98765")
    check(('data-id="%s"' % r1).encode() in body and b"Results (1)" in body,
          "search by phone finds the case")
    st, _, body, _ = cou.get("/search?q=nobody-has-this")
    check(b"Results (0)" in body, "a search that matches nothing says so")
    st, _, body, _ = cou.get("/search?q=" + s1no.decode().lower())
    check(('data-id="%s"' % r1).encode() in body, "search by case number")
    st, _, body, _ = cou.get("/search?q=Phyang")
    check(('data-id="%s"' % minor).encode() in body, "the assigned counsellor finds her minor")
    st, _, body, _ = cw.get("/search?q=Phyang")
    check(('data-id="%s"' % minor).encode() not in body and b"Results (0)" in body,
          "a caseworker cannot find a minor by her identity")
    n = len([e for e in c.audit() if e["event"] == "desk_search"])
    st, _, body, _ = cou.get("/search?q=a")
    check(st == 200 and len([e for e in c.audit() if e["event"] == "desk_search"]) == n,
          "a one-letter query runs no search")
    st, _, body, _ = cou.get("/search?q=" + "x" * 65)
    check(st == 200 and b'id="results"' not in body, "an overlong query runs no search")

    # -- a caseworker never sees a minor's identity, even on a case assigned to her ------------
    act(boss, bcsrf, minor, "assign", owner="cw")
    check(show(c, minor).get("owner") == "cw", "the minor's case is assigned to the caseworker")
    st, body, fl = act(cw, wcsrf, minor, "reveal")
    check(b"Young Girl" not in body and b'id="no-identity"' in body,
          "the caseworker it is assigned to still gets no identity of the minor")
    st, _, body, _ = cw.get("/search?q=Young")
    check(('data-id="%s"' % minor).encode() not in body, "nor finds her by name")


if __name__ == "__main__":
    sys.exit(run_on_centre(run, sys.argv[1]))

#!/usr/bin/env python3
"""test_desk_http.py BUILD_DIR - the centre desk over real HTTPS against a real sakhi-server.

A field device captures referrals and syncs them; staff set their passwords through one-time
links, log in, see the referrals, reveal an identity (audited), accept a referral through the
server's writer (a case number, an audit entry naming the person). Refusals: a wrong password,
a form without or with a wrong CSRF token, a foreign Origin, an expired session, a used setup
link, a caseworker asking for a minor's identity, login rate limits that never lock the real
person out of her own computer. Every page carries the security headers and escapes what the
store holds.
"""

import os
import re
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk_support import Browser, Centre, check, verdict  # noqa: E402

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def headers_ok(h, what, cache="no-store"):
    check(h.get("content-security-policy") == CSP, what + ": CSP exact, no unsafe-inline")
    check(h.get("strict-transport-security") == "max-age=31536000", what + ": HSTS")
    check(h.get("x-frame-options") == "DENY", what + ": X-Frame-Options DENY")
    check(h.get("x-content-type-options") == "nosniff", what + ": nosniff")
    check(h.get("cache-control") == cache, what + ": Cache-Control " + cache)


def status_of(centre, rid):
    for line in centre.admin("--json", "list").splitlines():
        if ('"id":"%s"' % rid) in line:
            return re.search(r'"status":"([a-z_]+)"', line).group(1)
    return None


def main():
    bindir = sys.argv[1]
    centre = Centre(bindir, ["--desk-login-limit", "3"])
    try:
        run(centre)
    finally:
        rc = centre.stop()
        check(rc == 0, "the server stops cleanly with desk connections open (exit %d)" % rc)
        centre.close()
    return verdict()


def run(c):
    # -- a referral with markup in it, and a minor's, captured offline and synced ----------
    rid = c.capture("--block", "<b>Nubra</b>", "--village", "Diskit", "--name",
                    "Dolma <script>alert(1)</script>", "--age", "34", "--urgency", "urgent",
                    "--phone", "9876543210", "--notes", "Needs help & shelter")
    minor = c.capture("--block", "Leh", "--village", "Choglamsar", "--name", "Minor Girl",
                      "--age", "15", "--minor", "yes", "--urgency", "immediate_danger")
    s = c.sync()
    check(s.get("applied") == 2, "the device's two referrals reached the centre")

    boss_u, boss_t = c.staff_link("boss", "admin")
    cw_u, cw_t = c.staff_link("cw", "caseworker", "leh")

    b = Browser(c.desk_port)
    # -- the login page and its headers ------------------------------------------------------
    st, h, body, raw = b.get("/login")
    check(st == 200, "GET /login is 200")
    check(b.tls_version == "TLSv1.3", "the desk speaks TLS 1.3 (%s)" % b.tls_version)
    headers_ok(h, "/login")
    pre = [v for k, v in raw if k.lower() == "set-cookie" and v.startswith("__Host-sakhi-pre=")]
    check(pre and all(a in pre[0] for a in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/")),
          "the pre-login cookie is Secure, HttpOnly, SameSite=Strict")
    st, h, body, _ = b.get("/static/desk.js")
    check(st == 200 and h.get("content-type", "").startswith("text/javascript"),
          "the script is a file of its own")
    st, h, body, _ = b.get("/worklist")
    check(st == 303 and h.get("location") == "/login", "no session: the worklist sends to login")

    # -- setup links -------------------------------------------------------------------------
    st, h, body, _ = b.setup(boss_u, boss_t, "correct horse 1", "correct horse 2")
    check(st == 400, "setup: two different passwords are refused (%d)" % st)
    st, h, body, _ = b.setup(boss_u, boss_t, "short")
    check(st == 400, "setup: a short password is refused (%d)" % st)
    st, h, body, _ = b.setup(boss_u, boss_t, "correct horse battery")
    check(st == 200 and b"Password set" in body, "setup: the link sets the password (%d)" % st)
    st, h, body, _ = b.setup(boss_u, boss_t, "another password here")
    check(st == 400 and b"unknown, used or expired" in body, "setup: a used link is refused")
    st, h, body, _ = b.setup(cw_u, cw_t, "caseworker password")
    check(st == 200, "setup: the caseworker's link works")

    # -- wrong password, login CSRF, right password --------------------------------------------
    st, h, body, _ = b.login("boss", "wrong password!")
    check(st == 401 and b"Wrong name, password or code" in body, "a wrong password: 401")
    st, h, body, _ = b.post("/login", {"user": "boss", "password": "correct horse battery"})
    check(st == 403, "a login form without its token is refused (%d)" % st)
    st, h, body, raw = b.login("boss", "correct horse battery")
    check(st == 303 and h.get("location") == "/worklist", "the right password logs in (%d)" % st)
    sc = [v for k, v in raw if k.lower() == "set-cookie" and v.startswith("__Host-sakhi=")]
    check(sc and all(a in sc[0] for a in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/")),
          "the session cookie is Secure, HttpOnly, SameSite=Strict")

    # -- worklist ----------------------------------------------------------------------------
    st, h, body, _ = b.get("/worklist")
    check(st == 200, "worklist 200")
    headers_ok(h, "/worklist")
    check(len(body) < 50000, "the worklist weighs under 50 KB (%d bytes)" % len(body))
    check(('data-id="%s"' % rid).encode() in body, "the synced referral is in the inbox")
    check(b"&lt;b&gt;Nubra&lt;/b&gt;" in body and b"<b>Nubra</b>" not in body,
          "the worklist escapes what the store holds")
    i_minor = body.find(('data-id="%s"' % minor).encode())
    i_rid = body.find(('data-id="%s"' % rid).encode())
    check(0 <= i_minor < i_rid, "immediate danger is listed above urgent")
    check(b"Dolma" not in body and b"9876543210" not in body, "the worklist shows no name or phone")
    csrf = b.form_token(body)
    st, h, body, _ = b.get("/worklist?urgent=1&status=received")
    check(st == 200 and ('data-id="%s"' % rid).encode() in body, "filters keep what matches")
    st, h, body, _ = b.get("/worklist?status=closed")
    check(st == 200 and ('data-id="%s"' % rid).encode() not in body, "filters drop what does not")
    st, h, body, _ = b.get("/api/version")
    seq0 = int(re.search(rb'"seq":(\d+)', body).group(1))
    check(st == 200 and seq0 >= 2, "the worklist's change counter answers (%d)" % seq0)

    # -- case page: identity hidden until asked for --------------------------------------------
    st, h, body, _ = b.get("/case?id=" + rid)
    check(st == 200 and len(body) < 50000, "case page 200, under 50 KB")
    headers_ok(h, "/case")
    check(b"Dolma" not in body and b"9876543210" not in body and b"Diskit" not in body,
          "name, phone and village hidden until asked for")
    check(b"Needs help &amp; shelter" not in body, "capture notes (identifying) hidden too")

    # -- CSRF --------------------------------------------------------------------------------
    st, h, body, _ = b.post("/case/accept", {"id": rid})
    check(st == 403, "accept without a CSRF token: 403 (%d)" % st)
    st, h, body, _ = b.post("/case/accept", {"id": rid, "csrf": "A" * 43})
    check(st == 403, "accept with a wrong CSRF token: 403 (%d)" % st)
    st, h, body, _ = b.post("/case/accept", {"id": rid, "csrf": csrf},
                            headers={"Origin": "https://evil.example"})
    check(st == 403, "accept from another origin: 403 (%d)" % st)
    check(status_of(c, rid) == "received", "nothing was applied by the refused forms")

    # -- reveal (audited), then accept ----------------------------------------------------------
    st, h, body, _ = b.post("/case/reveal", {"id": rid, "csrf": csrf})
    check(st == 303, "reveal 303 (%d)" % st)
    st, h, body, _ = b.get("/case?id=" + rid)
    check(b"Dolma &lt;script&gt;alert(1)&lt;/script&gt;" in body and b"<script>alert" not in body,
          "the name shows when asked for, escaped")
    check(b"9876543210" in body, "the phone shows when asked for")
    ev = [e for e in c.audit() if e["event"] == "desk_reveal"]
    check(ev and ev[-1]["worker"] == "boss" and rid in ev[-1]["detail"],
          "the reveal is in the audit chain with the person's name")
    views = [e for e in c.audit() if e["event"] == "desk_view" and rid in e["detail"]]
    check(len(views) >= 2 and views[-1]["worker"] == "boss", "each view of the case is audited")

    st, h, body, _ = b.post("/case/accept", {"id": rid, "csrf": csrf})
    check(st == 303 and h.get("location") == "/case?id=" + rid, "accept 303 back to the case")
    check(status_of(c, rid) == "accepted", "the referral is accepted in the store")
    st, h, body, _ = b.get("/case?id=" + rid)
    m = re.search(rb"LEH-\d{4}-\d{6}", body)
    check(m is not None, "the case page shows the new case number")
    acc = [e for e in c.audit() if e["event"] == "case_accept"]
    check(acc and acc[-1]["worker"] == "boss" and rid in acc[-1]["detail"],
          "the acceptance is audited with the person's name")
    st, h, body, _ = b.post("/case/accept", {"id": rid, "csrf": csrf})
    st, h, body, _ = b.get("/case?id=" + rid)
    check(b"status: already accepted" in body, "accepting twice says what the case already is")
    st, h, body, _ = b.post("/case/note", {"id": rid, "csrf": csrf, "text": "Called <b>her</b>"})
    st, h, body, _ = b.get("/case?id=" + rid)
    check(b"Called &lt;b&gt;her&lt;/b&gt;" in body, "a case note is added and shown escaped")

    # -- a new sync shows up in the change counter the worklist polls ---------------------------
    c.capture("--block", "Nubra", "--village", "Hunder", "--name", "withheld", "--age", "40", "--urgency", "routine")
    c.sync()
    st, h, body, _ = b.get("/api/version")
    seq1 = int(re.search(rb'"seq":(\d+)', body).group(1))
    check(seq1 > seq0, "a device's sync moves the counter (%d -> %d)" % (seq0, seq1))

    # -- a caseworker and a minor -----------------------------------------------------------------
    w = Browser(c.desk_port)
    st, h, body, _ = w.login("cw", "caseworker password")
    check(st == 303, "the caseworker logs in")
    st, h, body, _ = w.get("/case?id=" + minor)
    wcsrf = w.form_token(body)
    check(st == 200 and b"may not see this minor" in body and b"Minor Girl" not in body,
          "a caseworker gets no identity of a minor")
    w.post("/case/reveal", {"id": minor, "csrf": wcsrf})
    st, h, body, _ = w.get("/case?id=" + minor)
    check(b"Minor Girl" not in body and b"Choglamsar" not in body,
          "asking does not show a minor's identity to a caseworker")

    # -- rate limits without lockout ----------------------------------------------------------
    x = Browser(c.desk_port, source="127.0.0.2")
    codes = [x.login("cw", "not the password %d" % i)[0] for i in range(5)]
    check(codes == [401, 401, 401, 401, 429],
          "guesses from another computer are limited after 3 (%s)" % codes)
    st, h, body, _ = x.login("cw", "caseworker password")
    check(st == 429, "that computer stays limited even with the right password")
    y = Browser(c.desk_port)
    st, h, body, _ = y.login("cw", "caseworker password")
    check(st == 303, "the real caseworker still logs in from her own computer (%d)" % st)

    # -- logout --------------------------------------------------------------------------------
    st, h, body, _ = b.get("/worklist")
    csrf = b.form_token(body)
    st, h, body, _ = b.post("/logout", {"csrf": csrf})
    check(st == 303 and h.get("location") == "/login", "logout 303 to login")
    st, h, body, _ = b.get("/worklist")
    check(st == 303, "after logout the session is gone")
    out = [e for e in c.audit() if e["event"] in ("desk_login", "desk_logout")]
    check(any(e["event"] == "desk_logout" and e["worker"] == "boss" for e in out),
          "login and logout are audited")
    # -- expired session: the same centre restarted with a 2 s idle timeout ----------------------
    # (a restart also ends every session: they live in the server's memory)
    c.stop()
    c.extra = ["--desk-idle-timeout", "2"]
    c.start()
    y = Browser(c.desk_port)
    st, h, body, _ = y.login("cw", "caseworker password")
    check(st == 303, "log in again after the restart (%d)" % st)
    st, h, body, _ = y.get("/worklist")
    ycsrf = y.form_token(body)
    check(st == 200, "the fresh session works")
    time.sleep(2.5)  # the idle timeout under test, not a wait for readiness
    st, h, body, _ = y.get("/worklist")
    check(st == 303 and h.get("location") == "/login", "an idle session has expired")
    st, h, body, _ = y.post("/case/note", {"id": rid, "csrf": ycsrf, "text": "late"})
    check(st == 401, "a form from an expired session is refused (%d)" % st)
    b = Browser(c.desk_port)
    # a bad form encoding is refused whole
    st, h, body, _ = b.request("POST", "/login", raw_body="user=%zz",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 403, "a form that does not decode is refused (%d)" % st)
    try:
        st, h, body, _ = b.request("POST", "/login", raw_body="a=" + "x" * 20000,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    except (ssl.SSLError, OSError):
        st = 413  # h2o answered 413 and closed before the client finished sending
        b.conn = None
    check(st in (403, 413), "an oversized form is refused (%d)" % st)
    st, h, body, _ = b.get("/login")
    check(st == 200, "the desk keeps serving after bad input")
    st, h, body, _ = b.get("/nothing-here")
    check(st in (401, 404), "an unknown page is not served (%d)" % st)
    b.get("/login")  # leave an idle keep-alive connection for the shutdown check


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test_desk_browser.py BUILD_DIR - the centre desk in a real browser (Debian's chromium and
chromedriver, driven by python3-selenium; one headless session for the whole test).

A field device captures referrals offline and syncs them to a real sakhi-server; in the browser
a staff member sets her password through her setup link, is refused with a wrong password, logs
in, sees the referral the device synced, sees a new one appear by itself after another sync,
reveals an identity, accepts the referral and adds a note; a caseworker gets no identity of a
minor. Refusals (a form without the CSRF token, an expired session) and the security headers are
checked with the browser's own cookie. A screenshot of each page is saved under
BUILD_DIR/desk-screenshots/.
"""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desk_support import Browser, Centre  # noqa: E402

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    print("FAIL: python3-selenium is missing (scripts/setup-deps.sh installs it)")
    sys.exit(1)

FAILS = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def wait_for(pred, timeout, step=0.1):
    """Poll pred() until true or timeout seconds passed; returns the time it took or None."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if pred():
                return time.time() - t0
        except Exception:  # the page is being replaced under us: ask again
            pass
        time.sleep(step)
    return None


def main():
    bindir = sys.argv[1]
    for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(exe, os.X_OK):
            print("FAIL: %s is missing (scripts/setup-deps.sh installs chromium and "
                  "chromium-driver)" % exe)
            return 1
    shots = os.path.join(bindir, "desk-screenshots")
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="sakhi-desk-chromium-")
    centre = Centre(bindir, ["--desk-idle-timeout", "60"])
    driver = None
    try:
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
                  "--window-size=1280,1000", "--ignore-certificate-errors"):
            opts.add_argument(a)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        driver.set_page_load_timeout(60)
        run(centre, driver, shots)
    finally:
        if driver is not None:
            driver.quit()
        centre.close()
        shutil.rmtree(profile, ignore_errors=True)
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed; screenshots in " + shots)
    return 0


def run(c, d, shots):
    base = "https://127.0.0.1:%d" % c.desk_port

    def shot(name):
        d.save_screenshot(os.path.join(shots, name + ".png"))

    def text():
        return d.find_element(By.TAG_NAME, "body").text

    rid = c.capture("--block", "Nubra", "--village", "Diskit", "--name", "Dolma Angmo",
                    "--age", "31", "--urgency", "urgent", "--phone", "9876500000")
    minor = c.capture("--block", "Leh", "--village", "Choglamsar", "--name", "Minor Girl",
                      "--age", "15", "--minor", "yes", "--urgency", "immediate_danger")
    check(c.sync().get("applied") == 2, "a simulated device synced two referrals")
    u, t = c.staff_link("boss", "admin")
    cu, ct = c.staff_link("cw", "caseworker", "leh")

    # -- setup link ---------------------------------------------------------------------------
    d.get(base + "/setup?u=%s&t=%s" % (u, t))
    shot("setup")
    d.find_element(By.ID, "password").send_keys("correct horse battery")
    d.find_element(By.ID, "password2").send_keys("correct horse battery")
    d.find_element(By.ID, "submit").click()
    check(wait_for(lambda: "Password set" in text(), 20) is not None,
          "the setup link sets the password")
    d.get(base + "/setup?u=%s&t=%s" % (cu, ct))
    d.find_element(By.ID, "password").send_keys("caseworker password")
    d.find_element(By.ID, "password2").send_keys("caseworker password")
    d.find_element(By.ID, "submit").click()
    wait_for(lambda: "Password set" in text(), 20)

    # -- wrong password, then the right one -----------------------------------------------------
    def login(user, pw):
        d.get(base + "/login")
        d.find_element(By.ID, "user").send_keys(user)
        d.find_element(By.ID, "password").send_keys(pw)
        d.find_element(By.ID, "submit").click()

    login("boss", "not the password")
    check(wait_for(lambda: "Wrong name, password or code" in text(), 20) is not None,
          "a wrong password is refused")
    shot("login")
    login("boss", "correct horse battery")
    check(wait_for(lambda: d.current_url.endswith("/worklist"), 20) is not None,
          "the right password opens the worklist")

    # -- the worklist shows what the device synced, and updates itself ---------------------------
    rows = lambda: [e.get_attribute("data-id") for e in
                    d.find_elements(By.CSS_SELECTOR, "#inbox tbody tr")]
    check(rid in rows() and minor in rows(), "the synced referrals are in the inbox")
    check(rows().index(minor) < rows().index(rid), "immediate danger is on top")
    shot("worklist")
    new = c.capture("--block", "Kharu", "--village", "Hemis", "--name", "withheld", "--age",
                    "40", "--urgency", "routine")
    c.sync()
    took = wait_for(lambda: new in rows(), 15, 0.2)
    check(took is not None and took <= 5.0,
          "a referral synced while the worklist is open appears by itself within 5 s (%s s)"
          % (None if took is None else round(took, 1)))

    # -- case page: identity on request, accept, note ---------------------------------------------
    d.get(base + "/case?id=" + rid)
    check("Dolma Angmo" not in text() and "9876500000" not in text(),
          "the case page hides the name and phone")
    d.find_element(By.ID, "reveal").click()
    check(wait_for(lambda: "Dolma Angmo" in text(), 20) is not None,
          "the name shows when asked for")
    shot("case")
    d.find_element(By.ID, "accept").click()
    check(wait_for(lambda: "LEH-" in d.find_element(By.ID, "flash").text, 20) is not None,
          "accepting gives a case number")
    check("Accepted" in d.find_element(By.ID, "case-title").text + text(),
          "the case shows as accepted")
    d.find_element(By.ID, "note-text").send_keys("Called her; visit on Monday")
    d.find_element(By.ID, "note").click()
    check(wait_for(lambda: "visit on Monday" in d.find_element(By.ID, "entries").text, 20)
          is not None, "a case note is added")
    shot("case-accepted")
    ev = {(e["event"], e["worker"]) for e in c.audit() if rid in e["detail"]}
    check(("desk_reveal", "boss") in ev and ("case_accept", "boss") in ev,
          "the reveal and the acceptance are audited with the person's name")

    # -- refusals with the browser's own session ----------------------------------------------
    cookie = d.get_cookie("__Host-sakhi")
    check(cookie is not None and cookie.get("secure") and cookie.get("httpOnly") and
          cookie.get("sameSite") == "Strict", "the session cookie is Secure, HttpOnly, Strict")
    h = Browser(c.desk_port)
    h.cookies["__Host-sakhi"] = cookie["value"]
    st, hdr, body, _ = h.get("/worklist")
    check(st == 200 and "'unsafe-inline'" not in hdr.get("content-security-policy", "x") and
          "frame-ancestors 'none'" in hdr.get("content-security-policy", "") and
          hdr.get("strict-transport-security", "").startswith("max-age=") and
          hdr.get("cache-control") == "no-store", "the pages carry the security headers")
    st, hdr, body, _ = h.post("/case/close", {"id": rid, "text": "no token"})
    check(st == 403, "a form without the CSRF token is refused (%d)" % st)
    d.get(base + "/lang?to=hi")
    wait_for(lambda: "कार्य सूची" in text(), 20)
    check("कार्य सूची" in text(), "the desk speaks Hindi")
    shot("worklist-hi")
    d.get(base + "/lang?to=en")
    d.find_element(By.ID, "logout").click()
    check(wait_for(lambda: d.current_url.endswith("/login"), 20) is not None, "logout")
    st, hdr, body, _ = h.get("/worklist")
    check(st == 303 and hdr.get("location") == "/login",
          "the ended session is refused (%d)" % st)

    # -- a caseworker and a minor --------------------------------------------------------------
    login("cw", "caseworker password")
    wait_for(lambda: d.current_url.endswith("/worklist"), 20)
    d.get(base + "/case?id=" + minor)
    check("may not see this minor" in text() and "Minor Girl" not in text() and
          not d.find_elements(By.ID, "reveal"), "a caseworker gets no identity of a minor")
    shot("case-minor-caseworker")


if __name__ == "__main__":
    sys.exit(main())

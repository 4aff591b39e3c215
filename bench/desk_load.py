#!/usr/bin/env python3
"""desk_load.py [--build DIR] [--rounds N] [--users N] [--devices N] [--referrals N]

Does desk load starve sync? Measures the server's ingest rate (sakhi-load over TLS: field
devices pushing referrals captured offline) twice per round on a fresh data directory each time:
alone, and while N desk users (default 20) click through the worklist (worklist, a case page,
the change counter, then --think seconds looking at it, default 1; 0 = as fast as the server
answers). Rounds alternate the order
(alone first, then with the desk first) so a change in the machine's other load hits both
sides; the figure is the median of the per-round ratios. Prints one markdown table (and the
machine's load average, since the machine may be shared).

Target (docs/PERFORMANCE.md): ingest with the desk users at least 90% of the rate without.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from desk_support import Browser  # noqa: E402


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)
    if r.returncode != 0:
        raise SystemExit("%s failed: %s %s" % (argv[0], r.stdout, r.stderr))
    return r.stdout


class Server:
    def __init__(self, build, tmp, users):
        self.build = build
        self.dir = tempfile.mkdtemp(dir=tmp)
        self.data = os.path.join(self.dir, "data")
        admin = os.path.join(build, "tools", "admin", "sakhi-admin")
        run([admin, "--data", self.data, "init"])
        out = run([admin, "--data", self.data, "--json", "tls-cert", "--cn", "bench",
                   "--out", os.path.join(self.dir, "tls")])
        self.pin = json.loads(out)["pin"]
        self.codes = os.path.join(self.dir, "codes")
        self.links = []
        for i in range(users):
            link = json.loads(run([admin, "--data", self.data, "--json", "staff", "add",
                                   "desk-%d" % i, "--role", "admin"]))["link"]
            q = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
            self.links.append((q["u"][0], q["t"][0]))
        tls = os.path.join(self.dir, "tls")
        self.proc = subprocess.Popen(
            [os.path.join(build, "server", "sakhi-server"), "--data", self.data, "--port", "0",
             "--port-file", os.path.join(self.dir, "port"), "--tls-cert",
             os.path.join(tls, "server.crt"), "--tls-key", os.path.join(tls, "server.key"),
             "--desk", "--desk-port", "0", "--desk-port-file", os.path.join(self.dir, "dport"),
             "--log-file", os.path.join(self.dir, "server.log"), "--log-level", "warn"])
        t0 = time.time()
        while time.time() - t0 < 30:
            try:
                self.port = int(open(os.path.join(self.dir, "port")).read())
                self.dport = int(open(os.path.join(self.dir, "dport")).read())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        else:
            raise SystemExit("server did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ingest(build, srv, devices, referrals):
    load = os.path.join(build, "tools", "load", "sakhi-load")
    run([load, "--prepare-data", srv.data, "--codes-out", srv.codes, "--devices", str(devices)])
    out = run([load, "--port", str(srv.port), "--codes", srv.codes, "--devices", str(devices),
               "--referrals", str(referrals), "--conns", str(min(devices, 20)), "--tls",
               "--server-pin", srv.pin, "--json", "--no-verify"])
    rep = json.loads(out)
    if not rep.get("ok") or rep["errors"]["total"]:
        raise SystemExit("sakhi-load failed: %s" % out)
    return float(rep["ingest"]["referrals_per_s"]), rep


class DeskUser(threading.Thread):
    def __init__(self, port, user, token, stop, think):
        super().__init__(daemon=True)
        self.think = think
        self.b = Browser(port)
        self.user, self.token, self.stop = user, token, stop
        self.pages = 0
        self.ready = threading.Event()
        self.error = None

    def run(self):
        try:
            pw = "bench password %s" % self.user
            # at most two password hashes run at once: the others are told 503, try again
            for _ in range(600):
                st = self.b.setup(self.user, self.token, pw)[0]
                if st != 503:
                    break
                time.sleep(0.1)
            for _ in range(600):
                st2 = self.b.login(self.user, pw)[0]
                if st2 != 503:
                    break
                time.sleep(0.1)
            if st != 200 or st2 != 303:
                raise RuntimeError("setup %d login %d" % (st, st2))
            self.ready.set()
            while not self.stop.is_set():
                st, h, body, _ = self.b.get("/worklist")
                ids = re.findall(rb'data-id="([0-9a-f-]{36})"', body)
                self.pages += 1
                if ids:
                    self.b.get("/case?id=" + ids[self.pages % len(ids)].decode())
                    self.pages += 1
                self.b.get("/api/version")
                self.stop.wait(self.think)
        except Exception as e:  # reported by the main thread
            self.error = e
            self.ready.set()


def one(build, tmp, users, devices, referrals, with_desk, think):
    srv = Server(build, tmp, users if with_desk else 0)
    stop = threading.Event()
    clickers = []
    try:
        if with_desk:
            # the worklist fills while they click: each click reads the whole store
            clickers = [DeskUser(srv.dport, u, t, stop, think) for u, t in srv.links]
            for c in clickers:
                c.start()
            for c in clickers:
                c.ready.wait(120)
                if c.error:
                    raise SystemExit("desk user failed: %s" % c.error)
        t0 = time.time()
        rate, rep = ingest(build, srv, devices, referrals)
        secs = time.time() - t0
        pages = sum(c.pages for c in clickers)
        return rate, pages / secs if with_desk else 0.0
    finally:
        stop.set()
        for c in clickers:
            c.join(30)
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("SAKHI_BUILD", os.path.join(ROOT, "build")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--referrals", type=int, default=50)
    ap.add_argument("--think", type=float, default=1.0,
                    help="seconds a user looks at a page before the next click (default 1)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sakhi-desk-bench-")
    load0 = os.getloadavg()[0]
    ratios, alone, withd, pages = [], [], [], []
    try:
        for r in range(a.rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            res = {}
            for w in order:
                res[w] = one(a.build, tmp, a.users, a.devices, a.referrals, w, a.think)
            alone.append(res[False][0])
            withd.append(res[True][0])
            pages.append(res[True][1])
            ratios.append(res[True][0] / res[False][0])
            print("round %d: alone %.0f referrals/s, with %d desk users %.0f referrals/s "
                  "(%.0f pages/s): %.0f%%" % (r + 1, res[False][0], a.users, res[True][0],
                                              res[True][1], 100 * ratios[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()[0]
    med = statistics.median(ratios)
    print("| measure | value |")
    print("|---|---|")
    print("| ingest alone (median of %d, TLS, %d devices x %d referrals) | %.0f referrals/s |"
          % (a.rounds, a.devices, a.referrals, statistics.median(alone)))
    print("| ingest with %d desk users clicking (median) | %.0f referrals/s |"
          % (a.users, statistics.median(withd)))
    print("| desk pages served meanwhile (median) | %.0f pages/s |" % statistics.median(pages))
    print("| ratio (median of per-round ratios; target >= 90%%) | %.0f%% |" % (100 * med))
    print("| load average at start / end | %.1f / %.1f |" % (load0, load1))
    return 0 if med >= 0.90 else 1


if __name__ == "__main__":
    sys.exit(main())

"""desk_support.py - a real centre for the desk's tests: a data directory with staff accounts
and a field worker, a sakhi-server with the desk on 127.0.0.1 (ports picked by the kernel),
and a field device (the sakhi CLI) that captures referrals offline and syncs them.

Every wait is a bounded poll; everything started is stopped (SIGTERM, then SIGKILL) on close.
check() and verdict() are the tests' shared way of reporting: each check is printed as it runs,
and the test's exit status is 1 when any failed.
"""

import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.parse


class Centre:
    def __init__(self, bindir, extra_server_args=()):
        self.bindir = bindir
        self.server_bin = os.path.join(bindir, "server", "sakhi-server")
        self.admin_bin = os.path.join(bindir, "tools", "admin", "sakhi-admin")
        self.sakhi_bin = os.path.join(bindir, "tools", "cli", "sakhi")
        self.tmp = tempfile.mkdtemp(prefix="sakhi-desk-")
        self.data = os.path.join(self.tmp, "data")
        self.proc = None
        self.admin("init")
        out = self.admin("--json", "tls-cert", "--cn", "desk test", "--out",
                         os.path.join(self.tmp, "tls"), first=True)
        self.pin = json.loads(out)["pin"]
        self.admin("worker", "add", "field-1", "--role", "field", "--district", "leh")
        self.extra = list(extra_server_args)
        self.start()
        self.device = os.path.join(self.tmp, "device")
        self.pinfile = os.path.join(self.tmp, "pin")
        with open(self.pinfile, "w") as f:
            f.write("258025\n")
        code = self.admin("enroll-code", "field-1").strip()
        self.sakhi("init")
        self.sakhi("enroll", "--server", "127.0.0.1:%d" % self.sync_port, "--code", code,
                   "--server-pin", self.pin, "--label", "test phone")

    # -- processes ------------------------------------------------------------------------
    def admin(self, *args, first=False):
        argv = [self.admin_bin]
        if first:
            argv += ["--data", self.data] + list(args)
        else:
            argv += ["--data", self.data] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("sakhi-admin %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def sakhi(self, *args, device=None):
        argv = [self.sakhi_bin, "--store", device or self.device, "--pin-file",
                self.pinfile] + list(args)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError("sakhi %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def start(self):
        for f in ("port", "desk-port"):
            p = os.path.join(self.tmp, f)
            if os.path.exists(p):
                os.unlink(p)
        tls = os.path.join(self.tmp, "tls")
        self.log = os.path.join(self.tmp, "server.log")
        self.proc = subprocess.Popen(
            [self.server_bin, "--data", self.data, "--listen", "127.0.0.1", "--port", "0",
             "--port-file", os.path.join(self.tmp, "port"), "--tls-cert",
             os.path.join(tls, "server.crt"), "--tls-key", os.path.join(tls, "server.key"),
             "--desk", "--desk-port", "0", "--desk-port-file",
             os.path.join(self.tmp, "desk-port"), "--log-file", self.log] + self.extra)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("sakhi-server exited: %d" % self.proc.returncode)
            try:
                with open(os.path.join(self.tmp, "port")) as f:
                    self.sync_port = int(f.read())
                with open(os.path.join(self.tmp, "desk-port")) as f:
                    self.desk_port = int(f.read())
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("sakhi-server did not listen within 20 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def close(self):
        self.stop()
        if os.environ.get("SAKHI_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the field device ------------------------------------------------------------------
    def add_device(self, worker, label):
        """Another enrolled device (a store directory) of worker, with the same PIN."""
        path = os.path.join(self.tmp, "device-" + label)
        code = self.admin("enroll-code", worker).strip()
        self.sakhi("init", device=path)
        self.sakhi("enroll", "--server", "127.0.0.1:%d" % self.sync_port, "--code", code,
                   "--server-pin", self.pin, "--label", label, device=path)
        return path

    def capture(self, *fields):
        base = ["capture", "--district", "leh", "--taken-at", "home_visit", "--concern",
                "domestic_violence", "--source", "frontline_worker", "--consent-share", "yes",
                "--consent-contact", "yes"]
        return self.sakhi(*(base + list(fields))).strip()

    def sync(self, device=None):
        return json.loads(self.sakhi("--json", "sync", "--via",
                                     "127.0.0.1:%d" % self.sync_port, "--timeout", "30",
                                     device=device))

    def edit_village(self, device, rid, village):
        """An offline edit of a referral's village on a device (libsakhi, not the CLI)."""
        r = subprocess.run([os.path.join(self.bindir, "tests", "desk_edit_village"), device,
                            "258025", rid, village], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError("desk_edit_village: %s" % r.stderr)

    def audit(self):
        out = self.admin("--json", "audit", "--limit", "100000")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    # -- staff accounts ---------------------------------------------------------------------
    def staff_link(self, name, role, district=None):
        args = ["--json", "staff", "add", name, "--role", role]
        if district:
            args += ["--district", district]
        link = json.loads(self.admin(*args))["link"]
        q = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
        return q["u"][0], q["t"][0]

    def staff(self, name, role, district, password):
        """A new staff account that has set its password and logged in: its Browser, on the
        worklist, and the form token of that page."""
        u, t = self.staff_link(name, role, district)
        b = Browser(self.desk_port)
        st, _, _, _ = b.setup(u, t, password)
        assert st == 200, "setup of %s: %d" % (name, st)
        st, _, _, _ = b.login(name, password)
        assert st == 303, "login of %s: %d" % (name, st)
        st, _, body, _ = b.get("/worklist")
        return b, b.form_token(body)


class Browser:
    """A minimal cookie-keeping HTTPS client for the desk (one connection, re-opened when the
    server closes it). source: a local address to connect from (another "computer")."""

    def __init__(self, port, source=None):
        self.port = port
        self.source = source
        self.cookies = {}
        self.conn = None
        self.tls_version = None

    def _conn(self):
        if self.conn is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=ctx, timeout=30,
                source_address=(self.source, 0) if self.source else None)
        return self.conn

    def request(self, method, path, fields=None, headers=None, raw_body=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = raw_body
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    ssl.SSLEOFError):
                # the desk closed a connection left idle past its timeout: open a new one
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        self.tls_version = c.sock.version() if c.sock else self.tls_version
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v or value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.getheaders()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, fields, headers=None):
        return self.request("POST", path, fields=fields, headers=headers)

    def form_token(self, html):
        m = re.search(rb'name="csrf" value="([A-Za-z0-9_-]+)"', html)
        return m.group(1).decode() if m else None

    def login(self, user, password, code=""):
        st, h, body, _ = self.get("/login")
        tok = self.form_token(body)
        return self.post("/login", {"csrf": tok, "user": user, "password": password,
                                    "code": code})

    def setup(self, user, token, password, password2=None):
        st, h, body, _ = self.get("/setup?" + urllib.parse.urlencode({"u": user, "t": token}))
        tok = self.form_token(body)
        return self.post("/setup", {"csrf": tok or "", "u": user, "t": token,
                                    "password": password,
                                    "password2": password if password2 is None else password2})


FAILS = []


def check(cond, what):
    """One check of a desk test: printed as it runs, kept when it fails."""
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        FAILS.append(what)


def run_on_centre(run, bindir):
    """A desk test's whole run: run(centre) on a fresh centre started from bindir, the centre
    closed whatever happens; the verdict is the exit status."""
    c = Centre(bindir)
    try:
        run(c)
    finally:
        c.close()
    return verdict()


def verdict(passed="all checks passed"):
    """The test's exit status: 1 (with the count) when a check failed, else 0 (printing passed)."""
    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print(passed)
    return 0

#!/usr/bin/env python3
"""cdp.py - headless Chromium over the DevTools protocol
(--remote-debugging-pipe: no extra packages), for the browser tests:
Browser (the process and the pipe; events other than answers are kept in
Browser.events) and Page (one tab); check() and plan() print TAP."""
import base64, fcntl, json, os, subprocess, sys, time

_tap = {"n": 0, "failed": False}


def check(name, cond, diag=""):
    """One TAP test line, with DIAG as comments when COND is false."""
    _tap["n"] += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_tap["n"], name))
    if not cond:
        _tap["failed"] = True
        if diag:
            print("# " + str(diag).replace("\n", "\n# "))
    sys.stdout.flush()


def plan():
    """Prints the plan (the number of checks made); 1 if any failed, else 0."""
    print("1..%d" % _tap["n"])
    return 1 if _tap["failed"] else 0


class Browser:
    """Chromium with the DevTools protocol on fds 3 (in) and 4 (out)."""

    def __init__(self, work):
        self.work = work
        self.events = []
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        # Out of the way of 3 and 4 (and below 10: sh redirects one digit).
        cmd_r, res_w = self.renumber(cmd_r), self.renumber(res_w)
        # The protocol wants fds 3 and 4 exactly: a shell moves them there.
        redirect = 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (cmd_r, res_w, cmd_r, res_w)
        self.proc = subprocess.Popen(
            ["sh", "-c", redirect, "chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--hide-scrollbars",
             "--force-device-scale-factor=1", "--remote-debugging-pipe",
             "--user-data-dir=" + os.path.join(self.work, "chrome"), "about:blank"],
            pass_fds=(cmd_r, res_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self.w = os.fdopen(cmd_w, "wb")
        self.r = os.fdopen(res_r, "rb")
        self.buf = b""
        self.id = 0

    @staticmethod
    def renumber(fd):
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
        os.close(fd)
        if high > 9:
            raise RuntimeError("no free file descriptor below 10")
        return high

    def send(self, method, params=None, session=None):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.w.write(json.dumps(msg).encode() + b"\0")
        self.w.flush()
        while True:
            while b"\0" not in self.buf:
                chunk = self.r.read1(1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            m = json.loads(raw)
            if "method" in m and "id" not in m:
                self.events.append(m)
                continue
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Page:
    def __init__(self, b, url):
        self.b = b
        t = b.send("Target.createTarget", {"url": "about:blank"})
        self.s = b.send("Target.attachToTarget",
                        {"targetId": t["targetId"], "flatten": True})["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 900, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.enable")
        self.send("Page.navigate", {"url": url})

    def send(self, method, params=None):
        return self.b.send(method, params, self.s)

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")

    def wait(self, expr, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.js(expr)
                if v:
                    return v
            except RuntimeError:
                pass
            time.sleep(0.05)
        return None

    def key(self, key, down=True):
        code = ord(key.upper())
        p = {"type": "keyDown" if down else "keyUp", "key": key,
             "code": "Key" + key.upper(), "windowsVirtualKeyCode": code,
             "nativeVirtualKeyCode": code}
        if down:
            p["text"] = key
        self.send("Input.dispatchKeyEvent", p)

    def shot(self, name):
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path = os.path.join(self.b.work, name)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

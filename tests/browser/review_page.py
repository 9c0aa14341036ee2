#!/usr/bin/env python3
"""review_page.py - drives headless Chromium through scrimd's /review page
over the DevTools protocol (--remote-debugging-pipe: no extra packages) and
prints TAP.  Checks that the default view shows only the default previews
(screenshot regions compared with the served JPEGs), that the lighter level
appears only while "v" is held or for the reveal time after a press, that
c / r record decisions, and that without a token only the login form shows.

usage: review_page.py BASE_URL TOKEN HELPER WORKDIR N_WITH_PREVIEW N_WITHOUT
(HELPER is build/*/tests/test_preview, used for --compare.)"""
import json, os, subprocess, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, Page, check, plan  # noqa: E402

base, token, helper, work = sys.argv[1:5]
n_with, n_without = int(sys.argv[5]), int(sys.argv[6])
REVEAL = 2  # seconds a press reveals (the page's default is 10)


def fetch(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as r:
        return r.read()


def compare(shot, rect, a, b):
    """RMS (fraction of full scale) of a screenshot region vs JPEGs a and b."""
    out = subprocess.run([helper, "--compare", shot] +
                         [str(int(round(v))) for v in (rect["x"], rect["y"], rect["w"], rect["h"])] +
                         [a, b], capture_output=True, text=True)
    try:
        ra, rb = (float(x) for x in out.stdout.split())
        return ra, rb
    except ValueError:
        return 1.0, 0.0


STATE = """(() => { const cs = [...document.querySelectorAll('.card')];
  return cs.map(c => { const i = c.querySelector('img.preview');
    const r = i ? i.getBoundingClientRect() : null;
    return {id: c.dataset.id, shown: i ? (i.dataset.shown || '') : 'none',
            level: i ? i.dataset.level : 'none', badge: !!c.querySelector('.badge'),
            rect: r ? {x: r.x, y: r.y, w: r.width, h: r.height} : null}; }); })()"""


def main():
    b = Browser(work)
    try:
        run(b)
    finally:
        b.close()
    return plan()


def run(b):
    b.send("Target.setDiscoverTargets", {"discover": False})
    page = Page(b, base + "/review#token=" + token + "&reveal=%d" % REVEAL)
    total = n_with + n_without
    ready = page.wait("(() => { const s = %s; return s.length == %d && "
                      "s.every(c => c.shown == 'default' || c.shown == 'none') && s; })()"
                      % (STATE, total), 15)
    check("the queue shows %d pending records, previews loaded" % total, bool(ready),
          page.js(STATE))
    if not ready:
        return
    check("the token left the address bar", "token" not in page.js("location.href"))
    check("records of a list with level none show no image",
          sum(1 for c in ready if c["shown"] == "none") == n_without and
          page.js("document.querySelectorAll('.pic .none').length") == n_without)

    # Served previews of the records with one.
    files = {}
    for c in ready:
        if c["shown"] == "default":
            d, l = os.path.join(work, c["id"] + ".d.jpg"), os.path.join(work, c["id"] + ".l.jpg")
            with open(d, "wb") as f:
                f.write(fetch("/v1/review/%s/preview.jpg" % c["id"]))
            with open(l, "wb") as f:
                f.write(fetch("/v1/review/%s/preview.jpg?level=light" % c["id"]))
            files[c["id"]] = (d, l)

    # The default view: every image on screen is the default preview.
    shot = page.shot("default.png")
    worst, diag = 0, []
    for c in ready:
        if c["id"] in files:
            ra, rb = compare(shot, c["rect"], *files[c["id"]])
            diag.append("%s: vs default %.4f, vs lighter %.4f" % (c["id"][:8], ra, rb))
            if not (ra < 0.02 and rb > 2 * ra and rb > 0.01):
                worst = 1
    check("screenshot: the default view shows only the default previews",
          worst == 0 and len(files) == n_with, "\n".join(diag))
    print("# RMS of each preview region: " + "; ".join(diag))
    check("no image is marked revealed", not any(c["badge"] for c in ready) and
          page.js("document.querySelectorAll('img').length") == n_with)

    first = next(c for c in ready if c["id"] in files)
    idx = [c["id"] for c in ready].index(first["id"])
    for _ in range(idx):
        page.key("j"); page.key("j", False)

    # Hold v: the lighter level while held, the default right after release.
    page.key("v")
    st = page.wait("(() => { const s = %s[%d]; return s.shown == 'light' && s; })()" % (STATE, idx), 5)
    time.sleep(0.5)
    shot = page.shot("held.png")
    ra, rb = compare(shot, first["rect"], *files[first["id"]])
    check("holding v shows the lighter level (screenshot)", bool(st) and rb < 0.02 and ra > 2 * rb,
          "vs default %.4f, vs lighter %.4f" % (ra, rb))
    print("# held: vs default %.4f, vs lighter %.4f" % (ra, rb))
    page.key("v", False)
    st = page.wait("(() => { const s = %s[%d]; return s.shown == 'default' && !s.badge && s; })()"
                   % (STATE, idx), 3)
    shot = page.shot("released.png")
    ra, rb = compare(shot, first["rect"], *files[first["id"]])
    check("releasing v re-blurs at once (screenshot)", bool(st) and ra < 0.02 and rb > 2 * ra,
          "vs default %.4f, vs lighter %.4f" % (ra, rb))

    # A press: lighter for REVEAL seconds, then blurred again.
    t0 = time.time()
    page.key("v"); page.key("v", False)
    st = page.wait("%s[%d].shown == 'light'" % (STATE, idx), 3)
    check("a press reveals", bool(st))
    back = page.wait("%s[%d].shown == 'default'" % (STATE, idx), REVEAL + 5)
    took = time.time() - t0
    check("and re-blurs after the reveal time (%.1f s)" % took,
          bool(back) and REVEAL - 0.3 <= took <= REVEAL + 3)

    # Keyboard decisions.
    id0 = page.js(STATE)[idx]["id"]
    page.key("c"); page.key("c", False)
    gone = page.wait("!%s.some(c => c.id == '%s')" % (STATE, id0), 5)
    rec = json.loads(fetch("/v1/review/" + id0))
    check("c confirms the selected record", bool(gone) and rec["status"] == "confirmed",
          rec.get("status"))
    id1 = page.js(STATE)[min(idx, total - 2)]["id"]
    page.key("r"); page.key("r", False)
    gone = page.wait("!%s.some(c => c.id == '%s')" % (STATE, id1), 5)
    rec = json.loads(fetch("/v1/review/" + id1))
    check("r rejects the selected record", bool(gone) and rec["status"] == "rejected",
          rec.get("status"))
    left = json.loads(fetch("/v1/review?limit=100"))["records"]
    check("the queue and the server agree", len(left) == len(page.js(STATE)) == total - 2)

    # The queue bar: the pending count, a filter by list, newest first.
    shown = page.wait("document.getElementById('pending').textContent", 3)
    check("the page shows the pending count", shown == "%d pending" % (total - 2), shown)
    oldest = [c["id"] for c in page.js(STATE)]
    page.js("const o = document.getElementById('qorder'); o.value = 'newest'; "
            "o.dispatchEvent(new Event('change')); true")
    newest = page.wait("(() => { const s = %s.map(c => c.id); return s.length == %d && "
                       "s[0] != %s && s; })()" % (STATE, len(oldest), json.dumps(oldest[0])), 5)
    check("newest first reverses the queue", newest == oldest[::-1], "%s vs %s" % (newest, oldest))
    hidden = json.loads(fetch("/v1/review?list=hidden"))
    page.js("const l = document.getElementById('qlist'); l.value = 'hidden'; "
            "l.dispatchEvent(new Event('change')); true")
    only = page.wait("(() => { const s = %s.map(c => c.id); return s.length == %d && "
                     "document.getElementById('pending').textContent == '%d pending in hidden' && s; })()"
                     % (STATE, hidden["pending"], hidden["pending"]), 5)
    check("the list filter shows only that list's records (%d)" % hidden["pending"],
          bool(only) and sorted(only) == sorted(r["id"] for r in hidden["records"]), page.js(STATE))

    # A new tab has no token: only the login form, no image, until one is given.
    p2 = Page(b, base + "/review")
    form = p2.wait("!document.getElementById('login').hidden && document.readyState == 'complete'", 5)
    time.sleep(0.3)
    check("without a token: the login form and no image",
          bool(form) and p2.js("document.querySelectorAll('img').length") == 0)
    p2.js("document.getElementById('token').value = 'not-the-token-at-all'; "
          "document.getElementById('login').requestSubmit(); true")
    refused = p2.wait("document.getElementById('status').textContent.includes('not accepted')", 5)
    check("a wrong token is refused", bool(refused) and p2.js("document.querySelectorAll('img').length") == 0)
    p2.js("document.getElementById('token').value = %s; "
          "document.getElementById('login').requestSubmit(); true" % json.dumps(token))
    cards = p2.wait("document.querySelectorAll('.card').length == %d" % (total - 2), 5)
    check("the right token opens the queue", bool(cards))


if __name__ == "__main__":
    sys.exit(main())

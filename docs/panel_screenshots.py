"""Screenshots of the live panel on samples/worker_pool.py: running, and paused at a
breakpoint (a worker entering its syscall), at 1600x1000 and 1000x700.

    python docs/panel_screenshots.py [OUTDIR]      (default: docs/)

Needs Debian's chromium and ``pip install playwright``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    from playwright.sync_api import sync_playwright

    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs")
    pr = subprocess.Popen([sys.executable, "-m", "pyruntime", "run", "--gomaxprocs", "4", "--panel-control",
                           os.path.join(ROOT, "samples", "worker_pool.py"), "2000000", "16"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        m = re.match(r"panel: (http://127\.0\.0\.1:(\d+)/\?token=(\S+))", pr.stderr.readline())
        assert m, "no panel line"
        url, port, token = m.group(1), int(m.group(2)), m.group(3)

        def api(method: str, path: str, body: dict | None = None) -> dict:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request(method, path, body=None if body is None else json.dumps(body),
                      headers={"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"})
            r = json.loads(c.getresponse().read())
            c.close()
            return r

        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
            pages = []
            for w, h in ((1600, 1000), (1000, 700)):
                pg = b.new_page(viewport={"width": w, "height": h})
                pg.goto(url)
                pages.append((w, pg))
            time.sleep(4)  # a few seconds of heatmap and timeline
            for w, pg in pages:
                pg.screenshot(path=os.path.join(out, f"panel_running_{w}.png"))
            api("POST", "/api/breakpoints", {"fn": "worker", "from": "running", "to": "syscall", "suspend": "all"})
            end = time.monotonic() + 20
            while not api("GET", "/api/state?metrics=0")["paused"] and time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(1.5)  # the page polls every 300 ms
            for w, pg in pages:
                pg.screenshot(path=os.path.join(out, f"panel_breakpoint_{w}.png"))
            b.close()
        print("screenshots in", out)
        return 0
    finally:
        pr.kill()
        pr.wait()


if __name__ == "__main__":
    raise SystemExit(main())

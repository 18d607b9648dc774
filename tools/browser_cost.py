"""What the browser checks cost at the least: one desktop visit, axe-core and one phone visit per page.

    python tools/browser_cost.py [SITE_DIR]   (default: site/, from `make site`)

Visits every page of the built site, in both languages, one after another in
one chromium, as tests/browser/test_reader.py's test_page does but with none
of its other checks (copies, the explorer, screenshots). Prints the wall time,
the CPU time of the whole machine over the run (every process: chromium's
are most of it) and each part's wall time. On a quiet machine the CPU time is
the floor of what test_page costs (the README's "Where the test time goes"
compares it with a whole run).
"""

import functools
import os
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import explorer  # noqa: E402
from tests.browser.conftest import (  # noqa: E402
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    Tab,
    chromium_path,
    page_url,
    site_pages,
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def machine_cpu_seconds() -> float:
    """CPU time of every process on the machine since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def main(site: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    pages = site_pages(site)
    parts = dict.fromkeys(("desktop load", "axe", "phone load"), 0.0)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        desktop = Tab(browser, base, site, False, color_scheme="light", **DESKTOP)
        phone = Tab(browser, base, site, False, color_scheme="light", **PHONE)
        cpu, wall = machine_cpu_seconds(), time.perf_counter()
        for lang, path in pages:
            start = time.perf_counter()
            page = desktop.visit(page_url(base, lang, path), until_search_ready=True)
            parts["desktop load"] += time.perf_counter() - start
            start = time.perf_counter()
            explorer.axe(page, widget=False)
            parts["axe"] += time.perf_counter() - start
            start = time.perf_counter()
            phone.visit(page_url(base, lang, path)).evaluate("() => document.body.scrollWidth")
            parts["phone load"] += time.perf_counter() - start
        cpu, wall = machine_cpu_seconds() - cpu, time.perf_counter() - wall
        browser.close()
    httpd.shutdown()
    print(f"{len(pages)} pages: {wall:.1f} s wall, {cpu:.1f} s of CPU ({cpu / len(pages):.2f} s a page)")
    print("wall by part: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "site")

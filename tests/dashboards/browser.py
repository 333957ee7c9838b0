"""Headless Chromium, driven directly: the DOM after the page's scripts ran, and screenshots.

JavaScript errors are read from the page itself: the dashboard installs ``window.onerror`` (and an
``unhandledrejection`` listener) before plotly.js, writing every error into
``<html data-js-errors>``, which ``--dump-dom`` returns with the rest of the DOM. Network access
beyond this machine is cut (an unreachable proxy; loopback is never proxied), so a page that needed
anything from the internet would not draw.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / "setup_browser.sh"


def chromium() -> str:
    """The chromium executable, installed by tests/setup_browser.sh when missing (a failure there fails the test)."""
    exe = shutil.which("chromium")
    if exe is None:
        done = subprocess.run(["sh", str(SETUP)], capture_output=True, text=True, timeout=900, check=False)
        exe = shutil.which("chromium")
        if exe is None:
            raise RuntimeError(f"no chromium, and {SETUP} could not install it:\n{done.stdout}{done.stderr}")
    return exe


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
               "--proxy-server=http://127.0.0.1:9", *args]  # nothing beyond this machine (loopback bypasses proxies)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(url: str, *, budget_ms: int = 20_000, width: int = 1280, timeout: float = 180) -> str:
    """The DOM of ``url`` after ``budget_ms`` of virtual time (scripts run, plots drawn)."""
    done = _run([f"--window-size={width},4000", f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium --dump-dom {url} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def screenshot(url: str, out: Path, *, width: int = 1280, height: int = 7000, budget_ms: int = 20_000, timeout: float = 180) -> Path:
    done = _run([f"--window-size={width},{height}", f"--virtual-time-budget={budget_ms}", f"--screenshot={out}", url], timeout)
    if not out.exists():
        raise RuntimeError(f"chromium --screenshot {url} wrote nothing (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return out


class PanelsInDom(HTMLParser):
    """From a dumped DOM: each panel's state, its number of plotly SVGs (``svg.main-svg``), its text;
    the page's recorded JavaScript errors; the answer panel's best objective."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: dict[str, dict] = {}
        self.js_errors: str | None = None
        self.best: tuple[str, str] | None = None  # (data-value, text)
        self._current: str | None = None
        self._depth = 0
        self._in_best = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "html":
            self.js_errors = a.get("data-js-errors")
        if tag == "section" and "data-panel" in a:
            self._current, self._depth = a["data-panel"], 0
            self.panels[self._current] = {"state": a.get("data-state"), "svgs": 0, "text": ""}
        if self._current is None:
            return
        if tag == "section":
            self._depth += 1
        if tag == "svg" and "main-svg" in (a.get("class") or "").split():
            self.panels[self._current]["svgs"] += 1
        if tag == "b" and "best-objective" in (a.get("class") or ""):
            self._in_best = True
            self.best = (a.get("data-value") or "", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "b":
            self._in_best = False
        if tag == "section" and self._current is not None:
            self._depth -= 1
            if self._depth <= 0:
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.panels[self._current]["text"] += data
        if self._in_best and self.best is not None:
            self.best = (self.best[0], self.best[1] + data)


def read_panels(dom: str) -> PanelsInDom:
    p = PanelsInDom()
    p.feed(dom)
    return p

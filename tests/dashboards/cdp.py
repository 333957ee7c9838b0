"""Headless Chromium driven over its DevTools protocol, in real time, frames included.

``--dump-dom`` sees neither the inside of an iframe nor, with ``--virtual-time-budget``, a
cross-origin frame that has not painted yet; MLflow shows an HTML artifact in such a frame (a
sandboxed ``blob:`` iframe). This opens a page, lets it run for real seconds, and evaluates an
expression in the page and in every frame attached to it. The WebSocket client is the few lines
of RFC 6455 it needs (text frames, client masking), so no package is added for it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.dashboards.browser import chromium
from tests.study.helpers import free_port


class _Socket:
    def __init__(self, url: str) -> None:
        m = re.fullmatch(r"ws://([^:/]+):(\d+)(/.*)", url)
        if m is None:
            raise ValueError(f"not a ws:// URL: {url!r}")
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"DevTools refused the WebSocket: {head[:200]!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        n = len(data)
        size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else \
            bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(bytes([0x81]) + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next text message, or None after ``timeout`` seconds without one."""
        self.sock.settimeout(timeout)
        try:
            while True:
                b1, b2 = self._need(2)
                n = b2 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", self._need(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", self._need(8))[0]
                payload = self._need(n)
                if b1 & 0x0F == 1:
                    return json.loads(payload)  # type: ignore[no-any-return]
        except socket.timeout:
            return None


class Browser:
    """``with Browser() as b: b.open(url); b.poll(expr, done, timeout)`` (or ``b.run(20); b.evaluate_everywhere(expr)``)."""

    def __init__(self, width: int = 1280, height: int = 1000) -> None:
        self.port = free_port()
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-cdp-")
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}",
             "--proxy-server=http://127.0.0.1:9", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=2) as r:
                    targets = json.load(r)
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium's DevTools did not answer within 60 s") from None
                time.sleep(0.2)
        page = next(t for t in targets if t["type"] == "page")
        self.ws = _Socket(page["webSocketDebuggerUrl"])
        self._id = 0
        self.frames: list[str] = []  # sessions of attached frames (out-of-process iframes)
        self.exceptions: list[str] = []
        self._call("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True})
        self._call("Runtime.enable")
        self._call("Page.enable")

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(msg)
        return self._id

    def _handle(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method == "Target.attachedToTarget":
            sid = msg["params"]["sessionId"]
            self.frames.append(sid)
            self._call("Runtime.enable", session=sid)
        elif method == "Runtime.exceptionThrown":
            d = msg["params"]["exceptionDetails"]
            self.exceptions.append(f"{d.get('text')} {(d.get('exception') or {}).get('description', '')}"[:500])

    def run(self, seconds: float) -> None:
        """Let the page (and its frames) run for ``seconds`` of real time, recording their exceptions."""
        end = time.time() + seconds
        while (left := end - time.time()) > 0:
            msg = self.ws.receive(min(left, 1.0))
            if msg is not None:
                self._handle(msg)

    def _result(self, want: int, timeout: float = 30) -> dict[str, Any]:
        end = time.time() + timeout
        while time.time() < end:
            msg = self.ws.receive(1.0)
            if msg is None:
                continue
            if msg.get("id") == want:
                return msg
            self._handle(msg)
        raise TimeoutError(f"no DevTools answer to call {want} within {timeout} s")

    def open(self, url: str) -> None:
        self._call("Page.navigate", {"url": url})

    def evaluate_everywhere(self, expression: str) -> list[Any]:
        """``expression``'s value in the page, then in each attached frame (errors as ``{"error": ...}``)."""
        out = []
        for session in [None, *self.frames]:
            msg = self._result(self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session))
            res = msg.get("result") or {}
            out.append({"error": res["exceptionDetails"].get("text")} if "exceptionDetails" in res
                       else (res.get("result") or {}).get("value"))
        return out

    def poll(self, expression: str, done: Callable[[list[Any]], bool], timeout: float) -> list[Any]:
        """:meth:`evaluate_everywhere` of ``expression`` every half second, the page running in between, until
        ``done`` holds of its values or ``timeout`` seconds have passed; the last values either way (the caller
        asserts on them, so a page that never gets there fails with what it showed last)."""
        end = time.time() + timeout
        while not done(values := self.evaluate_everywhere(expression)) and time.time() < end:
            self.run(0.5)
        return values

    def screenshot(self, path: Path) -> Path:
        msg = self._result(self._call("Page.captureScreenshot", {"format": "png"}))
        path.write_bytes(base64.b64decode(msg["result"]["data"]))
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.profile.cleanup()

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

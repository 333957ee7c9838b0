"""A local server that a signal stops: ``study ui``'s ``mlflow server`` and ``study dashboard --serve``.

Found as a new user would: closing the terminal (SIGHUP) or a SIGTERM ended ``study ui`` and left
its ``mlflow server`` running, orphaned, on the port; the next ``study ui`` then printed its address
as if all were well. Here SIGINT, SIGTERM and SIGHUP all stop the server and every process of its
group, and a port that is taken is a :class:`UsageError` (exit 2) before any address is printed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from study.common.errors import UsageError
from study.common.logs import open_server_log, tail

__all__ = ["LOCAL_HOSTS", "ServerStopped", "check_port", "run_server_process", "stop_on_signals", "warn_if_exposed"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # and SIGINT, which raises KeyboardInterrupt as usual
GRACE_S = 10.0  # s a stopped server gets to exit before SIGKILL


class ServerStopped(BaseException):
    """A stop signal arrived (SIGTERM, SIGHUP). Like KeyboardInterrupt, not an ``Exception``: no
    ``except Exception`` on the way (a failed look-up while the server starts) may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def check_port(host: str, port: int, flag: str = "--port") -> None:
    """Raise ``UsageError`` if ``port`` on ``host`` cannot be listened on (taken, or not ours to take)."""
    if not 1 <= port <= 65535:
        raise UsageError(f"{flag} must be in [1, 65535], got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"--host {host!r} is not an address of this machine ({e})") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and http.server bind
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is already in use (another server, or one left behind); "
                                 f"pass {flag} N with a free port, or stop what listens there") from None
            raise UsageError(f"cannot listen on {host}:{port} ({e.strerror}); pass another {flag} or --host") from None


def warn_if_exposed(host: str, what: str) -> None:
    if host not in LOCAL_HOSTS:
        print(f"warning: listening on {host} exposes the {what} beyond this machine", file=sys.stderr)


@contextlib.contextmanager
def stop_on_signals(on_signal: Callable[[str], bool] | None = None) -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`ServerStopped` in this block (SIGINT raises KeyboardInterrupt).

    ``on_signal(name)`` runs first, in the handler: what must happen even if a library on the way
    swallows the exception (a bare ``except:`` in code the main thread happens to be running). It
    returns whether to raise (not for a second Ctrl-C while the server is being stopped).
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        if on_signal is not None and not on_signal(signal.Signals(signum).name):
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise ServerStopped(signum)

    saved = {s: signal.signal(s, handler) for s in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL after ``GRACE_S``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
        os.killpg(proc.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def run_server_process(cmd: list[str], health_url: str, on_ready: Callable[[], None], *, log: Path | None = None,
                       start_timeout_s: float = 120.0) -> int:
    """Run ``cmd`` in its own process group until it exits or a stop signal comes; ``on_ready`` once ``health_url`` answers.

    The server's stdout and stderr go to ``log`` (appended), or to the terminal when it is None; should it
    fail to start, the end of its log is shown with the error.
    Exit status: the server's own when it ends by itself (2 when it ends before answering), 0 when stopped by a signal.
    A signal sends SIGTERM to the server's group at once, from the handler, and is remembered: should its
    exception be lost on the way, the server still ends, and so does this wait. A second signal
    (Ctrl-C again) kills the group at once instead of waiting out the grace period.
    """
    stopped: list[str] = []
    proc: subprocess.Popen[bytes] | None = None

    def on_signal(name: str) -> bool:
        first = not stopped
        stopped.append(name)
        if proc is not None:  # the first signal asks the server to stop; another one insists
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM if first else signal.SIGKILL)
        return first

    def stop() -> int:
        assert proc is not None
        print(f"\nstopping the server ({stopped[0] if stopped else 'SIGINT'})", file=sys.stderr, flush=True)
        _stop_group(proc)
        return 0

    def fail(why: str) -> int:
        print(f"error: the server {why}", file=sys.stderr)
        if log is not None:
            print(f"the end of its log ({log}):", *(f"  {line}" for line in tail(log, start)), sep="\n", file=sys.stderr)
        return 2

    with stop_on_signals(on_signal):
        out, start = open_server_log(log, cmd) if log is not None else (None, 0)
        try:
            proc = subprocess.Popen(cmd, start_new_session=True, stdout=out, stderr=subprocess.STDOUT if out else None)
        finally:
            if out is not None:
                out.close()  # the server holds its own copy
        try:
            deadline = time.monotonic() + start_timeout_s
            while not _answers(health_url):
                if stopped:
                    return stop()
                if proc.poll() is not None:
                    return fail(f"exited (status {proc.returncode}) before it answered on {health_url}")
                if time.monotonic() > deadline:
                    _stop_group(proc)
                    return fail(f"did not answer on {health_url} within {start_timeout_s:.0f} s")
                time.sleep(0.3)
            if not stopped:
                on_ready()
            while not stopped:
                try:
                    return proc.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    pass
            return stop()
        except (KeyboardInterrupt, ServerStopped):
            return stop()
        finally:
            if proc.poll() is None:  # any other exception: never leave the server behind
                _stop_group(proc)

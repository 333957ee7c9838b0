"""A server that fails to start: ``run_server_process`` says why with the end of the server's own log,
which it appends to the log file (earlier runs stay there, and are not shown again)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from study.commands.serving import run_server_process
from tests.study.helpers import free_port

FAILS = "import sys; print('line', 1); print('no such backend store: nowhere', file=sys.stderr); sys.exit(3)"


def test_a_server_that_exits_before_answering_is_exit_2_with_the_end_of_its_log(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "ui.log"
    log.write_text("an earlier run's line\n")
    cmd = [sys.executable, "-c", FAILS]
    status = run_server_process(cmd, f"http://127.0.0.1:{free_port()}/health", lambda: print("READY"), log=log)
    out, err = capfd.readouterr()
    assert status == 2 and "READY" not in out
    assert "error: the server exited (status 3) before it answered on http://127.0.0.1:" in err
    assert f"the end of its log ({log}):\n" in err
    assert "  line 1\n" in err and "  no such backend store: nowhere\n" in err, err  # its stdout and stderr
    assert "earlier run" not in err, err  # only this run's part
    text = log.read_text()
    assert text.startswith("an earlier run's line\n--- ") and "no such backend store: nowhere" in text and "line 1" in text, text
    assert "line 1" not in out + err.split("the end of its log")[0], "the server's output reached the terminal"

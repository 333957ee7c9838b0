"""The `study` command: help, and bad input ending in a clear message and exit code 2, before any work."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from study.cli import main
from tests.study.helpers import free_port, write_study


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "study.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_help_lists_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("launch", "trial", "ui", "presets"):
        assert cmd in r.stdout
    assert "torch" not in r.stderr


HEAVY = ("torch", "ray", "optuna", "mlflow", "numpy", "pandas", "plotly")


@pytest.mark.parametrize("argv", [["--help"], ["launch", "--help"], ["trial", "--help"], ["resume", "--help"]])
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    """``study --help`` is instant because it imports none of them (checked in sys.modules, not by timing)."""
    code = ("import sys\nfrom study.cli import main\nsys.argv = ['study', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in r.stdout, r.stdout[-500:] + r.stderr[-2000:]


def test_importing_the_cli_imports_no_heavy_library() -> None:
    code = f"import sys, study.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("args,needle", [
    (["trial", "--set", "lr=fast"], "lr must be a number, got 'fast'"),
    (["trial", "--set", "nope=1"], "unknown config key(s): 'nope'"),
    (["trial", "--set", "lr"], "--set expects key=value, got 'lr'"),
    (["trial", "--preset", "book-basline"], "did you mean 'book-baseline'"),
    (["trial", "--config", "/nonexistent.toml"], "config file '/nonexistent.toml' does not exist"),
    (["trial", "--data", "/nonexistent/images"], "/nonexistent/images"),
    (["launch", "--time-budget", "5 minutes please"], "5 minutes please"),
    (["launch", "--space", "/nonexistent.toml"], "/nonexistent.toml"),
    (["launch", "--gpus", "8"], "--gpus 8 but this machine has 0"),
    (["launch", "--cpus-per-trial", "0"], "--cpus-per-trial must be in (0, 1024], got 0"),
    (["launch", "--node-wait", "a while"], "--node-wait 'a while'"),
    (["ui", "missing-study", "--root", "/nonexistent"], "no study 'missing-study'"),
])
def test_bad_input_exits_2_with_a_message(args, needle, tmp_path, capsys):
    extra = {"launch": ["--root", str(tmp_path)], "trial": ["--out", str(tmp_path / "out")]}.get(args[0], [])
    code = main([*args, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*/study.json")), "nothing may be started for bad input"
    assert not (tmp_path / "out").exists(), "no output folder for bad input"


def test_bad_study_file_is_reported_before_ray_starts(tmp_path, capsys):
    import ray

    spec = tmp_path / "bad.toml"
    spec.write_text('name = "x"\n[search]\nmixup_alpha = { float = [0.1, 1.0], when = { mixup = true } }\n')
    was_running = ray.is_initialized()
    code = main(["launch", "--space", str(spec), "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(spec) in err and "mixup" in err
    assert ray.is_initialized() == was_running


def test_unreachable_mlflow_stops_the_launch_before_any_trial(tmp_path, small_data, capsys):
    import ray

    spec = write_study(tmp_path / "spec", small_data, name="nomlflow")
    was_running = ray.is_initialized()
    port = free_port()  # nothing listens there
    code = main(["launch", "--space", str(spec), "--root", str(tmp_path / "studies"), "--tracking-uri", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "--no-mlflow" in err
    assert ray.is_initialized() == was_running
    assert not (tmp_path / "studies" / "nomlflow" / "ray").exists()


def test_presets_lists_the_books_recipes(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("book-baseline", "book-progressive-tta", "book-mixup", "book-label-smoothing", "cpu-baseline"):
        assert name in out


def test_an_address_nothing_answers_at_is_a_quick_usage_error(tmp_path, small_data, capsys):

    spec = write_study(tmp_path / "spec", small_data, name="noray")
    port = free_port()  # nothing listens there
    t0 = time.time()
    code = main(["launch", "--space", str(spec), "--root", str(tmp_path / "studies"), "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"127.0.0.1:{port}" in err and "ray start --head" in err
    assert time.time() - t0 < 60, "ray.init alone waits for minutes; the launch must not"
    assert not (tmp_path / "studies" / "noray" / "study.json").exists()


def test_the_driver_imports_no_ray_before_it_chooses_rays_auth_mode() -> None:
    """Ray reads RAY_AUTH_MODE at its first import; the driver sets it in prepare_ray, so nothing the
    driver imports before that (launch, its checks, the clock, tracking, the spec) may import ray."""
    code = ("import sys\nimport study.driver.launch, study.driver.checks, study.tune.clock, study.tracking, study.spec\n"
            "print('RAY', 'ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "RAY False" in r.stdout, r.stdout + r.stderr


def test_study_trial_says_where_the_time_went_and_records_it(tmp_path, small_data, capsys):
    out = tmp_path / "out"
    code = main(["trial", "--preset", "tiny", "--data", str(small_data), "--set", "threads=1", "--set", "epochs=1",
                 "--set", f"data_dir={tmp_path / 'cache'}", "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads((out / "result.json").read_text())
    from trainable.timing import PARTS

    assert set(result["times"]) == set(PARTS) and result["times"]["train"] > 0
    line = next(x for x in printed.splitlines() if x.startswith("time: "))
    assert "train " in line and line.endswith(f"{result['wall_seconds']:.1f} s in all")

"""`study dashboard`: writes the study's page and prints its path; clear errors for what is not a study."""

from __future__ import annotations

from pathlib import Path

from study.cli import main
from tests.dashboards.builders import tables, trial, write_folder


def _root(tmp_path: Path) -> Path:
    write_folder(tmp_path / "studies" / "hand", tables([trial("train_trial_a", 0.5, params={"lr": 0.003})]))
    return tmp_path / "studies"


def test_writes_into_the_study_folder_by_default_and_prints_the_path(tmp_path: Path, capsys) -> None:
    root = _root(tmp_path)
    assert main(["dashboard", "--root", str(root)]) == 0  # the newest study
    out = capsys.readouterr().out
    page = root / "hand" / "dashboard.html"
    assert f"dashboard of study 'hand': {page}" in out and "Study hand" in page.read_text()
    other = tmp_path / "x" / "page.html"
    assert main(["dashboard", "hand", "--root", str(root), "--out", str(other)]) == 0
    assert other.is_file() and str(other) in capsys.readouterr().out
    assert main(["dashboard", str(root / "hand")]) == 0  # a study folder given as a path


def test_unknown_study_exits_2_naming_the_studies_there_are(tmp_path: Path, capsys) -> None:
    root = _root(tmp_path)
    assert main(["dashboard", "nope", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no study 'nope' under" in err and "known studies: hand" in err and "Traceback" not in err


def test_a_folder_that_is_not_a_study(tmp_path: Path, capsys) -> None:
    (tmp_path / "plain").mkdir()
    assert main(["dashboard", str(tmp_path / "plain")]) == 2
    assert "is not a study folder: it has no study.json" in capsys.readouterr().err
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "study.json").write_text("{not json")
    assert main(["dashboard", str(tmp_path / "broken")]) == 2
    assert "cannot be read" in capsys.readouterr().err

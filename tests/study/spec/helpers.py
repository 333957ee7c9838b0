"""What the study-file tests share: writing a study file, and the checks every bad file must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from study.common.errors import UsageError
from study.spec import StudyFileError, load_study_file

SEARCH_LR = 'lr = { float = [1e-3, 1e-2], log = true }\n'
# the built-in space's parameters, in file order (which is already dependency order); the size is not searched:
# its recipe would add a run per seed to a 10-minute demo (study/spec/default_space.toml)
DEFAULT_PARAMS = ["lr", "normalize", "mixup", "mixup_alpha", "label_smoothing", "progressive", "resize_start_scale",
                  "resize_frac", "resize_mode", "tta_n", "tta_beta"]


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_bad_file(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    """The file is refused with one message: the path, the key, the problem; the fix."""
    path = write(tmp_path, text)
    with pytest.raises(StudyFileError) as info:
        load_study_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert key in message, message
    assert fragment in message, message
    assert "; " in message  # problem; fix
    assert isinstance(info.value, UsageError)

"""What every layer of ``study/`` uses: usage errors, atomic files, Ctrl+C handling, console tables."""

from study.common.errors import UsageError
from study.common.files import ensure_free_space, ensure_writable, write_json
from study.common.interrupt import StudyInterrupted

__all__ = ["StudyInterrupted", "UsageError", "ensure_free_space", "ensure_writable", "write_json"]

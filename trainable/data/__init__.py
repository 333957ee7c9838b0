"""The data path: sources, the image-folder index, the decoded cache and the batch iterator.

See the "Data path" section of docs/ARCHITECTURE.md. Public names are imported lazily
(PEP 562), as in ``trainable/__init__.py``: the cache's decoding workers import
``trainable.data.cache`` and must not pay for torch, which only the batch iterator needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # real types for static checkers; at run time names resolve in __getattr__
    from trainable.data.batches import BatchSource, open_batches  # noqa: F401
    from trainable.data.cache import DecodedCache, build_cache  # noqa: F401
    from trainable.data.decode import decode_resized  # noqa: F401
    from trainable.data.errors import DataError  # noqa: F401
    from trainable.data.folder import LABEL_NOISE_LEVELS, DatasetIndex, scan_folder  # noqa: F401
    from trainable.data.loader import iter_batches, num_batches, plan_epoch  # noqa: F401
    from trainable.data.resident import resident_images  # noqa: F401
    from trainable.data.sources import ARCHIVES, Archive, default_data_dir, download_archive, prepare, resolve_source  # noqa: F401
    from trainable.data.synthetic import CLASSES, ensure_embedded  # noqa: F401


_EXPORTS = {
    "DataError": "trainable.data.errors",
    "CLASSES": "trainable.data.synthetic",
    "ensure_embedded": "trainable.data.synthetic",
    "DatasetIndex": "trainable.data.folder",
    "LABEL_NOISE_LEVELS": "trainable.data.folder",
    "scan_folder": "trainable.data.folder",
    "DecodedCache": "trainable.data.cache",
    "build_cache": "trainable.data.cache",
    "decode_resized": "trainable.data.decode",
    "iter_batches": "trainable.data.loader",
    "num_batches": "trainable.data.loader",
    "plan_epoch": "trainable.data.loader",
    "resident_images": "trainable.data.resident",
    "BatchSource": "trainable.data.batches",
    "open_batches": "trainable.data.batches",
    "ARCHIVES": "trainable.data.sources",
    "Archive": "trainable.data.sources",
    "default_data_dir": "trainable.data.sources",
    "download_archive": "trainable.data.sources",
    "prepare": "trainable.data.sources",
    "resolve_source": "trainable.data.sources",
    "check_source": "trainable.data.sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trainable.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

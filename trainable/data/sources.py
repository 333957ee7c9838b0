"""Data sources: a name or a path resolved to a folder with ``train/`` and ``val/``, and ``prepare``.

Names: ``embedded`` and ``embedded-large`` (generated here at CPU-demo and GPU scale, see
``synthetic.py``), and the fast.ai archives
``imagenette``, ``imagenette-320``, ``imagenette-160``, ``imagewoof``, ``imagewoof-320``,
``imagewoof-160`` (full size, shorter side 320 px, 160 px), downloaded into the data folder on
first use. Downloads stream with a progress bar, are checked against the archive's size and md5,
and are extracted in a temporary folder renamed when complete, under a file lock (``atomic.py``),
so concurrent trials download once and a broken download is never trusted.

Checksums: Imagenette's whole-file md5s are those torchvision's ``Imagenette`` checks (and the
README in shared/data/imagenette). For Imagewoof no whole-file md5 is published in the sources
at hand; fastai's ``fastai/data/checks.txt`` gives each archive's size and the md5 of its first
MiB, which is what is checked (it catches a truncated or different archive, not a flipped byte
past the first MiB). torchvision's ``download_url``/``extract_archive`` are not used: the first
cannot hide its progress bar or check a size, the second extracts tar members without the
``data`` filter (path traversal).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from trainable.data.atomic import build_once
from trainable.data.cache import DecodedCache, build_cache
from trainable.data.errors import DataError
from trainable.data.folder import scan_folder
from trainable.data.synthetic import VARIANTS, ensure_embedded

__all__ = [
    "ARCHIVES", "DEFAULT_MIRROR", "Archive", "default_data_dir", "download_archive", "prepare", "resolve_source",
    "source_names",
]

DEFAULT_MIRROR = "https://s3.amazonaws.com/fast-ai-imageclas/"
MIRROR_ENV = "XRESNET_STUDY_MIRROR"  # a base URL holding the archives, instead of DEFAULT_MIRROR
DATA_ENV = "XRESNET_STUDY_DATA"  # the data folder, instead of ~/.cache/xresnet-study
_HEAD = 1 << 20  # bytes hashed by fastai's head checksum


@dataclass(frozen=True)
class Archive:
    """One downloadable data set archive and what it must be."""

    filename: str  # under the mirror's base URL; it holds one folder named like it, e.g. imagenette2-160/
    size: int | None  # bytes, None if unknown
    md5: str | None  # of the whole file, where published
    head_md5: str | None = None  # of the first MiB (fastai's checks.txt scheme), where md5 is unknown

    @property
    def folder(self) -> str:
        """The folder the archive extracts to, and its name in the data folder."""
        return self.filename.removesuffix(".tgz").removesuffix(".tar.gz")


ARCHIVES: dict[str, Archive] = {
    "imagenette": Archive("imagenette2.tgz", 1_557_161_267, "fe2fc210e6bb7c5664d602c3cd71e612"),
    "imagenette-320": Archive("imagenette2-320.tgz", 341_663_724, "3df6f0d01a2c9592104656642f5e78a3"),
    "imagenette-160": Archive("imagenette2-160.tgz", 99_003_388, "e793b78cc4c9e9a4ccc0c1155377a412"),
    "imagewoof": Archive("imagewoof2.tgz", 1_343_715_595, None, "2cc1c1e36e20cb6fd24ffb978edcb487"),
    "imagewoof-320": Archive("imagewoof2-320.tgz", 328_387_740, None, "7a1fd92672a559a85de76e4810a20c21"),
    "imagewoof-160": Archive("imagewoof2-160.tgz", 92_612_825, None, "3559b194123981a540b87132dbda412f"),
}


def default_data_dir() -> Path:
    """``$XRESNET_STUDY_DATA``, else ``~/.cache/xresnet-study``: downloads, the embedded set, caches."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xresnet-study"


def source_names(archives: Mapping[str, Archive] | None = None) -> list[str]:
    """The names ``data`` may give instead of a folder: the embedded variants, then the archives."""
    return [*VARIANTS, *(ARCHIVES if archives is None else archives)]


def check_source(name_or_path: str, *, archives: Mapping[str, Archive] | None = None) -> None:
    """Fail fast (no download, no decoding) if ``name_or_path`` can never resolve."""
    archives = ARCHIVES if archives is None else archives
    if name_or_path in VARIANTS or name_or_path in archives or Path(name_or_path).expanduser().is_dir():
        return
    raise DataError(
        f"data source {name_or_path!r} is neither a known name nor an existing folder; use one of "
        f"{source_names(archives)}, or a folder path with train/<class>/ and val/<class>/ sub-folders"
    )


def resolve_source(
    name_or_path: str,
    data_dir: Path,
    *,
    archives: Mapping[str, Archive] | None = None,
    progress: bool = True,
) -> Path:
    """The folder of a data source: ``embedded[-large]``, an archive name (downloaded once), or a folder path.

    Names win over paths: a folder called ``imagenette`` in the working directory needs ``./``.
    ``archives`` replaces the table of downloadable archives (tests, private mirrors).
    """
    archives = ARCHIVES if archives is None else archives
    data_dir = Path(data_dir).expanduser()
    if name_or_path in VARIANTS:
        return ensure_embedded(data_dir, variant=name_or_path)
    if name_or_path in archives:
        return download_archive(archives[name_or_path], data_dir, progress=progress)
    check_source(name_or_path, archives=archives)
    return Path(name_or_path).expanduser()


def download_archive(archive: Archive, data_dir: Path, *, progress: bool = True) -> Path:
    """``data_dir/<archive.folder>``, downloaded from the mirror and extracted on first use."""
    final = Path(data_dir).expanduser() / archive.folder
    build_once(final, lambda tmp: _download_and_extract(archive, tmp, progress))
    return final


def _download_and_extract(archive: Archive, tmp: Path, progress: bool) -> None:
    """Download ``archive`` into ``tmp``, check it, and leave only its extracted folder's contents there."""
    if archive.md5 is None and archive.head_md5 is None:
        raise DataError(f"archive {archive.filename} has no md5 to check against; give it md5 or head_md5")
    free = shutil.disk_usage(tmp).free
    if archive.size is not None and free < 2.2 * archive.size:
        raise DataError(
            f"{tmp.parent} has {free / 2**30:.1f} GiB free; {archive.filename} needs about "
            f"{2.2 * archive.size / 2**30:.1f} GiB to download and extract; free space or pass another data_dir"
        )
    base = os.environ.get(MIRROR_ENV, "").strip() or DEFAULT_MIRROR
    url = base.rstrip("/") + "/" + archive.filename
    file = tmp / archive.filename
    md5, head_md5, size = _download(url, file, progress)
    problems = []
    if archive.size is not None and size != archive.size:
        problems.append(f"{size} bytes, expected {archive.size}")
    if archive.md5 is not None and md5 != archive.md5:
        problems.append(f"md5 {md5}, expected {archive.md5}")
    if archive.head_md5 is not None and head_md5 != archive.head_md5:
        problems.append(f"md5 of the first MiB {head_md5}, expected {archive.head_md5}")
    if problems:
        raise DataError(
            f"download of {url} is corrupt or another version ({'; '.join(problems)}); it was deleted. "
            f"Try again, or point {MIRROR_ENV} at a mirror with the original archive"
        )
    unpacked = tmp / ".unpacked"
    if not hasattr(tarfile, "data_filter"):
        raise DataError("safe tar extraction needs Python 3.10.12+, 3.11.4+ or 3.12+; upgrade Python")
    try:
        with tarfile.open(file) as tar:
            tar.extractall(unpacked, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise DataError(f"could not extract {url} ({type(e).__name__}: {e}); it was deleted, try again") from e
    file.unlink()
    inner = unpacked / archive.folder
    if not ((inner / "train").is_dir() and ((inner / "val").is_dir() or (inner / "valid").is_dir())):
        raise DataError(
            f"archive {url} does not hold {archive.folder}/train/ and {archive.folder}/val/ "
            f"(it holds {sorted(p.name for p in unpacked.iterdir())[:5]}); check the mirror"
        )
    for child in inner.iterdir():
        os.replace(child, tmp / child.name)
    shutil.rmtree(unpacked)


def _download(url: str, file: Path, progress: bool) -> tuple[str, str, int]:
    """Stream ``url`` to ``file``; returns (md5, md5 of the first MiB, bytes)."""
    from tqdm.auto import tqdm

    md5, head = hashlib.md5(), hashlib.md5()
    size = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(file, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, desc=f"downloading {file.name}", unit="B", unit_scale=True, disable=not progress) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    md5.update(chunk)
                    if size < _HEAD:
                        head.update(chunk[: _HEAD - size])
                    size += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as e:
        raise DataError(
            f"could not download {url} ({e}); check the network, set {MIRROR_ENV} to a base URL that holds "
            f"{file.name}, or pass the path of an extracted copy instead of the name"
        ) from e
    return md5.hexdigest(), head.hexdigest(), size


def prepare(
    name_or_path: str,
    presize: int,
    *,
    data_dir: Path | None = None,
    label_noise: int = 0,
    progress: bool = True,
) -> DecodedCache:
    """Resolve a source, index it and return its decoded cache at ``presize`` (built once per machine).

    The cache lives under ``data_dir/cache`` (``data_dir`` defaults to :func:`default_data_dir`).
    """
    data_dir = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    root = resolve_source(name_or_path, data_dir, progress=progress)
    index = scan_folder(root, label_noise)
    return build_cache(index, presize, data_dir / "cache", progress=progress)

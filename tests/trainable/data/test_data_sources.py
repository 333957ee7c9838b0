"""resolve_source, download_archive and prepare; downloads come from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import tarfile
import threading
from pathlib import Path
from typing import Iterator

import pytest

import trainable.data.sources as sources
from trainable.data import Archive, DataError, DecodedCache, default_data_dir, prepare, resolve_source


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """A local HTTP server on 127.0.0.1 serving the folder it yields, named in XRESNET_STUDY_MIRROR."""
    served = tmp_path / "mirror"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("XRESNET_STUDY_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/files")
    (served / "files").mkdir()
    yield served / "files", requests
    server.shutdown()
    thread.join()


def _fake_archive(make_folder, into: Path, name: str = "imagenette2-160") -> Path:
    """A tgz holding ``name/train/<class>``, ``name/val/<class>`` and a label table, like fast.ai's."""
    root = make_folder({"train/n01": 2, "train/n02": 2, "val/n01": 1, "val/n02": 1}, name=name)
    (root / "noisy_imagenette.csv").write_text("path,noisy_labels_0,noisy_labels_1,noisy_labels_5,noisy_labels_25,noisy_labels_50,is_valid\n")
    archive = into / f"{name}.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=name)
    return archive


def _entry(archive: Path, **override: object) -> Archive:
    data = archive.read_bytes()
    fields = {"filename": archive.name, "size": len(data), "md5": hashlib.md5(data).hexdigest()} | override
    return Archive(**fields)  # type: ignore[arg-type]


def _leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if not p.name.endswith(".lock")) if data_dir.exists() else []


def test_download_extracts_once(make_folder, mirror, tmp_path: Path) -> None:
    files, requests = mirror
    table = {"imagenette-160": _entry(_fake_archive(make_folder, files))}
    root = resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert root == tmp_path / "data" / "imagenette2-160"
    assert sorted(p.name for p in root.iterdir()) == ["noisy_imagenette.csv", "train", "val"]
    assert sorted(p.name for p in (root / "train").iterdir()) == ["n01", "n02"]
    assert _leftovers(tmp_path / "data") == ["imagenette2-160"]  # no archive, no temporary folder
    assert resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False) == root
    assert requests == ["/files/imagenette2-160.tgz"]


def test_head_md5_and_size_suffice_where_no_md5_is_published(make_folder, mirror, tmp_path: Path) -> None:
    files, _ = mirror
    archive = _fake_archive(make_folder, files, name="imagewoof2-160")
    head = hashlib.md5(archive.read_bytes()[: 1 << 20]).hexdigest()
    table = {"imagewoof-160": _entry(archive, md5=None, head_md5=head)}
    assert (resolve_source("imagewoof-160", tmp_path / "data", archives=table, progress=False) / "val").is_dir()


@pytest.mark.parametrize("override, message", [
    ({"md5": "0" * 32}, "md5 [0-9a-f]{32}, expected 0{32}"),
    ({"size": 12}, r"\d+ bytes, expected 12"),
    ({"md5": None, "head_md5": "f" * 32}, "md5 of the first MiB"),
])
def test_corrupt_download_is_an_error_and_leaves_nothing(make_folder, mirror, tmp_path: Path, override, message) -> None:
    files, _ = mirror
    table = {"imagenette-160": _entry(_fake_archive(make_folder, files), **override)}
    with pytest.raises(DataError, match=f"download of http://127.0.0.1:.*imagenette2-160.tgz is corrupt .*{message}"):
        resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert _leftovers(tmp_path / "data") == []


def test_archive_that_is_no_tar_is_an_error_and_leaves_nothing(mirror, tmp_path: Path) -> None:
    files, _ = mirror
    (files / "imagenette2-160.tgz").write_bytes(b"not a tar archive, but the md5 matches")
    table = {"imagenette-160": _entry(files / "imagenette2-160.tgz")}
    with pytest.raises(DataError, match="could not extract"):
        resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert _leftovers(tmp_path / "data") == []


def test_archive_with_another_layout_is_an_error(make_folder, mirror, tmp_path: Path) -> None:
    files, _ = mirror
    archive = _fake_archive(make_folder, files, name="something-else")
    table = {"imagenette-160": _entry(archive.rename(files / "imagenette2-160.tgz"))}
    with pytest.raises(DataError, match=r"does not hold imagenette2-160/train/ .*something-else"):
        resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert _leftovers(tmp_path / "data") == []


def test_missing_file_on_the_mirror_names_the_fix(mirror, tmp_path: Path) -> None:
    table = {"imagenette-160": Archive("imagenette2-160.tgz", 10, "0" * 32)}
    with pytest.raises(DataError, match="could not download .*404.*XRESNET_STUDY_MIRROR"):
        resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert _leftovers(tmp_path / "data") == []


def test_real_table_covers_the_six_names() -> None:
    assert sorted(sources.ARCHIVES) == sorted(
        ["imagenette", "imagenette-320", "imagenette-160", "imagewoof", "imagewoof-320", "imagewoof-160"]
    )
    for entry in sources.ARCHIVES.values():
        assert entry.size and (entry.md5 or entry.head_md5)


def test_paths_names_and_unknown_sources(make_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_folder({"train/a": 1, "val/a": 1})
    assert resolve_source(str(root), tmp_path) == root
    calls = []
    monkeypatch.setattr(sources, "ensure_embedded", lambda data_dir: calls.append(data_dir) or data_dir / "e")
    assert resolve_source("embedded", tmp_path) == tmp_path / "e" and calls == [tmp_path]
    with pytest.raises(DataError, match=r"'imagenet' is neither .*'embedded', 'imagenette'.*train/<class>/ and val/<class>/"):
        resolve_source("imagenet", tmp_path)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XRESNET_STUDY_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("XRESNET_STUDY_DATA")
    assert default_data_dir() == Path.home() / ".cache" / "xresnet-study"


def test_prepare_chains_source_index_and_cache(small_embedded: Path, tmp_path: Path) -> None:
    cache = prepare(str(small_embedded), 24, data_dir=tmp_path, label_noise=25, progress=False)
    assert isinstance(cache, DecodedCache) and cache.presize == 24 and cache.label_noise == 25
    assert cache.folder.parent == tmp_path / "cache" and cache.n("train") == 60

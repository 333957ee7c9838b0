"""resolve_source, download_archive and prepare; downloads come from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import trainable.data.sources as sources
from trainable.data import Archive, DataError, DecodedCache, default_data_dir, prepare, resolve_source


class MirrorControl:
    """How the local mirror misbehaves: wait ``delay`` s before answering, or send ``stall_after`` bytes and hang."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.stall_after: int | None = None
        self.release = threading.Event()  # set at teardown: stalled answers end


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, control: MirrorControl) -> Iterator[tuple[Path, list[str]]]:
    served = tmp_path / "mirror"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            requests.append(self.path)

        def do_GET(self) -> None:
            time.sleep(control.delay)
            if control.stall_after is None:
                return super().do_GET()
            source = self.send_head()  # headers announce the whole file
            if source is not None:
                with source:
                    self.wfile.write(source.read(control.stall_after))
                    self.wfile.flush()
                    control.release.wait(60)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("XRESNET_STUDY_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/files")
    (served / "files").mkdir()
    try:
        yield served / "files", requests
    finally:
        control.release.set()
        server.shutdown()
        thread.join()


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str]]]:
    """A local HTTP server on 127.0.0.1 serving the folder it yields, named in XRESNET_STUDY_MIRROR."""
    yield from _serve(tmp_path, monkeypatch, MirrorControl())


@pytest.fixture
def slow_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, list[str], MirrorControl]]:
    """``mirror`` with a :class:`MirrorControl` to slow or stall its answers."""
    control = MirrorControl()
    for files, requests in _serve(tmp_path, monkeypatch, control):
        yield files, requests, control


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
    monkeypatch.setattr(sources, "ensure_embedded", lambda data_dir, variant: calls.append((data_dir, variant)) or data_dir / "e")
    assert resolve_source("embedded", tmp_path) == tmp_path / "e" and calls == [(tmp_path, "embedded")]
    assert resolve_source("embedded-large", tmp_path) == tmp_path / "e" and calls[1] == (tmp_path, "embedded-large")
    assert sources.source_names()[:3] == ["embedded", "embedded-large", "imagenette"]
    unknown = r"'imagenet' is neither .*'embedded', 'embedded-large', 'imagenette'.*train/<class>/ and val/<class>/"
    with pytest.raises(DataError, match=unknown):
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


# -- several processes at once, and processes killed midway -----------------------------------

def _child_env() -> dict[str, str]:
    """The environment of a child Python: this one's (with XRESNET_STUDY_MIRROR), importing this checkout."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]), *sys.path])}


_PREPARE_CHILD = """
import json, logging, sys, time
from pathlib import Path
import trainable.data.sources as sources
from trainable.data import Archive, prepare
filename, size, md5, data_dir, ready, go = sys.argv[1:7]
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
sources.ARCHIVES["imagenette-160"] = Archive(filename, int(size), md5)  # the mirror's archive under the real name
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
cache = prepare("imagenette-160", 16, data_dir=Path(data_dir), progress=False)
print(json.dumps({"folder": str(cache.folder), "root": cache.meta["source_root"], "n": cache.n("train"),
                  "sum": int(cache.pixels.sum())}))
"""


def test_concurrent_trials_download_extract_and_decode_once(make_folder, slow_mirror, tmp_path: Path) -> None:
    """Issue 3: trials starting at once on one machine; one downloads, extracts and decodes, the rest wait."""
    files, requests, control = slow_mirror
    control.delay = 1.0  # the download takes long enough for every child to find the lock taken
    entry = _entry(_fake_archive(make_folder, files))
    data_dir, go = tmp_path / "data", tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _PREPARE_CHILD, entry.filename, str(entry.size), str(entry.md5), str(data_dir),
             str(tmp_path / f"ready{k}"), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
        )
        for k in range(3)
    ]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready{k}").exists() for k in range(3)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [child.communicate(timeout=60) for child in children]
    for child, (_, err) in zip(children, outputs):
        assert child.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    assert len({json.dumps(r) for r in results}) == 1  # the same cache folder, the same pixels
    assert results[0]["root"] == str((data_dir / "imagenette2-160").resolve()) and results[0]["n"] == 4
    assert requests == ["/files/imagenette2-160.tgz"]  # one download
    builds = (data_dir / "cache" / "builds.jsonl").read_text().splitlines()
    assert len(builds) == 1  # one decoding
    waited = [err for _, err in outputs if re.search(r"waiting for another process to finish building \S*imagenette2-160$", err, re.M)]
    assert waited  # at least one child found the download's lock taken and waited on it
    assert _leftovers(data_dir) == ["cache", "imagenette2-160"]
    assert [p.name for p in (data_dir / "cache").iterdir() if ".tmp-" in p.name] == []


_RESOLVE_CHILD = """
import sys
from pathlib import Path
from trainable.data import Archive, resolve_source
filename, size, md5, data_dir = sys.argv[1:5]
resolve_source("imagenette-160", Path(data_dir), archives={"imagenette-160": Archive(filename, int(size), md5)}, progress=False)
"""


def test_download_killed_midway_is_never_trusted(make_folder, slow_mirror, tmp_path: Path) -> None:
    files, requests, control = slow_mirror
    archive = _fake_archive(make_folder, files)
    entry = _entry(archive)
    control.stall_after = entry.size // 2  # type: ignore[operator]
    data_dir = tmp_path / "data"
    child = subprocess.Popen(
        [sys.executable, "-c", _RESOLVE_CHILD, entry.filename, str(entry.size), str(entry.md5), str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
    )
    deadline = time.monotonic() + 30
    while not list(data_dir.glob(".imagenette2-160.tmp-*/imagenette2-160.tgz")):  # the download has begun
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the child never started downloading: {child.communicate()[1]!r}")
        time.sleep(0.01)
    time.sleep(0.2)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    assert not (data_dir / "imagenette2-160").exists()  # half an archive is never under the final name
    assert [p.name for p in data_dir.iterdir() if ".tmp-" in p.name]  # it lies hidden, to be cleared
    control.stall_after = None
    table = {"imagenette-160": entry}
    root = resolve_source("imagenette-160", data_dir, archives=table, progress=False)  # the lock died with its holder
    assert sorted(p.name for p in (root / "train").iterdir()) == ["n01", "n02"]
    assert _leftovers(data_dir) == ["imagenette2-160"] and len(requests) == 2


# -- bad disks --------------------------------------------------------------------------------

def test_too_little_space_for_a_download_fails_before_downloading(make_folder, mirror, tmp_path: Path, monkeypatch) -> None:
    files, requests = mirror
    table = {"imagenette-160": _entry(_fake_archive(make_folder, files))}
    monkeypatch.setattr(sources.shutil, "disk_usage", lambda _: type("U", (), {"free": 100})())
    with pytest.raises(DataError, match=r"has 0.0 GiB free; imagenette2-160.tgz needs about .* GiB .*free space or pass another data_dir"):
        resolve_source("imagenette-160", tmp_path / "data", archives=table, progress=False)
    assert requests == [] and _leftovers(tmp_path / "data") == []


def test_unwritable_data_dir_is_a_clear_error_before_work(make_folder, mirror, tmp_path: Path) -> None:
    files, requests = mirror
    table = {"imagenette-160": _entry(_fake_archive(make_folder, files))}
    (tmp_path / "a_file").write_text("")  # a file where the data folder should be: mkdir fails like on a read-only disk
    with pytest.raises(DataError, match=r"cannot create .*imagenette2-160: .*a_file/data is not a writable folder .*data_dir"):
        resolve_source("imagenette-160", tmp_path / "a_file" / "data", archives=table, progress=False)
    with pytest.raises(DataError, match=r"cannot create .*embedded-v2-seed0: .*is not a writable folder"):
        resolve_source("embedded", tmp_path / "a_file" / "data")
    assert requests == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_data_dir_is_a_clear_error_before_work(make_folder, mirror, tmp_path: Path) -> None:
    files, requests = mirror
    table = {"imagenette-160": _entry(_fake_archive(make_folder, files))}
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(DataError, match="is not a writable folder"):
        resolve_source("imagenette-160", locked, archives=table, progress=False)
    assert requests == []

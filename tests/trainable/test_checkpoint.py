import torch

from trainable.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def test_save_keeps_last_and_loads(tmp_path):
    for e in range(5):
        save_checkpoint(tmp_path, e, {"epoch": e, "t": torch.arange(3) * e}, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["epoch-00003.pt", "epoch-00004.pt"]
    last = latest_checkpoint(tmp_path)
    assert last is not None and last.name == "epoch-00004.pt"
    state = load_checkpoint(last)
    assert state["epoch"] == 4 and torch.equal(state["t"], torch.tensor([0, 4, 8]))


def test_partial_writes_are_never_trusted(tmp_path):
    save_checkpoint(tmp_path, 0, {"epoch": 0})
    (tmp_path / ".tmp-abc.pt").write_bytes(b"half a checkpoint")
    (tmp_path / "epoch-00009.pt.partial").write_bytes(b"junk")
    assert latest_checkpoint(tmp_path).name == "epoch-00000.pt"


def test_latest_of_missing_folder(tmp_path):
    assert latest_checkpoint(tmp_path / "nope") is None
    assert latest_checkpoint(None) is None


class _Payload:
    """Not a tensor nor a plain value: unpickling it would run code."""


def test_load_refuses_anything_but_tensors_and_plain_values(tmp_path):
    import pickle

    import pytest

    save_checkpoint(tmp_path, 0, {"epoch": 0, "payload": _Payload()})
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(latest_checkpoint(tmp_path))

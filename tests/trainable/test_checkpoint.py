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


def test_the_writer_copies_the_state_when_submitted_and_writes_it_in_the_background(tmp_path):
    from trainable.checkpoint import CheckpointWriter

    weights = torch.arange(4.0)
    with CheckpointWriter(tmp_path, keep=2) as writer:
        pending = writer.submit(0, {"epoch": 0, "w": weights, "history": [{"epoch": 0}]})
        weights += 100  # the next epoch's training: the checkpoint holds the state as submitted
        path = pending.wait(timeout=30)
    assert path == tmp_path / "epoch-00000.pt" and pending.done()
    state = load_checkpoint(path)
    assert torch.equal(state["w"], torch.arange(4.0)) and state["history"] == [{"epoch": 0}]
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_consumer_links_each_checkpoint_before_a_later_write_can_remove_it(tmp_path):
    """keep=1 removes every older checkpoint, but each one's consumer (Tune's report) got it first."""
    from trainable.checkpoint import CheckpointWriter

    links = tmp_path / "links"
    links.mkdir()
    folder = tmp_path / "ckpt"
    with CheckpointWriter(folder, keep=1) as writer:
        for e in range(3):
            writer.submit(e, {"epoch": e}).on_written(lambda p: (links / p.name).hardlink_to(p))
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-00002.pt"]
    assert [load_checkpoint(links / f"epoch-{e:05d}.pt")["epoch"] for e in range(3)] == [0, 1, 2]
    done = writer.submit(3, {"epoch": 3})
    done.wait(timeout=30)
    seen = []
    done.on_written(seen.append)  # already written: called at once
    writer.close()
    assert seen == [folder / "epoch-00003.pt"]


def test_a_failed_write_is_raised_on_the_training_thread_at_the_next_submit(tmp_path):
    import pytest

    from trainable.checkpoint import CheckpointWriter

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    writer = CheckpointWriter(blocker / "ckpt")  # a folder under a file: cannot be made
    pending = writer.submit(0, {"epoch": 0})
    with pytest.raises(OSError):
        pending.wait(timeout=30)
    with pytest.raises(OSError):
        writer.submit(1, {"epoch": 1})

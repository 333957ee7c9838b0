"""Where one trial's wall time goes, outside any study: ``run_trial`` with checkpoints, timed (issue 17).

    .venv/bin/python bench/trial_time.py                        # the demo's base trial (cpu-baseline), 1 thread
    .venv/bin/python bench/trial_time.py --set tta_n=4 --repeat 2
    PYTHONPATH=<an older checkout> .venv/bin/python bench/trial_time.py    # the same for another version

Prints, per run: the wall time, the training steps' seconds (Σ of the epochs' ``epoch_seconds``),
the rest, and the trial's own breakdown (``result.times``) where the version records one. Run it
with another checkout first on ``PYTHONPATH`` to compare versions on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="cpu-baseline")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    from trainable.presets import preset
    from trainable.train import run_trial

    overrides: dict[str, str] = {"threads": "1"}
    overrides.update(dict(kv.split("=", 1) for kv in args.set))
    cfg = preset(args.preset).replace(**overrides)
    import trainable

    print(f"trainable from {Path(trainable.__file__).parent}; {args.preset} {overrides}", flush=True)
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as ckpt:
            t0 = time.perf_counter()
            r = run_trial(cfg, checkpoint_dir=ckpt)
            wall = time.perf_counter() - t0
        train = sum(m["epoch_seconds"] for m in r.history)
        row = {"run": i, "wall_s": round(wall, 2), "epochs_s": round(train, 2), "rest_s": round(wall - train, 2),
               "rest_share": round((wall - train) / wall, 3)}
        times = getattr(r, "times", None)
        if times is not None:
            row["times"] = {k: round(v, 2) for k, v in times.to_dict().items()}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

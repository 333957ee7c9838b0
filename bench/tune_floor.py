"""The floor under the study overhead: what Ray Tune alone costs per trial on this machine.

Issue 4's goal is < 0.3 s of overhead per trial for a study of 16 trials of 0.5 s of work
(``bench/study_overhead.py`` measures the study). This measures the same shape of work with the
study's machinery taken away, piece by piece, so the floor set by the components the issue
prescribes (Ray Tune with reused actors, Optuna) is known:

* ``bare``: a function trainable that sleeps 0.5 s over 4 ``tune.report`` calls; no checkpoints,
  no searcher, no scheduler, no callbacks, no MLflow; ``reuse_actors=True``, 2 at a time;
* ``checkpoints``: the same, with a small checkpoint on every report (as the study's trials do, for
  retries and resume; ``CheckpointConfig(num_to_keep=1)``);
* ``optuna``: the same, with checkpoints and ``OptunaSearch`` (in-memory storage, TPE);
* ``optuna-sqlite``: the same, with the Optuna study in an RDB storage (SQLite), as study folders
  kept it before format 4 (the study now keeps a ``JournalStorage`` file: docs/SCALING.md);
* ``optuna-sqlite-cb``: the same, with one Tune ``Callback`` that does nothing. Any study that
  watches its trials passes one, and then Ray Tune 2.60 imports its MLflow, W&B, Comet and Aim
  integrations to count the callbacks for its usage tags, usage stats off or not (``tune.run`` ->
  ``ray.air._internal.usage.tag_callbacks``): ``import mlflow`` inside the fit, about 0.5 s here.

    overhead/trial = (wall time - 16 x 0.5 s / 2) / 16

Two clocks: ``fit``, ``Tuner.fit`` alone; and ``search``, from the searcher's storage to the end of
the fit (the SQLite storage, the first of which imports SQLAlchemy and alembic and creates the
schema, the ``OptunaSearch``, the ``Tuner``, the fit): the span that ``bench/study_overhead.py``
times for the study (its ``run_search``), so the like-for-like floor. Ray is started and the
modules are imported before both clocks, as ``bench/study_overhead.py`` does for the study.
Each case runs in a fresh process. Figures are printed, not asserted.

    .venv/bin/python bench/tune_floor.py [--trials 16] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORK_S = 0.5
REPORTS = 4
CASES = ("bare", "checkpoints", "optuna", "optuna-sqlite", "optuna-sqlite-cb")


def _trainable(config: dict) -> None:
    from ray import tune

    ckpt = config.get("_ckpt")
    for i in range(REPORTS):
        time.sleep(WORK_S / REPORTS)
        checkpoint = None
        if ckpt:
            d = tempfile.mkdtemp()
            Path(d, "state.json").write_text(json.dumps({"i": i}))
            checkpoint = tune.Checkpoint.from_directory(d)
        tune.report({"acc": config["x"] * (i + 1), "i": i}, checkpoint=checkpoint)


def one(case: str, trials: int) -> dict[str, float]:
    import logging

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    import ray
    from ray import tune

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    for name in ("ray.tune", "ray.train", "ray.air"):
        logging.getLogger(name).setLevel(logging.ERROR)
    storage = tempfile.mkdtemp(prefix="tune-floor-")
    search_alg = None
    param_space: dict = {"x": tune.uniform(0, 1), "_ckpt": case != "bare"}
    if case.startswith("optuna"):
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    t_search = time.perf_counter()
    if case.startswith("optuna"):
        kwargs = {}
        if case.startswith("optuna-sqlite"):
            db = Path(storage) / "optuna.db"
            kwargs = {"storage": optuna.storages.RDBStorage(f"sqlite:///{db}"), "study_name": "floor"}
        search_alg = OptunaSearch(metric="acc", mode="max", sampler=optuna.samplers.TPESampler(seed=0), **kwargs)
    tuner = tune.Tuner(
        tune.with_resources(_trainable, {"cpu": 1}),
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=2, reuse_actors=True, search_alg=search_alg),
        run_config=tune.RunConfig(storage_path=storage, verbose=0, checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                                  callbacks=[tune.Callback()] if case.endswith("-cb") else None),
    )
    t_fit = time.perf_counter()
    tuner.fit()
    end = time.perf_counter()
    ray.shutdown()
    return {"wall": end - t_fit, "search": end - t_search}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.trials)))
        return
    ideal = args.trials * WORK_S / 2
    print(f"Ray Tune floor: {args.trials} trials x {WORK_S} s over {REPORTS} reports, 2 at a time, reuse_actors; "
          f"ideal {ideal:.1f} s; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"{'case':<16} {'fit':>7} {'overhead/trial':>15}   {'search':>7} {'overhead/trial':>15}  (search: storage, searcher, Tuner, fit)")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    for case in CASES:
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--one", case, "--trials", str(args.trials)],
                                 capture_output=True, text=True, env=env)
            line = [s for s in out.stdout.splitlines() if s.startswith("{")]
            if out.returncode != 0 or not line:
                print(f"{case:<16} failed:\n{out.stderr[-2000:]}")
                continue
            got = json.loads(line[-1])
            print(f"{case:<16} {got['wall']:6.2f}s {(got['wall'] - ideal) / args.trials:14.3f}s   "
                  f"{got['search']:6.2f}s {(got['search'] - ideal) / args.trials:14.3f}s", flush=True)


if __name__ == "__main__":
    main()

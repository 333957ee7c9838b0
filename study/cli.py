"""The ``study`` command.

Heavy imports (torch, ray, optuna, mlflow) happen inside the sub-commands, so ``study --help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from study.common.errors import UsageError
from study.common.interrupt import StudyInterrupted

__all__ = ["main", "build_parser"]

_EPILOG = """\
examples:
  study launch                              demo study: embedded data, CPU if no GPU, a few minutes
  study launch --gpus 8 --time-budget 2h --space chapter7.toml
  study resume                              continue the newest study after Ctrl+C or a crash
  study ui                                  MLflow UI of the newest study
  study sync                                send to MLflow what it missed while unreachable (newest study)
  study dashboard                           the newest study's dashboard: one HTML file (--serve to serve it)
  study trial                               a ~1-minute CPU trial on the embedded data set
  study trial --preset cpu-mixup --set mixup_alpha=0.2
  study trial --preset book-progressive-tta --data imagenette --set device=cuda
  study trial --data ~/pets --set size=128 --set presize=192
  study presets                             list the named recipes
"""


def build_parser() -> argparse.ArgumentParser:
    from trainable.presets import DEFAULT_PRESET  # plain data: no torch

    parser = argparse.ArgumentParser(
        prog="study",
        description="Which of fastbook chapter 7's techniques train the best xresnet from scratch, "
        "within a compute budget? Train one trial, or search with Optuna on Ray Tune.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser(
        "trial",
        help="run one trial in-process (no Ray), for debugging",
        description="Run one trial in this process, without Ray: progress bar, per-epoch table, and "
        "config.json / epochs.jsonl / result.json plus per-epoch checkpoints in the output folder. "
        "Running it again with the same --out resumes from the last checkpoint.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--preset", metavar="NAME", help=f"named recipe to start from (see `study presets`; default {DEFAULT_PRESET})")
    t.add_argument("--config", metavar="FILE", help="TOML file of config keys (and optionally `preset = NAME`)")
    t.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="sets",
                   help="override one config key; repeatable (e.g. --set lr=1e-3 --set tta_n=4)")
    t.add_argument("--data", metavar="NAME|PATH",
                   help="embedded (default), imagenette[-320|-160], imagewoof[-320|-160], or a folder with train/ and val/")
    t.add_argument("--out", metavar="DIR", help="output folder (default runs/trial-YYYYmmdd-HHMMSS)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars (the epoch table stays)")
    t.add_argument("--print-config", action="store_true", help="print the resolved config and exit")

    la = sub.add_parser(
        "launch",
        help="run an Optuna search as Ray Tune trials under a time budget (the main job)",
        description="Search chapter 7's techniques (normalization, progressive resizing, TTA, mixup, label "
        "smoothing, learning rate...) with Optuna's TPE sampler, one Ray Tune trial per GPU (or per CPU), "
        "ASHA early stopping, within a wall-clock budget; the book's recipes run first as seed trials, the "
        "top configurations are re-run with fresh seeds at the end, and every trial is an MLflow run. "
        "With no arguments: a demo study on the embedded data set, on CPU when there is no GPU.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    la.add_argument("--space", metavar="FILE",
                    help="study file (TOML) with base config, search space, budget, objectives; default: the built-in chapter-7 space")
    la.add_argument("--name", help="study name (MLflow experiment, Optuna study, folder); default from the study file, time-stamped")
    la.add_argument("--seed", type=int, help="study seed (sampler and trials)")
    la.add_argument("--time-budget", metavar="DURATION", help="wall clock for the whole study, e.g. 90s, 10m, 2h, 1h30m")
    la.add_argument("--max-trials", type=int, metavar="N", help="stop after N search trials (0 = only the budget limits)")
    la.add_argument("--gpus", type=int, metavar="N", help="GPUs of this machine to use (default: all)")
    la.add_argument("--cpus", type=int, metavar="N", help="CPUs of this machine to use (default: all)")
    la.add_argument("--cpus-per-trial", type=float, metavar="K", help="CPUs per trial (default: 1 on CPU; CPUs/GPUs with GPUs)")
    la.add_argument("--gpus-per-trial", type=float, metavar="F", help="GPUs per trial, fractional allowed (default: 1 when there are GPUs)")
    la.add_argument("--address", metavar="ADDR", help="join this existing Ray cluster instead of starting one (e.g. auto, ray://host:10001)")
    la.add_argument("--node-wait", metavar="DURATION",
                    help=("on a cluster: how long a phase waits, after a node is lost, for a node that can host a trial before "
                          "it ends on what it has (default 5m)"))
    la.add_argument("--root", default="studies", metavar="DIR", help="folder that holds study folders (default: studies)")
    la.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else SQLite in the study folder)")
    la.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    la.add_argument("--confirm-top", type=int, metavar="K", help=("re-run the top K configurations with fresh seeds "
                                                                  "(default: the study file's confirm_top, else 3; the built-in study's is 1)"))
    la.add_argument("--confirm-seeds", type=int, metavar="S", help=("fresh seeds per confirmed configuration, the same for all of them and "
                                                                    "the baseline, so runs pair (default: the study file's confirm_seeds, else 3)"))
    la.add_argument("--data-dir", metavar="DIR", help="downloads and decoded caches (default: $XRESNET_STUDY_DATA or ~/.cache/xresnet-study)")

    re = sub.add_parser(
        "resume",
        help="continue an interrupted study (Ctrl+C, a killed driver, a lost machine)",
        description="Continue a study that was interrupted: finished trials are kept, interrupted trials "
        "continue from their last epoch checkpoint in the same MLflow run, the Optuna sampler continues from "
        "every finished trial, and the time budget counts the time already spent. The study runs with the "
        "options it was launched with.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    re.add_argument("study", nargs="?", help="study name (default: the newest study under --root)")
    re.add_argument("--root", default="studies", metavar="DIR", help="folder that holds study folders (default: studies)")
    re.add_argument("--address", metavar="ADDR", help="join this Ray cluster (default: as launched)")

    ui = sub.add_parser("ui", help="start the MLflow UI for a study on 127.0.0.1",
                        description="Start `mlflow server` on 127.0.0.1 for a study's tracking store and print its address.")
    ui.add_argument("study", nargs="?", help="study name (default: the newest study under --root)")
    ui.add_argument("--root", default="studies", metavar="DIR")
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; anything else exposes the UI)")
    ui.add_argument("--verbose", action="store_true",
                    help="show the server's own output (start-up lines, warnings, requests) here instead of in STUDY/ui.log")

    sy = sub.add_parser(
        "sync", help="send to MLflow what a study's trial records hold and MLflow lacks",
        description="Each trial keeps its own record in the study folder (records/). If MLflow was unreachable "
        "during the study, this sends what is missing: runs, params, each epoch's metrics, final metrics, "
        "artifacts and statuses, never twice. Exit 1 (run it again later) if the server still does not answer.",
    )
    sy.add_argument("study", nargs="?", help="study name (default: the newest study under --root)")
    sy.add_argument("--root", default="studies", metavar="DIR")
    sy.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: the one the study was launched with)")

    da = sub.add_parser(
        "dashboard", help="write a study's dashboard (one HTML file) and print its path",
        description="Write the study's dashboard — the answer, technique effects against seed noise, importance, TTA, "
        "cost, learning curves, timeline, history, ablation — as one self-contained HTML file (no network needed to "
        "open it), by default <study folder>/dashboard.html, from the study folder's own records (MLflow need not be "
        "up; a running or interrupted study shows what exists). --serve also serves it on 127.0.0.1.",
    )
    da.add_argument("study", nargs="?", help="study name under --root, or a study folder (default: the newest study under --root)")
    da.add_argument("--root", default="studies", metavar="DIR")
    da.add_argument("--out", metavar="FILE", help="where to write it (default: dashboard.html in the study folder)")
    da.add_argument("--serve", action="store_true", help="then serve it until Ctrl-C")
    da.add_argument("--port", type=int, default=8050, help="with --serve (default 8050)")
    da.add_argument("--host", default="127.0.0.1", help="with --serve: address to listen on (default 127.0.0.1; anything else exposes it)")

    p = sub.add_parser("presets", help="list the named recipes", description="List the named recipes and what they set.")
    p.add_argument("name", nargs="?", help="show one preset's resolved config")
    return parser


def _cmd_trial(args: argparse.Namespace) -> int:
    from study.commands.overrides import resolve_config
    from trainable.presets import DEFAULT_PRESET

    config = resolve_config(args.preset, args.config, args.sets, args.data, default_preset=DEFAULT_PRESET)
    if args.print_config:
        for k, v in config.to_dict().items():
            print(f"{k} = {v!r}")
        return 0
    out = Path(args.out) if args.out else Path("runs") / time.strftime("trial-%Y%m%d-%H%M%S")
    from study.commands.trial import run

    print(f"trial: {config.model} on {config.data}, {config.total_epochs} epochs, schedule "
          f"{_schedule_text(config)}; records in {out}/", flush=True)
    result = run(config, out, progress=not args.no_progress)
    line = f"accuracy {result['accuracy']:.4f}"
    if result["accuracy_tta"] is not None:
        line += f", with TTA ({config.tta_n} passes) {result['accuracy_tta']:.4f}"
    line += (f"; top-5 {result['top5']:.4f}; trained in {result['train_seconds']:.1f} s at "
             f"{result['images_per_s']:.0f} img/s on {result['device']}; "
             f"inference {result['infer_ms_per_image']:.2f} ms/image")
    if result["infer_ms_per_image_tta"] is not None:
        line += f" ({result['infer_ms_per_image_tta']:.2f} with TTA)"
    print(line)
    times = result.get("times") or {}
    if times:  # where the wall time went (result.json's "times")
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(times.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        print(f"time: {parts}; {result['wall_seconds']:.1f} s in all")
    print(f"wrote {out / 'result.json'}")
    return 0


def _schedule_text(config) -> str:  # type: ignore[no-untyped-def]
    from trainable.config import canonical_schedule

    return canonical_schedule(config)


def _cmd_presets(args: argparse.Namespace) -> int:
    from trainable.presets import PRESETS, preset

    if args.name:
        try:
            cfg = preset(args.name)
        except ValueError as e:
            raise UsageError(str(e)) from None
        for k, v in cfg.to_dict().items():
            print(f"{k} = {v!r}")
        return 0
    width = max(map(len, PRESETS))
    for name, values in PRESETS.items():
        print(f"{name.ljust(width)}  " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return 0


def _cmd_launch(args: argparse.Namespace) -> int:
    from study.driver.launch import LaunchOptions, launch

    opts = LaunchOptions(
        space=args.space, name=args.name, seed=args.seed, time_budget=args.time_budget, max_trials=args.max_trials,
        gpus=args.gpus, cpus=args.cpus, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
        address=args.address, root=args.root, tracking_uri=args.tracking_uri, no_mlflow=args.no_mlflow,
        confirm_top=args.confirm_top, confirm_seeds=args.confirm_seeds, data_dir=args.data_dir,
        node_wait=args.node_wait,
    )
    launch(opts)
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from study.driver.launch import resume

    resume(args.study, root=args.root, address=args.address)
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from study.commands.ui import serve

    return serve(args.study, root=args.root, host=args.host, port=args.port, verbose=args.verbose)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from study.commands.dashboard import run

    return run(args.study, root=args.root, out=args.out, serve=args.serve, host=args.host, port=args.port)


def _cmd_sync(args: argparse.Namespace) -> int:
    from study.common.folder import find_study, read_study, tracking_uri_of
    from study.driver.present import refresh
    from study.tracking.sync import sync_study

    study_dir = find_study(args.study, args.root)
    report = sync_study(study_dir, tracking_uri=args.tracking_uri)
    uri = None if report.error else args.tracking_uri or tracking_uri_of(study_dir, read_study(study_dir))
    dashboard = refresh(study_dir, uri, lambda text: print(text, file=sys.stderr))
    if dashboard is not None:
        print(f"dashboard: {dashboard}")
    if report.error:
        print(f"study sync: {report.error}", file=sys.stderr)
        return 1
    return 0


_COMMANDS = {"trial": _cmd_trial, "launch": _cmd_launch, "resume": _cmd_resume, "ui": _cmd_ui, "sync": _cmd_sync, "presets": _cmd_presets,
             "dashboard": _cmd_dashboard}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except UsageError as e:
        print(f"study {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nstudy {args.command}: interrupted", file=sys.stderr)
        return 130
    except StudyInterrupted:
        return 130  # the study has said how to resume it


if __name__ == "__main__":
    sys.exit(main())

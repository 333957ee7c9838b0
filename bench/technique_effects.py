"""Each chapter-7 technique alone against the baseline, at the demo's scale: are the planted effects there?

The embedded data set plants a mechanism for each technique (``trainable/data/synthetic.py``).
This benchmark checks the design: the demo study's base config (``[base]`` of
``study/spec/default_space.toml``) with every technique off is the baseline; each recipe turns
on one technique; every recipe runs with the same seeds (0, 1, 2, ...). It prints, per recipe,
the accuracy's mean ± std over the seeds and the training time, and the difference from the
baseline with its confidence interval and p-value from ``study.analysis.verdict`` — Welch's test
(how a study's confirmation judges a winner) and the paired test over the shared seeds (how its
ablation judges a technique), Holm-corrected over the recipes.

TTA changes only the evaluation, so it is measured on the baseline's own models (``tta_n`` passes
added to the baseline runs): a paired comparison of the same networks with and without TTA.

One trial at a time, on ``--threads`` threads (2: the whole dev machine); about 15 minutes for
the default 6 recipes x 3 seeds there.

    .venv/bin/python bench/technique_effects.py [--seeds 3] [--recipes normalized,small] [--out FILE]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from study.analysis.verdict import Comparison, holm_correct, paired, welch
from trainable.config import TrialConfig
from trainable.presets import PRESETS
from trainable.train import run_trial

STUDY_FILE = Path(__file__).resolve().parents[1] / "study" / "spec" / "default_space.toml"
TTA_N = 4  # augmented passes of the TTA recipe (the book's progressive-tta recipe uses 4)

# Each recipe: the baseline with one technique on (the book's settings where it has them).
RECIPES: dict[str, dict[str, Any]] = {
    "normalized": {"normalize": "dataset"},
    "progressive": {"progressive": "fine_tune"},  # the book's shape: half the epochs at 2/3 of the size, then fine_tune
    "progressive-cont": {"progressive": "cont"},  # the same sizes, one one-cycle across both
    "small": {"small": True},  # the whole run at 2/3 of the size: too small
    "mixup": {"mixup_alpha": 0.4},
    "label-smoothing": {"label_smoothing": 0.1},
}


def base_config() -> dict[str, Any]:
    """The demo's ``[base]``, resolved against its preset, with every technique off."""
    with open(STUDY_FILE, "rb") as f:
        base = dict(tomllib.load(f)["base"])
    values = dict(PRESETS[base.pop("preset")]) if "preset" in base else {}
    values.update(base)
    values.update(normalize="none", mixup_alpha=0.0, label_smoothing=0.0, tta_n=0, schedule="")
    return values


def small_size(size: int) -> int:
    """Two thirds of ``size``, a multiple of 8 (48 -> 32; 224 -> 152)."""
    return max(16, round(size * 2 / 3 / 8) * 8)


def recipe_config(base: dict[str, Any], name: str, seed: int, threads: int) -> TrialConfig:
    values = {**base, "seed": seed, "threads": threads}
    changes = dict(RECIPES.get(name, {}))
    mode = changes.pop("progressive", None)
    if mode is not None:  # the first half of the epochs at 2/3 of the size (cpu-progressive's schedule)
        size, epochs, lr = values["size"], values["epochs"], values["lr"]
        first = max(1, min(epochs - 1, epochs // 2))
        if mode == "fine_tune":  # a fine_tune stage of N trains N + 1 epochs
            values["schedule"] = f"{small_size(size)}x{first}@{lr:g},{size}x{epochs - first - 1}@{lr / 3:g}:fine_tune"
        else:
            values["schedule"] = f"{small_size(size)}x{first}@{lr:g},{size}x{epochs - first}:cont"
    if changes.pop("small", False):
        values["size"] = small_size(values["size"])
    if name == "baseline":
        values["tta_n"] = TTA_N
    values.update(changes)
    return TrialConfig.from_dict(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per recipe (0, 1, ...); at least 2 for a test")
    ap.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, of {list(RECIPES)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--out", type=Path, help="also write the report here")
    ap.add_argument("--resume", action="store_true", help="keep the trials --out already records (same base) and run the rest")
    args = ap.parse_args()
    names = [n for n in args.recipes.split(",") if n]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe(s) {unknown}; choose from {list(RECIPES)}")
    base = base_config()
    seeds = list(range(args.seeds))
    acc: dict[str, dict[int, float]] = {}
    secs: dict[str, list[float]] = {}
    log: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        log.append(line)

    say(f"# technique_effects: {len(names) + 1} recipes x {len(seeds)} seeds, {args.threads} threads, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    say("# base: " + ", ".join(f"{k}={v}" for k, v in sorted(base.items()) if k not in ("threads", "seed")))
    done = _recorded(args.out, log[1]) if args.resume and args.out else {}
    start = time.perf_counter()
    for seed in seeds:  # seed-major: after each round the report so far is written (a stopped run keeps it)
        for name in ["baseline", *names]:
            cfg = recipe_config(base, name, seed, args.threads)
            if (seed, name) in done:
                line, a, tta, train_s = done[seed, name]
                acc.setdefault(name, {})[seed] = a
                secs.setdefault(name, []).append(train_s)
                if tta is not None:
                    acc.setdefault("tta", {})[seed] = tta
                    secs.setdefault("tta", []).append(train_s)
                say(line + " [recorded]")
                continue
            t0 = time.perf_counter()
            r = run_trial(cfg)
            acc.setdefault(name, {})[seed] = r.accuracy
            secs.setdefault(name, []).append(r.train_seconds)
            extra = ""
            if name == "baseline" and r.accuracy_tta is not None:
                acc.setdefault("tta", {})[seed] = r.accuracy_tta
                secs.setdefault("tta", []).append(r.train_seconds)
                extra = f" tta={r.accuracy_tta:.4f}"
            say(f"#   seed {seed} {name:16s}: accuracy {r.accuracy:.4f}{extra}, train {r.train_seconds:.1f} s, "
                f"wall {time.perf_counter() - t0:.1f} s" + (f" ({cfg.schedule})" if cfg.schedule else f" ({cfg.size} px)"))
            _write(args.out, log, acc, secs, names, args.level)
        say(f"# {seed + 1} of {len(seeds)} seeds done, {time.perf_counter() - start:.0f} s")
    _write(args.out, log, acc, secs, names, args.level)
    print()
    print(summary(acc, secs, names, args.level))


_TRIAL = re.compile(r"^#   seed (\d+) (\S+)\s*: accuracy ([\d.]+)(?: tta=([\d.]+))?, train ([\d.]+) s")


def _recorded(out: Path, base_line: str) -> dict[tuple[int, str], tuple[str, float, float | None, float]]:
    """The trials an earlier run of the same base wrote to ``out``: (seed, recipe) -> (line, accuracy, tta, train s)."""
    if not out.is_file():
        return {}
    lines = out.read_text().splitlines()
    if base_line not in lines:
        raise SystemExit(f"{out} records another base config; run without --resume or with another --out")
    found = {}
    for line in lines:
        m = _TRIAL.match(line.removesuffix(" [recorded]"))
        if m:
            tta = float(m[4]) if m[4] else None
            found[int(m[1]), m[2]] = (line.removesuffix(" [recorded]"), float(m[3]), tta, float(m[5]))
    return found


def _write(out: Path | None, log: list[str], acc: dict[str, dict[int, float]], secs: dict[str, list[float]],
           names: list[str], level: float) -> None:
    """The log so far and, once every recipe has two seeds, the table (a stopped run keeps what it did)."""
    if out is None:
        return
    ready = all(len(acc.get(n, {})) >= 2 for n in ["baseline", *names])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join([*log, "", summary(acc, secs, names, level)] if ready else log) + "\n")


def summary(acc: dict[str, dict[int, float]], secs: dict[str, list[float]], names: list[str], level: float) -> str:
    """The comparisons with the baseline, Holm-corrected over the recipes, as a table."""
    rows = [n for n in ["tta", *names] if n in acc]
    welchs = holm_correct([welch(list(acc[n].values()), list(acc["baseline"].values()), level=level,
                                 label_a=n, label_b="baseline") for n in rows])
    paireds = holm_correct([paired(acc[n], acc["baseline"], level=level, label_a=n, label_b="baseline")
                            for n in rows])
    base = base_config()
    costs = {n: recipe_config(base, "baseline" if n == "tta" else n, 0, 1).cost() for n in ["baseline", *rows]}
    return render(acc, secs, {n: c / costs["baseline"] for n, c in costs.items()}, rows, welchs, paireds, level)


def render(acc: dict[str, dict[int, float]], secs: dict[str, list[float]], compute: dict[str, float], rows: list[str],
           welchs: list[Comparison], paireds: list[Comparison], level: float) -> str:
    """A Markdown table: one line per recipe, the baseline first.

    ``compute``: training compute relative to the baseline (Σ epochs × size²), a figure that, unlike
    the measured seconds, does not depend on what else the machine was running.
    """
    pct = f"{100 * level:g} %"
    lines = [
        f"| recipe | accuracy (mean ± std, {len(acc['baseline'])} seeds) | compute | train s (median) | Δ vs baseline "
        f"| {pct} CI (Welch) | p Welch (Holm) | p paired (Holm) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| baseline | {_ms(acc['baseline'])} | 1.00 | {statistics.median(secs['baseline']):.0f} | | | | |",
    ]
    for name, w, p in zip(rows, welchs, paireds):
        ci = f"{w.ci_low:+.3f} to {w.ci_high:+.3f}" if w.ci_low is not None and w.ci_high is not None else "n/a"
        label = f"tta (n={TTA_N}, baseline's models)" if name == "tta" else name
        lines.append(f"| {label} | {_ms(acc[name])} | {compute[name]:.2f} | {statistics.median(secs[name]):.0f} "
                     f"| {w.difference:+.3f} | {ci} | {_pv(w)} | {_pv(p)} |")
    return "\n".join(lines)


def _ms(values: dict[int, float]) -> str:
    xs = list(values.values())
    return f"{statistics.fmean(xs):.3f} ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else f"{xs[0]:.3f}"


def _pv(c: Comparison) -> str:
    if c.p_value is None:
        return "n/a"
    mark = " *" if c.shown else ""
    return f"{c.p_value:.2g} ({c.p_judged:.2g}){mark}"


if __name__ == "__main__":
    main()

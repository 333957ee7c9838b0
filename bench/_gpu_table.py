"""bench/gpu.py's part 5: its JSON as one Markdown table (figure, measured, against, ratio, goal)."""

from __future__ import annotations

from typing import Any

__all__ = ["table"]


def _n(v: Any, digits: int = 0) -> str:
    if v is None:
        return "—"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}"
    return str(v)


def _ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "—"


def _at(rows: list[dict[str, Any]], slot: int, batch: Any) -> dict[str, Any] | None:
    return next((r for r in rows if r["slot"] == slot and r["batch"] == batch), None)


def table(result: dict[str, Any]) -> str:
    d = result["detail"]
    ceiling, e2e = d.get("ceiling", []), d.get("e2e", [])
    lines = [
        f"card `{result['card']}`, torch {result['torch']}, {result['date']}, `{d.get('command', '')}`"
        + ("  — **CPU smoke run (toy sizes): not GPU results**" if d.get("smoke") else ""),
        "",
        "| figure | measured | against | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
    ]

    def row(figure: str, measured: str, against: str = "", ratio: str = "", goal: str = "") -> None:
        lines.append(f"| {figure} | {measured} | {against} | {ratio} | {goal} |")

    chip = d.get("chip_matmul_tflops")
    row("chip: dense matrix product (measured)", f"{_n(chip, 1)} TFLOP/s")
    for slot in (128, 224):
        rows = [r for r in ceiling if r["slot"] == slot]
        if rows:
            best = max(rows, key=lambda r: r["images_per_s"])
            sweep = ", ".join(f"b{r['batch']} {_n(r['images_per_s'])}" for r in rows)
            row(f"ceiling {best['size']} px (model step, random bf16 inputs)",
                f"{_n(best['images_per_s'])} img/s at b{best['batch']} ({sweep})",
                f"{_n(best['tflops'], 1)} TFLOP/s", f"{best['of_chip']:.0%} of chip")
    goals = {128: "≥ 12,000 img/s", 224: "≥ 5,000 img/s; ≥ 0.9× ceiling"}
    for slot in (128, 224):
        rows = [r for r in e2e if r["slot"] == slot]
        if rows:
            best = max(rows, key=lambda r: r["images_per_s"])
            c = _at(ceiling, slot, best["batch"])
            row(f"end to end {best['size']} px (presize {best['presize']}, batch {best['batch']})", f"{_n(best['images_per_s'])} img/s",
                f"ceiling at b{best['batch']}: {_n(c['images_per_s']) if c else '—'}",
                _ratio(best["images_per_s"], c["images_per_s"] if c else None), goals[slot])
            row(f"epoch {best['size']} px ({best['presize']} presize)", f"{best['epoch_seconds']:.2f} s train", "the book: 63 s", "",
                "< 2 s" if slot == 224 else "")
    row("TTA inference 224 px, per augmented pass", f"{_n(result.get('tta_224_img_s'))} img/s", "", "", "≥ 15,000 img/s")
    peer = result.get("peer_224_img_s")
    row(f"peer: {result.get('peer') or '—'}", f"{_n(peer)} img/s", f"end to end 224: {_n(result.get('e2e_224_img_s'))}",
        _ratio(result.get("e2e_224_img_s"), peer), "≥ 2× the peer")
    for r in d.get("peer", {}).get("runs", [])[1:]:
        layout = " channels_last" if r.get("channels_last") else ""
        row(f"peer, {r.get('precision', '')}{layout}", f"{_n(r['images_per_s'])} img/s")
    pair = d.get("two_vs_one", {})
    if pair:
        row("two trials at once vs one alone, 128 px", f"{_n(sum(pair.get('pair_images_per_s', [])))} img/s together",
            f"alone {_n(pair.get('alone_images_per_s'))}", f"{_n(pair.get('ratio'), 2)}×", "≥ 1.3×")
    for st in d.get("studies", []):
        row(f"study, {st.get('share')} GPU per trial: busy fraction ({st.get('metric', '')})",
            _n(st.get("busy_fraction"), 2),
            f"while trials ran: {_n(st.get('busy_fraction_while_trials_ran'), 2)}; "
            f"the bench's own NVML sampling: {_n(st.get('busy_nvml_bench'), 2)}", "", "")
    sw = d.get("switches", {})
    for name, v in sw.items():
        if isinstance(v, dict):
            row(f"step with {name} ({sw['size']} px, b{sw['batch']})", f"{_n(v['images_per_s'])} img/s",
                f"all defaults on: {_n(sw['all_on_images_per_s'])}", f"{v['vs_all_on']:.2f}×")
    for c in d.get("compile", []):
        row(f"torch.compile, {c['size']} px b{c['batch']}", f"{_n(c['compiled_images_per_s'])} img/s after {c['compile_s']:.0f} s",
            f"eager {_n(c['eager_images_per_s'])}", f"{c['speedup']:.2f}×",
            f"pays after {_n(c['break_even_images'])} images" if c.get("break_even_images") else "never pays")
    ex = d.get("e2e_extras", {})
    if "host_loader" in ex:
        h = ex["host_loader"]
        dev = _at(e2e, 224, h["batch"])
        row(f"end to end {h['size']} px with the host loader (data_on_device=off)", f"{_n(h['images_per_s'])} img/s",
            f"images in GPU memory: {_n(dev['images_per_s']) if dev else '—'}",
            _ratio(h["images_per_s"], dev["images_per_s"] if dev else None))
    if "progressive" in ex:
        p = ex["progressive"]
        row("progressive 128 → 224 (cont): epoch seconds", " / ".join(f"{v:.2f}" for v in p["epoch_seconds_each"]),
            "first epoch at the new size minus the next", f"{p['size_change_stall_s']:+.2f} s", "one stall per size")
    if d.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(d["skipped"])]
    if d.get("errors"):
        lines += ["", "Errors: " + "; ".join(f"{k}: {v}" for k, v in d["errors"].items())]
    return "\n".join(lines) + "\n"

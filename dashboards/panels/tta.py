"""Panel 4, test-time augmentation: accuracy with against without TTA for each finished trial that
used it, the gain against the number of passes, and the inference time per image it costs."""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.tables import StudyTables

__all__ = ["TtaInfo", "TtaPoint", "tta_info"]


@dataclass(frozen=True)
class TtaPoint:
    name: str
    phase: str
    tta_n: int
    tta_beta: float | None
    plain: float  # accuracy of the plain pass
    with_tta: float  # accuracy with TTA
    infer_ms_plain: float | None  # ms per image, plain pass
    infer_ms_tta: float | None  # ms per image, all TTA passes

    @property
    def gain(self) -> float:
        return self.with_tta - self.plain

    @property
    def extra_ms(self) -> float | None:
        if self.infer_ms_plain is None or self.infer_ms_tta is None:
            return None
        return self.infer_ms_tta - self.infer_ms_plain


@dataclass(frozen=True)
class TtaInfo:
    points: tuple[TtaPoint, ...]
    mean_gain: float | None
    reason: str | None = None


def tta_info(tables: StudyTables) -> TtaInfo:
    points = []
    finished = [t for t in tables.trials if t.finished]
    for t in finished:
        n = t.config.get("tta_n")
        plain, tta = t.final.get("accuracy"), t.final.get("accuracy_tta")
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0 or plain is None or tta is None:
            continue
        beta = t.config.get("tta_beta")
        points.append(TtaPoint(t.name, t.phase, n, float(beta) if isinstance(beta, (int, float)) else None, plain, tta,
                               t.final.get("infer_ms_per_image"), t.final.get("infer_ms_per_image_tta")))
    if not points:
        why = "no trial has finished yet" if not finished else f"none of the {len(finished)} finished trials used TTA (tta_n = 0)"
        return TtaInfo((), None, reason=why)
    return TtaInfo(tuple(points), sum(p.gain for p in points) / len(points))

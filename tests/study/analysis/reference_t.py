"""Student's t distribution from first principles (``math`` only): the tests' reference for the
numbers ``study.analysis.verdict`` takes from scipy, so that a check does not repeat the calls it checks.

The two-sided tail of Student's t with ``dof`` degrees of freedom is a regularized incomplete beta
function, ``P(|T| >= t) = I_x(dof/2, 1/2)`` with ``x = dof / (dof + t^2)`` (Abramowitz & Stegun
26.7.1 and 26.5.27), evaluated here by its continued fraction (DLMF 8.17.22) with the modified Lentz
method; quantiles by bisection. ``tests/study/analysis/test_verdict.py`` checks both against the
closed forms for 1 and 2 degrees of freedom and against a printed table of critical values.
"""

from __future__ import annotations

import math

__all__ = ["quantile", "two_sided_p"]

_TINY = 1e-300


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction ``1 / (1 + d1 / (1 + d2 / (1 + ...)))`` of ``I_x(a, b)`` (DLMF 8.17.22):
    its denominator ``g = 1 + d1 / (1 + ...)`` by the modified Lentz method (convergents ``g_n = C_n D_n g_(n-1)``)."""
    g = c = 1.0
    d = 0.0
    for n in range(1, 10_000):
        m = n // 2
        if n % 2:  # d_{2m+1}
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:  # d_{2m}
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + num / c
        c = c if abs(c) > _TINY else _TINY
        g *= c * d
        if abs(c * d - 1.0) < 1e-15:
            return 1.0 / g
    raise ArithmeticError(f"the continued fraction of I_x({a}, {b}) at x = {x} did not converge")


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function ``I_x(a, b)``, for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below this point: use I_x(a, b) = 1 - I_(1-x)(b, a)
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    log_front = a * math.log(x) + b * math.log1p(-x) - math.log(a) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    return math.exp(log_front) * _beta_fraction(a, b, x)


def two_sided_p(t: float, dof: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``dof`` (any positive real) degrees of freedom."""
    return _incomplete_beta(dof / 2, 0.5, dof / (dof + t * t))


def quantile(q: float, dof: float) -> float:
    """The ``q`` quantile of Student's t (``0.5 < q < 1``), by bisection on :func:`two_sided_p`."""
    target = 2 * (1 - q)  # the two-sided tail beyond the quantile
    low, high = 0.0, 1.0
    while two_sided_p(high, dof) > target:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if two_sided_p(mid, dof) > target else (low, mid)
    return (low + high) / 2

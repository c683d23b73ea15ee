"""Which songs a channel *names*: one gate rule applied to every song's z at once.

The paper's per-song 95 % gate names each song whose own confidence reaches 95 %, so about
5 % of any library is named by chance (1.6 songs of the 32-song demo, 50,000 of a million).
A rule that looks at the whole library instead:

``"fdr"`` (the default)
    Benjamini–Hochberg at level q on the songs' one-sided p-values ``p = 1 − Φ(z)``: among
    the songs named, the expected share of wrong ones is at most q (for independent or
    positively dependent p-values).
``"fwer"``
    Šidák at level α: a song is named when ``p ≤ 1 − (1 − α)^(1/N)``, so the chance that a
    query unrelated to every song names *any* song is at most α. What the audit uses.
``"per-song"``
    The paper's: ``p ≤ level`` for each song on its own (confidence ≥ 1 − level).

One implementation serves ``lumina attribute``, the app, the reports and the audit. Costs
O(N) for the comparison plus O(m log m) for the m songs with ``p ≤ q`` (BH only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, getcontext, localcontext
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from lumina.errors import LuminaError

GATE_RULES = ("fdr", "fwer", "per-song")
DEFAULT_GATE_RULE = "fdr"
#: q of the default rule; α of ``fwer``; ``1 − confidence`` of ``per-song``.
DEFAULT_LEVEL = 0.05

_NORMAL = NormalDist()


def _decimal_pi() -> Decimal:
    # The series from the decimal module's documentation, at the context's precision.
    with localcontext() as ctx:
        ctx.prec += 2
        three = Decimal(3)
        lasts, t, s, n, na, d, da = Decimal(0), three, three, 1, 0, 0, 24
        while s != lasts:
            lasts = s
            n, na = n + na, na + 8
            d, da = d + da, da + 32
            t = (t * n) / d
            s += t
    return +s


def _decimal_erf(x: Decimal, sqrt_pi: Decimal) -> Decimal:
    # erf(x) = 2/√π · e^{-x²} · Σ x (2x²)^n / (2n+1)!!: every term is positive for x ≥ 0,
    # so the sum loses no digits to cancellation whatever x is.
    two_x2 = 2 * x * x
    term = x
    total = x
    n = 0
    eps = Decimal(10) ** (-(getcontext().prec + 2))
    while term > total * eps:
        n += 1
        term = term * two_x2 / (2 * n + 1)
        total += term
    return 2 / sqrt_pi * (-(x * x)).exp() * total


@lru_cache(maxsize=64)
def _normal_quantile(p: float) -> float:
    """Φ⁻¹(p) correctly rounded to float64, by Newton's method in decimal arithmetic."""
    if p == 0.5:
        return 0.0
    # Work in the smaller tail: for p ≥ 0.5, 1 - p is exact in binary (Sterbenz).
    tail = min(p, 1.0 - p)
    with localcontext() as ctx:
        # The tail is 1 - erf(x): keep 40 digits after the cancellation.
        ctx.prec = 40 + max(0, -math.floor(math.log10(tail)))
        sqrt_pi = _decimal_pi().sqrt()
        sqrt2 = Decimal(2).sqrt()
        target = Decimal(tail)
        t = Decimal(abs(NormalDist().inv_cdf(p)))  # ~1e-15 accurate: 3 steps reach 1e-40+
        for _ in range(4):
            upper = (1 - _decimal_erf(t / sqrt2, sqrt_pi)) / 2
            density = (-(t * t) / 2).exp() / (sqrt2 * sqrt_pi)
            t += (upper - target) / density
        result = float(t)  # float(Decimal) rounds to nearest
    return result if p > 0.5 else -result


def gate_z(gate: float = 0.95) -> float:
    """The z threshold of a confidence gate: ``Φ⁻¹(gate)``, rounded to the nearest double.

    ``gate_z(0.95) == 1.6448536269514722``. A song qualifies when ``z ≥ gate_z(gate)``.

    The gate is applied on z, not on the float64 confidence, because ``Φ`` is flat at
    double resolution: near 0.95 one step of the confidence is about five steps of z, so
    ``Φ(z) ≥ 0.95`` in floating point already holds a few ulps below Φ⁻¹(0.95). Computing
    Φ⁻¹ exactly (decimal arithmetic, once per gate value) makes the switch land precisely
    on the quantile, and qualifying songs still have ``confidence_from_z(z) ≥ gate`` to
    within one rounding of ``gate``.
    """
    g = float(gate)
    if not (0.0 < g < 1.0):
        raise LuminaError(f"confidence gate must be strictly between 0 and 1, got {gate}")
    return _normal_quantile(g)


def check_gate(rule: str, level: float) -> None:
    if rule not in GATE_RULES:
        raise LuminaError(f"unknown gate {rule!r}; choose one of {', '.join(GATE_RULES)}")
    if isinstance(level, bool) or not isinstance(level, int | float) or not (
            0.0 < float(level) < 1.0):
        raise LuminaError(f"the gate's level must be strictly between 0 and 1, got {level!r}")


@lru_cache(maxsize=4096)
def z_for_tail(p: float) -> float:
    """The z whose upper tail ``1 − Φ(z)`` is ``p`` (accurate for p down to 1e-300)."""
    if p >= 0.5:
        return -_NORMAL.inv_cdf(1.0 - p) if p < 1.0 else -math.inf
    # Φ⁻¹ of the small lower tail directly: 1 − p would round the tail away.
    return -_NORMAL.inv_cdf(max(p, 1e-300))


def upper_tail(z: np.ndarray) -> np.ndarray:
    """One-sided p-values ``1 − Φ(z) = ½ erfc(z/√2)``, float64, accurate in the tail."""
    flat = np.asarray(z, dtype=np.float64).ravel()
    out = np.fromiter((0.5 * math.erfc(v / math.sqrt(2.0)) for v in flat.tolist()),
                      dtype=np.float64, count=flat.size)
    return out.reshape(np.shape(z))


@dataclass(frozen=True)
class Gate:
    """A gate rule and its level (see the module docstring)."""

    rule: str = DEFAULT_GATE_RULE
    level: float = DEFAULT_LEVEL

    def __post_init__(self) -> None:
        check_gate(self.rule, self.level)

    @classmethod
    def per_song(cls, confidence: float) -> Gate:
        """The paper's gate at a confidence (0.95 → level 0.05)."""
        if not 0.0 < float(confidence) < 1.0:
            raise LuminaError(
                f"confidence gate must be strictly between 0 and 1, got {confidence}")
        return cls("per-song", 1.0 - float(confidence))

    def describe(self) -> str:
        """How a report names the rule, e.g. ``false-discovery rate ≤ 5 %``."""
        pct = f"{100 * self.level:g} %"
        return {"fdr": f"false-discovery rate ≤ {pct} (Benjamini–Hochberg)",
                "fwer": f"chance of naming any unrelated song ≤ {pct} (Šidák)",
                "per-song": f"each song's confidence ≥ {100 * (1 - self.level):g} % "
                            "(the paper's per-song gate)"}[self.rule]

    def tail_threshold(self, n: int, named: int = 1) -> float:
        """The p-value a song must not exceed among ``n`` songs, when ``named`` songs are
        named (only ``fdr`` depends on it: Benjamini–Hochberg's ``named · q / n``)."""
        if self.rule == "per-song":
            return float(self.level)
        if self.rule == "fwer":
            return -math.expm1(math.log1p(-self.level) / max(1, int(n)))
        return max(1, int(named)) * self.level / max(1, int(n))

    def z_threshold(self, p_threshold: float) -> float:
        # The per-song gate keeps the exactly rounded Φ⁻¹ of gate_z (what it always used).
        if self.rule == "per-song":
            return gate_z(1.0 - self.level)
        return z_for_tail(p_threshold)

    def apply(self, z: np.ndarray) -> GateDecision:
        """Name songs from their z values.

        Parameters
        ----------
        z : (N,) array_like
            Calibrated z of every library song in one channel.

        Returns
        -------
        GateDecision
            Which songs are named, and the p-value and z a song needed for this query
            (for ``fdr`` they depend on how many songs are named).
        """
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 1:
            raise LuminaError(f"z must be a vector, got shape {z.shape}")
        n = z.shape[0]
        k = 1
        if self.rule == "fdr" and n:
            # Benjamini–Hochberg: name the k songs of smallest p, k the largest rank with
            # p_(k) ≤ k q / N. Only songs with p ≤ q can be among them.
            candidates = np.sort(z[z >= z_for_tail(self.level)])[::-1]  # z descending
            if candidates.size:
                p = upper_tail(candidates)  # ascending
                ranks = np.arange(1, p.size + 1, dtype=np.float64)
                passing = np.nonzero(p <= ranks * self.level / n)[0]
                if passing.size:
                    k = int(passing[-1]) + 1
                    p_threshold = self.tail_threshold(n, k)
                    # Exactly the k songs of smallest p (a song with p ≤ k q / N ranked
                    # below k would have passed at its own rank).
                    named = z >= float(candidates[k - 1])
                    return GateDecision(named, p_threshold, z_for_tail(p_threshold))
            p_threshold = self.tail_threshold(n, 1)
            return GateDecision(np.zeros(n, dtype=bool), p_threshold, z_for_tail(p_threshold))
        p_threshold = self.tail_threshold(n, k)
        threshold = self.z_threshold(p_threshold)
        return GateDecision(z >= threshold, p_threshold, threshold)


@dataclass(frozen=True)
class GateDecision:
    """What a :class:`Gate` decided for one query in one channel.

    Attributes
    ----------
    named : (N,) bool ndarray
    p_threshold : float
        The largest one-sided p-value a named song may have (``1 − p_threshold`` is the
        confidence a song needed, always in (0, 1)).
    z_threshold : float
        The z a song needed: every named song has ``z ≥ z_threshold``.
    """

    named: np.ndarray
    p_threshold: float
    z_threshold: float

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_threshold

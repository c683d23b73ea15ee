"""The attribution options as one frozen object, with their defaults and checks.

Every layer that attributes — the channel index, the library's query cache, the analysis
façade, the audit, the CLI and the app — takes an :class:`AttributionParams` whole instead
of re-listing its fields, so a new option is added here once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from lumina.attribution.gate import DEFAULT_GATE_RULE, DEFAULT_LEVEL, Gate, check_gate
from lumina.errors import LuminaError

#: The paper's per-song confidence gate (``gate="per-song"`` at level 1 − GATE).
GATE = 0.95
DEFAULT_LAMBDA = 0.01
DEFAULT_COHORT_SIZE = 2000
#: Songs listed per channel beyond the qualifying ones.
DEFAULT_TOP = 20
#: Adaptive S-norm normalises each score against the ``top_k`` highest cohort scores, so a
#: song must stand out from the query's (and its own) nearest neighbours, not from the
#: average song. Measured on the demo library (32 songs, 512 unrelated query–song pairs from
#: held-out compositions in held-out timbres, ``lumina validate`` row 4): unrelated pairs
#: passing the 95 % gate — all cohort scores 4.5 % / 11.1 % (composition / production),
#: upper half 3.9 % / 4.1 %, upper quarter 2.1 % / 2.3 %, upper eighth 1.2 % / 0.8 %. The
#: upper half is the least conservative choice that keeps both channels under 5 %.
TOP_K_FRACTION = 0.5
#: ``top_k="auto"``: :data:`TOP_K_FRACTION` of the cohort (``None``: plain S-norm).
DEFAULT_TOP_K = "auto"
DEFAULT_NULL = "empirical"
NULLS = ("empirical", "analytic")


def check_null(null: str) -> str:
    if null not in NULLS:
        raise LuminaError(f"unknown null model {null!r}; choose one of {', '.join(NULLS)}")
    return null


def check_top(top: int | None, name: str = "top") -> None:
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 0
    ):
        raise LuminaError(f"{name} must be a non-negative integer, got {top!r}")


def check_lam(lam: float) -> float:
    lam = float(lam)
    if not (math.isfinite(lam) and lam > 0):
        raise LuminaError(f"kernel-regression λ must be a positive number, got {lam}")
    return lam


def resolve_top_k(top_k: int | str | None, cohort: int) -> int | None:
    """The adaptive S-norm's ``top_k`` for a cohort of ``cohort`` songs.

    ``"auto"`` → ``max(1, round(TOP_K_FRACTION · cohort))``; ``None`` → plain S-norm (every
    cohort score); an int is checked and kept.
    """
    if top_k == DEFAULT_TOP_K:
        return max(1, int(round(TOP_K_FRACTION * max(1, int(cohort)))))
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise LuminaError(f"top_k must be a positive integer, \"auto\" or None, got {top_k!r}")
    return int(top_k)


@dataclass(frozen=True)
class AttributionParams:
    """How a query is attributed: the null, the gate, what is listed and how the library
    is prepared. Checked when made; every report records the values used.

    Attributes
    ----------
    null : {"empirical", "analytic"}
        The null model of the confidence.
    gate : {"fdr", "fwer", "per-song"}
        The rule that names songs across the library (:mod:`lumina.attribution.gate`):
        Benjamini–Hochberg (default), Šidák, or the paper's per-song gate.
    level : float
        q of ``fdr``, α of ``fwer``, 1 − confidence of ``per-song`` (0.05).
    top : int or None
        Songs *listed* per channel beyond the qualifying ones (None: every song). Not to be
        confused with :attr:`snorm_top_k`.
    lam : float
        Kernel-regression λ.
    cohort_size : int
        Cohort of the empirical null: the whole library up to this size, else a seeded
        sample of this many songs.
    cohort_seed : int
        Seed of that sample.
    snorm_top_k : int, "auto" or None
        Adaptive S-norm: normalise with the ``snorm_top_k`` highest cohort scores only
        ("auto": :data:`TOP_K_FRACTION` of the cohort; None: all of them). Reports and the
        library cache call it ``top_k``.
    """

    null: str = DEFAULT_NULL
    gate: str = DEFAULT_GATE_RULE
    level: float = DEFAULT_LEVEL
    top: int | None = DEFAULT_TOP
    lam: float = DEFAULT_LAMBDA
    cohort_size: int = DEFAULT_COHORT_SIZE
    cohort_seed: int = 0
    snorm_top_k: int | str | None = DEFAULT_TOP_K

    def __post_init__(self) -> None:
        check_null(self.null)
        check_top(self.top, "--top")
        check_gate(self.gate, self.level)
        check_lam(self.lam)
        if isinstance(self.cohort_size, bool) or int(self.cohort_size) < 1:
            raise LuminaError(f"cohort size must be at least 1, got {self.cohort_size!r}")
        if self.snorm_top_k not in (DEFAULT_TOP_K, None):
            resolve_top_k(self.snorm_top_k, 1)

    @property
    def gating(self) -> Gate:
        """The gate as an object that names songs (:class:`~lumina.attribution.gate.Gate`)."""
        return Gate(self.gate, float(self.level))

    def replace(self, **changes: object) -> AttributionParams:
        """A copy with some fields changed (unknown names are a one-line error)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise LuminaError(f"unknown attribution option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def of(cls, params: AttributionParams | None = None, **changes: object
           ) -> AttributionParams:
        """``params`` (default: the defaults) with ``changes`` applied: how the public
        entry points turn keyword options into the one object they pass on."""
        base = params if params is not None else cls()
        return base.replace(**changes) if changes else base

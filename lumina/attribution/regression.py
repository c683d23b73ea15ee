"""Kernel-regression credit sharing between correlated songs (DESIGN §1 step 6)."""

from __future__ import annotations

import numpy as np

from lumina.attribution.params import DEFAULT_LAMBDA, check_lam
from lumina.attribution.vectors import BLOCK_ROWS, matvec, unit_rows
from lumina.errors import LuminaError


def _gram(k: np.ndarray) -> np.ndarray:
    """``Kᵀ K`` in float64, accumulated block by block (K may be a 2 GB float32 matrix)."""
    d = k.shape[1]
    gram = np.zeros((d, d), dtype=np.float64)
    for start in range(0, k.shape[0], BLOCK_ROWS):
        block = k[start : start + BLOCK_ROWS].astype(np.float64, copy=False)
        gram += block.T @ block
    return gram


class KernelRegression:
    """Kernel-regression credit ``α = (K Kᵀ + λ I_N)⁻¹ K q̂`` in the primal form.

    By the push-through identity ``α = K (Kᵀ K + λ I_D)⁻¹ q̂``. The D×D matrix is factored
    once here (float64); each query then costs O(N·D) instead of an N×N solve.

    numpy has no triangular solve, so instead of keeping the Cholesky factor ``L`` and doing
    two O(D²) substitutions per query we keep ``(KᵀK + λI)⁻¹ = L⁻ᵀ L⁻¹``: at D=512 it is
    2 MB, one matrix-vector product per query, and with λ > 0 its condition number is at
    most ``1 + N/λ``, so forming the inverse loses nothing that matters next to the O(N·D)
    product with K.

    Parameters
    ----------
    k : (N, D) array_like
        The library rows, expected unit-normalised (as in DESIGN §1 step 6). Not copied.
    lam : float
        The ridge λ > 0 (the paper's 0.01).
    """

    __slots__ = ("_inverse", "_k", "_lam")

    def __init__(self, k: np.ndarray, lam: float = DEFAULT_LAMBDA) -> None:
        k = np.asarray(k)
        if k.ndim != 2 or k.shape[0] < 1 or k.shape[1] < 1:
            raise LuminaError(f"kernel regression needs an (N, D) matrix, got shape {k.shape}")
        lam = check_lam(lam)
        a = _gram(k)
        a[np.diag_indices_from(a)] += lam
        try:
            chol = np.linalg.cholesky(a)
        except np.linalg.LinAlgError as exc:
            raise LuminaError(
                f"kernel-regression matrix is not positive definite (λ={lam})"
            ) from exc
        chol_inv = np.linalg.solve(chol, np.eye(a.shape[0]))
        inverse = chol_inv.T @ chol_inv
        # Symmetrise: rounding in the product leaves a ~1e-16 asymmetry that would make
        # weights depend on which triangle a later routine happens to read.
        inverse = 0.5 * (inverse + inverse.T)
        inverse.setflags(write=False)
        self._k = k
        self._lam = lam
        self._inverse = inverse

    @classmethod
    def from_inverse(cls, k: np.ndarray, inverse: np.ndarray, lam: float) -> KernelRegression:
        """A regression over ``k`` whose ``(KᵀK + λI)⁻¹`` was computed before (a library's
        query cache): building it with the constructor would redo the O(N·D²) Gram pass.

        Parameters
        ----------
        k : (N, D) array_like
        inverse : (D, D) array_like, as :attr:`inverse` of a regression over ``k``.
        lam : float
        """
        inv = np.array(inverse, dtype=np.float64)
        if inv.ndim != 2 or inv.shape[0] != inv.shape[1] or inv.shape[0] != np.shape(k)[1]:
            raise LuminaError(f"a cached inverse must be (D, D) for D={np.shape(k)[1]}, "
                              f"got shape {inv.shape}")
        inv.setflags(write=False)
        reg = cls.__new__(cls)
        reg._k = k
        reg._lam = check_lam(lam)
        reg._inverse = inv
        return reg

    @property
    def k(self) -> np.ndarray:
        """(N, D) library matrix the weights are computed against."""
        return self._k

    @property
    def lam(self) -> float:
        return self._lam

    @property
    def n(self) -> int:
        return self._k.shape[0]

    @property
    def d(self) -> int:
        return self._k.shape[1]

    @property
    def inverse(self) -> np.ndarray:
        """(D, D) read-only ``(KᵀK + λI)⁻¹`` (float64)."""
        return self._inverse

    def weights(self, q: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """α for one query.

        Parameters
        ----------
        q : (D,) array_like
            The query in the same representation as the rows of K (it is unit-normalised
            here; centring, if any, is the caller's job).
        rows : (R,) int array_like, optional
            Only compute α for these library rows (O(R·D) instead of O(N·D)).

        Returns
        -------
        (N,) or (R,) float64 ndarray
        """
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (self.d,):
            raise LuminaError(f"query has shape {q.shape}, kernel regression expects ({self.d},)")
        u = self._inverse @ unit_rows(q)
        k = self._k if rows is None else self._k[np.asarray(rows, dtype=np.intp)]
        return matvec(k, u)

    def weights_batch(self, qs: np.ndarray) -> np.ndarray:
        """α for many queries.

        Parameters
        ----------
        qs : (M, D) array_like

        Returns
        -------
        (M, N) float64 ndarray
        """
        qs = np.asarray(qs, dtype=np.float64)
        if qs.ndim != 2 or qs.shape[1] != self.d:
            raise LuminaError(f"queries have shape {qs.shape}, expected (M, {self.d})")
        u = unit_rows(qs) @ self._inverse  # (M, D); the inverse is symmetric
        return (u.astype(self._k.dtype) @ self._k.T).astype(np.float64, copy=False)


def kernel_regression_weights_dual(
    k: np.ndarray, q: np.ndarray, lam: float = DEFAULT_LAMBDA
) -> np.ndarray:
    """α in the dual form ``(K Kᵀ + λ I_N)⁻¹ K q̂`` — an N×N solve, for tests and small N.

    Parameters
    ----------
    k : (N, D) array_like
        Library rows, expected unit-normalised (not normalised here, as in the primal).
    q : (D,) array_like
        Query; unit-normalised here.
    lam : float

    Returns
    -------
    (N,) float64 ndarray
    """
    k = np.asarray(k, dtype=np.float64)
    if k.ndim != 2:
        raise LuminaError(f"kernel regression needs an (N, D) matrix, got shape {k.shape}")
    lam = check_lam(lam)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (k.shape[1],):
        raise LuminaError(f"query has shape {q.shape}, kernel regression expects ({k.shape[1]},)")
    a = k @ k.T
    a[np.diag_indices_from(a)] += lam
    return np.linalg.solve(a, k @ unit_rows(q))

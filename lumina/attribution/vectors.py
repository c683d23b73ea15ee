"""Unit rows, cosine scores and the checks every scoring function shares (numpy only)."""

from __future__ import annotations

import math

import numpy as np

from lumina.errors import LuminaError

# Rows per block when a whole library matrix is converted or multiplied: keeps float64
# temporaries at ~64 MB at D=512 however large the library is.
BLOCK_ROWS = 16384


def noise_floor(d: int) -> float:
    """The paper's noise floor ``σ = 1/√D`` (0.0442 at D=512).

    It is the standard deviation of the cosine between two independent isotropic random
    vectors in D dimensions; the empirical null also uses it as a floor for its spreads.
    """
    if d < 1:
        raise LuminaError(f"fingerprint dimension must be at least 1, got {d}")
    return 1.0 / math.sqrt(d)


def float_dtype(dtype: np.dtype) -> np.dtype:
    # float32 libraries stay float32 (a 10⁶-song channel is 2 GB instead of 4); integer or
    # half input is promoted.
    return np.result_type(dtype, np.float32)


def unit_block(block: np.ndarray) -> np.ndarray:
    """Unit rows of a float64 block; zero rows stay zero."""
    sq = np.einsum("ij,ij->i", block, block)
    norms = np.sqrt(sq)
    # Squares can overflow (|x| > 1e154) or underflow (|x| < 1e-162) while the row is a
    # perfectly good direction: rescale just those rows by their largest entry first.
    bad = ~np.isfinite(norms) | ((norms == 0) & np.any(block != 0, axis=1))
    if np.any(bad):
        scale = np.max(np.abs(block[bad]), axis=1)
        scaled = block[bad] / scale[:, None]
        block = block.copy()
        block[bad] = scaled
        norms = norms.copy()
        norms[bad] = np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    norms = np.where(norms == 0, 1.0, norms)
    return block / norms[:, None]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise each row.

    Parameters
    ----------
    x : (N, D) or (D,) array_like

    Returns
    -------
    (N, D) or (D,) ndarray
        Same shape; float32 input stays float32, everything else becomes float64. Rows of
        zero norm stay zero (never NaN). Norms are computed in float64 whatever the dtype.
    """
    arr = np.asarray(x)
    if arr.ndim == 1:
        return unit_rows(arr[None, :])[0]
    if arr.ndim != 2:
        raise LuminaError(f"expected a vector or a matrix of fingerprints, got shape {arr.shape}")
    out = np.empty(arr.shape, dtype=float_dtype(arr.dtype))
    for start in range(0, arr.shape[0], BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        out[start:stop] = unit_block(arr[start:stop].astype(np.float64))
    return out


def matvec(matrix: np.ndarray, vec: np.ndarray) -> np.ndarray:
    # The product runs in the library's dtype: a float32 library gives scores accurate to
    # ~1e-7, far below the 0.044 noise floor, at half the memory traffic of float64.
    return (matrix @ vec.astype(matrix.dtype, copy=False)).astype(np.float64, copy=False)


def check_vector(query: np.ndarray, d: int, what: str = "query fingerprint") -> np.ndarray:
    q = np.asarray(query)
    if q.ndim != 1:
        raise LuminaError(f"{what} must be a 1-D vector, got shape {q.shape}")
    if q.shape[0] != d:
        raise LuminaError(f"{what} has dimension {q.shape[0]}, the library channel has {d}")
    q = q.astype(np.float64)
    if not np.all(np.isfinite(q)):
        raise LuminaError(f"{what} contains NaN or Inf")
    if not np.any(q):
        raise LuminaError(f"{what} is all zeros (no gradient signal to attribute)")
    return q


def cosine_scores(query: np.ndarray, library: np.ndarray) -> np.ndarray:
    """Cosine between one query and every library row (DESIGN §1 step 5).

    Parameters
    ----------
    query : (D,) array_like
    library : (N, D) array_like

    Returns
    -------
    (N,) float64 ndarray
        ``cos(query, library[i])``; rows of zero norm score 0.
    """
    lib = np.asarray(library)
    if lib.ndim != 2:
        raise LuminaError(f"library must be an (N, D) matrix, got shape {lib.shape}")
    q = check_vector(query, lib.shape[1])
    return matvec(unit_rows(lib), unit_rows(q))

"""Unusual input: is a track unlike every song this library holds? (issue 20)

Noise, a test tone or speech is fingerprinted like music and scored against every library
song. The gate decides what is named, and under the default gate noise names nothing, but
nothing told the user that the input was not music the library can speak about: a signed
report listed "top matches" for five minutes of white noise like for a song.

The reference is measured on the library itself, when it is calibrated. A song held out
*together with its relatives* (the calibration's null: the same artist, or the same title
stem) is new music to the rest of the library, and its best match there — the largest
cosine of its fingerprint with a library song's — says how unlike this library new music
still is. The lowest best match among S held-out songs is the reference; a track whose best
match in some channel is below it is *unusual*. For a new track that is like the held-out
songs (music by an artist the library does not hold), the chance of falling below the lowest
of S is 1/(S + 1) per channel, so the sample is large (raw cosines only: O(S·N·D)).

Measured on the demo library (lumina-tiny, 32 songs, all held out in turn; tuned on nothing:
the rule has no parameter). Production channel, held-out songs' best match: lowest 0.196,
median 0.378. White noise (four draws, two levels): 0.10–0.12. A 220 Hz square wave: 0.16.
Music in no library (held-out compositions, new timbres): 0.38–0.92. Composition channel:
held-out songs' lowest 0.986; a 1 kHz sine 0.972; white noise 0.999, so noise is caught by
production only. Brown noise, a 440 Hz sine, clicks and a sweep are *not* caught (0.36–0.50
in production): the rule names what is unlike everything, not everything that is not music.
Cosines of the raw fingerprints, not the centred ones the empirical null scores: centred,
the held-out songs' lowest best match (−0.02) is below white noise's (0.07–0.09).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from lumina.attribution.vectors import matvec, unit_rows

__all__ = ["TYPICALITY_SAMPLE", "UNUSUAL_INPUT", "best_matches", "typicality_reference",
           "unusual_input", "unusual_warning"]

#: Songs held out to measure the reference (all of them in a smaller library).
TYPICALITY_SAMPLE = 256
#: How the warning begins (so views can pick it out of a result's warnings).
UNUSUAL_INPUT = "unusual input"


def best_matches(query: Mapping[str, np.ndarray], units: Mapping[str, np.ndarray]
                 ) -> dict[str, float]:
    """Per channel, the largest cosine of the query's fingerprint with a library song's.

    query : channel → (D,) fingerprint; units : channel → (N, D) unit library rows (a
    memmap is read once). Channels missing from either side are left out.
    """
    return {ch: float(np.max(matvec(unit, unit_rows(np.asarray(query[ch], dtype=np.float64)))))
            for ch, unit in units.items() if ch in query and len(unit)}


def typicality_reference(units: Mapping[str, np.ndarray], groups: Sequence[np.ndarray],
                         rows: np.ndarray, cancelled: Callable[[], bool] = lambda: False
                         ) -> dict[str, dict[str, float | int]]:
    """The best match of each sampled song against the library without it and its
    relatives, summarised per channel.

    units : channel → (N, D) unit rows; groups : per row, the rows of it and its relatives
    (:func:`lumina.calibration.related_groups`); rows : (S,) sampled rows.

    Returns
    -------
    dict
        channel → ``lowest`` and ``median`` best cosine and ``songs`` (how many held-out
        songs had anything left to match). Empty when no song had.

    Raises
    ------
    InterruptedError
        When ``cancelled()`` turns true between songs.
    """
    best: dict[str, list[float]] = {ch: [] for ch in units}
    for j in (int(r) for r in rows):
        if cancelled():
            raise InterruptedError("cancelled")
        for ch, unit in units.items():
            scores = matvec(unit, np.asarray(unit[j]))
            scores[np.asarray(groups[j])] = -np.inf
            top = float(np.max(scores))
            if np.isfinite(top):
                best[ch].append(top)
    return {ch: {"lowest": min(v), "median": float(np.median(v)), "songs": len(v)}
            for ch, v in best.items() if v}


def unusual_input(best: Mapping[str, float],
                  reference: Mapping[str, Mapping[str, float | int]]) -> str | None:
    """One warning line when the track's best match in some channel is below every
    held-out song's (``reference`` from :func:`typicality_reference`), else None."""
    low = [(ch, b, reference[ch]) for ch, b in best.items()
           if ch in reference and b < float(reference[ch]["lowest"])]
    if not low:
        return None
    parts = [f"{ch} best match {b:.2f}, below the lowest of {int(ref['songs'])} songs held out "
             f"of this library ({float(ref['lowest']):.2f})" for ch, b, ref in low]
    return (f"{UNUSUAL_INPUT}: this track is less like any library song than new music is ("
            + "; ".join(parts) + "): noise, a test tone, speech or music far from this "
            "catalog; its matches say little")


def unusual_warning(warnings: Iterable[str]) -> str | None:
    """The unusual-input line among a result's or a report's warnings, if there is one."""
    return next((w for w in warnings if w.startswith(UNUSUAL_INPUT)), None)

"""Loudness normalisation before the codec: a quieter or louder copy is the same track.

Issue 22. The codec of a MusicGen model is not level-invariant: EnCodec's codes for a song
played 6 dB quieter are mostly other codes, so the gradient — and the production channel,
which hears the audio itself — sees another track. Measured on lumina-tiny (the demo
catalog's 32 songs, a 10 s excerpt of each at a seeded offset, ranked by cosine against the 32
songs fingerprinted the same way, composition / production channel on the audio): the source
song is top-1 for 0.78 / 0.88 of the excerpts as they are, 0.12 / 0.09 after −6 dB and
0.19 / 0.25 after +6 dB. With every chunk scaled to an RMS of 0.1 before it is encoded
(library and query alike): 0.72 / 0.81 at −6 dB, 0.72 / 0.81 as they are and 0.72 / 0.84 at
+6 dB (clipped to full scale there). The reference was fixed before measuring, not tuned:
−20 dBFS, the level lumina-tiny's codec normalises to when asked (``REFERENCE_RMS``).

A loudness normalisation is a named, versioned, pure transform of one chunk's samples, like a
rendering (:mod:`lumina.fingerprint.rendering`) and an output function
(:mod:`lumina.fingerprint.output`): fingerprints and libraries record its ``name/version``
(``rms/1``), and fingerprints made with different ones are not comparable. No normalisation
(the paper's mode, and every library made before this module) is recorded as *absent*
(None), so those libraries keep their identity. Renderings are level-invariant already; a
normalisation applies to the audio the codec hears, not to a rendering.

    samples (S,) float32  →  samples · g (S,) float32,
    g = reference_rms / max(rms(samples), reference_rms · 10^(−max_gain_db / 20))

Silence stays silence (rms 0 → g at most ``10^(max_gain_db / 20)``); the result is not
clipped, so halving a chunk changes nothing but rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lumina.fingerprint.versioned import resolve

__all__ = [
    "DEFAULT_LOUDNESS",
    "LOUDNESSES",
    "NATIVE_LOUDNESS",
    "Loudness",
    "get_loudness",
    "loudness_id",
    "loudness_words",
]


@dataclass(frozen=True)
class Loudness:
    """A named, versioned loudness normalisation of one chunk of audio.

    Attributes
    ----------
    name : short identifier, e.g. ``rms``.
    version : bumped whenever the output changes for some input.
    reference_rms : the RMS every chunk is scaled to (0.1 = −20 dBFS; the demo catalog's
        songs lie at 0.09–0.24); 0: none.
    max_gain_db : the most a quiet chunk is raised (near-silence is not raised to full level).
    description : one line for reports and help texts.
    """

    name: str
    version: int
    reference_rms: float
    max_gain_db: float
    description: str

    @property
    def id(self) -> str:
        """``name/version``, e.g. ``rms/1``: what fingerprints and libraries record."""
        return f"{self.name}/{self.version}"

    @property
    def recorded(self) -> str | None:
        """What fingerprints and manifests record: :attr:`id`, or None for no normalisation
        (so what was made before loudness normalisation existed keeps its identity)."""
        return None if self.name == NATIVE_LOUDNESS else self.id

    def apply(self, samples: np.ndarray) -> np.ndarray:
        """``samples`` (S,) scaled as the module docstring says; float32 (S,)."""
        x = np.asarray(samples, dtype=np.float32)
        if self.reference_rms <= 0 or x.size == 0:
            return x
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        quietest = self.reference_rms * 10.0 ** (-self.max_gain_db / 20.0)
        gain = self.reference_rms / max(rms, quietest)
        return (x * np.float32(gain)).astype(np.float32, copy=False)


#: No normalisation: the codec hears the chunk as it is (the paper's mode).
NATIVE_LOUDNESS = "none"
#: What a new library and a bare :class:`~lumina.fingerprint.fingerprinter.Fingerprinter`
#: use. Not ``rms`` yet: lumina-tiny learned its catalog's codes at each song's own level
#: (0.09–0.24 RMS), so bringing every song to 0.1 moves the library away from what the model
#: memorised, and the shipped demo query's production channel then ranks another version of
#: its composition first ("Quiet Engines (Pluck)" for the Organ source). A model whose codec
#: normalises in training (``TrainConfig.codec_normalize``) is what makes ``rms`` the default.
DEFAULT_LOUDNESS = NATIVE_LOUDNESS

LOUDNESSES: dict[str, Loudness] = {
    lv.name: lv for lv in (
        Loudness(NATIVE_LOUDNESS, 1, 0.0, 0.0, "the audio at its own loudness (the paper's mode)"),
        Loudness("rms", 1, 0.1, 40.0, "every 10 s chunk scaled to an RMS of 0.1 (−20 dBFS)"),
    )
}


def get_loudness(name: str | Loudness | None) -> Loudness:
    """The loudness normalisation called ``name`` (``name`` or ``name/version``); None is no
    normalisation (what a fingerprint or manifest without the field was made with).

    Raises
    ------
    ValueError
        Unknown name, or a version this software does not make.
    """
    return resolve(LOUDNESSES, name, "loudness normalisation", NATIVE_LOUDNESS)


def loudness_id(name: str | Loudness | None) -> str | None:
    """What fingerprints record for ``name``: ``name/version``, None for no normalisation."""
    return get_loudness(name).recorded


def loudness_words(recorded: str | None) -> str:
    """How messages name a loudness normalisation: ``loudness normalisation rms/1`` or ``no
    loudness normalisation`` for None."""
    if recorded is None:
        return "no loudness normalisation"
    return f"loudness normalisation {recorded}"

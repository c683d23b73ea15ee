"""The output function a fingerprint is the gradient of (issue 19).

The paper's fingerprint is the gradient of the teacher-forced cross-entropy. On a model that
has learned its catalog this gradient says little about *which* song a track is: per code
it is (p − onehot(y)) · ∂logits/∂θ, and p is nearly one-hot wherever the model knows the
next code, so the few codes it did not predict (a sampled code off the song, a chunk's
first frames) make the whole vector. For a continuation the model sampled itself it is
worse: the expected gradient of its own samples' log-likelihood is zero (score-function
identity), so what remains is mostly the sampling noise.

A *tempered* loss, the cross-entropy of softmax(logits / T), keeps every code's weight
away from zero (for large T it tends to the gradient of the target codes' logits, one term
per code whatever the model predicted), so the gradient follows where in which song the
model thinks the track is. Measured on lumina-tiny with continuations seeded apart from the
study's (``seed 1000 + song``, 32 songs, both channels on the codes): the source is the top
song for the decoded-and-re-encoded continuation 0.16 / 0.16 of the time with the plain
loss, 0.84 / 0.88 (composition / production) at T = 20, the same at T = 50; T = 5 gives
0.69 / 0.81, T = 3 0.22 / 0.34; dropping the first second of each chunk from the plain
loss leaves it at 0.13 / 0.22.

Like a rendering, an output function has a name and a version that fingerprints and
libraries record (:attr:`OutputFunction.id`, e.g. ``tempered/1``); fingerprints made with
different output functions are not comparable. The paper's loss is recorded as *absent*
(None), so libraries and reports made before this module existed keep their identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from lumina.fingerprint.versioned import resolve

__all__ = [
    "DEFAULT_OUTPUT_FUNCTION",
    "OUTPUT_FUNCTIONS",
    "PAPER_OUTPUT_FUNCTION",
    "OutputFunction",
    "get_output_function",
    "output_function_id",
    "output_function_words",
]


@dataclass(frozen=True)
class OutputFunction:
    """A named, versioned function of the model's output whose gradient is the fingerprint.

    Attributes
    ----------
    name : short identifier, e.g. ``tempered``.
    version : bumped whenever the fingerprint changes for some input.
    temperature : T of the cross-entropy of softmax(logits / T); 1 is the paper's loss.
    description : one line for reports and help texts.
    """

    name: str
    version: int
    temperature: float
    description: str

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    @property
    def id(self) -> str:
        """``name/version``, e.g. ``tempered/1``: what fingerprints and libraries record."""
        return f"{self.name}/{self.version}"

    @property
    def recorded(self) -> str | None:
        """What fingerprints and manifests record: :attr:`id`, or None for the paper's loss
        (so what was made before output functions existed keeps its identity)."""
        return None if self.name == PAPER_OUTPUT_FUNCTION else self.id


#: The paper's output function: the plain teacher-forced cross-entropy.
PAPER_OUTPUT_FUNCTION = "loss"
#: What a new library and a bare :class:`~lumina.fingerprint.fingerprinter.Fingerprinter`
#: use (the module docstring gives the measurement that chose it).
DEFAULT_OUTPUT_FUNCTION = "tempered"

OUTPUT_FUNCTIONS: dict[str, OutputFunction] = {
    f.name: f for f in (
        OutputFunction(PAPER_OUTPUT_FUNCTION, 1, 1.0,
                       "the teacher-forced cross-entropy (the paper's loss)"),
        OutputFunction("tempered", 1, 20.0,
                       "the teacher-forced cross-entropy of softmax(logits / 20)"),
    )
}


def get_output_function(name: str | OutputFunction | None) -> OutputFunction:
    """The output function called ``name`` (``name`` or ``name/version``); None is the
    paper's loss (what a fingerprint or manifest without the field was made with).

    Raises
    ------
    ValueError
        Unknown name, or a version this software does not make.
    """
    return resolve(OUTPUT_FUNCTIONS, name, "output function", PAPER_OUTPUT_FUNCTION)


def output_function_id(name: str | OutputFunction | None) -> str | None:
    """What fingerprints record for ``name``: ``name/version``, None for the paper's loss."""
    return get_output_function(name).recorded


def output_function_words(recorded: str | None) -> str:
    """How messages name an output function: ``the tempered/1 output function`` or ``the
    paper's loss`` for None."""
    return "the paper's loss" if recorded is None else f"the {recorded} output function"

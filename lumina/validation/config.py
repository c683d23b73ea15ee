"""The sizes and seeds of one validation run (:class:`ValidationConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HELDOUT_TIMBRES", "ValidationConfig"]

HELDOUT_TIMBRES = (4, 5)  # timbres of make_timbres(6) that no catalog up to 4 timbres holds


@dataclass(frozen=True)
class ValidationConfig:
    """Sizes and seeds of one validation run (recorded in the JSON's ``protocol``)."""

    quick: bool = False
    catalog_seed: int = 0
    n_compositions: int = 8
    n_timbres: int = 4
    seconds: float = 24.0
    # row 2: continuations
    prompt_seconds: float = 3.0
    continuation_seconds: float = 10.0
    repeats: int = 4  # continuations per catalog song
    generation_seed: int = 0  # seed of song i, repeat r: generation_seed + 100 r + i
    temperature: float = 1.0
    top_k: int = 32
    # row 4: held-out queries
    n_heldout: int = 8  # held-out compositions, each in every held-out timbre
    # row 1
    repro_tracks: int = 4
    repro_seconds: float = 80.0
    repro_batch: int = 8
    # row 5
    mp3_kbps: int = 128
    pitch_semitones: float = 1.0
    tempo_change: float = 0.05
    noise_snr_db: float = 20.0
    gain_db: float = 6.0
    noise_seed: int = 12345
    excerpt_seconds: float = 10.0
    # row 9: excerpts at random offsets (2 per song; 1 in the quick study)
    segments_seed: int = 9
    # the composition channel's input: a rendering name, or "plain" for the audio itself
    composition_rendering: str = "plain"
    # the function the fingerprints are the gradient of (lumina.fingerprint.output)
    output_function: str = "tempered"
    # the audio's loudness normalisation before the codec (lumina.fingerprint.loudness)
    loudness: str = "none"

    @classmethod
    def full(cls) -> ValidationConfig:
        """The demo catalog (8 × 4 songs of 24 s, what lumina-tiny was trained on)."""
        return cls()

    @classmethod
    def quick_config(cls) -> ValidationConfig:
        """A reduced study for tests and a first look: 4 × 2 songs of 8 s (the first
        compositions and timbres of the training catalog), one continuation per song."""
        return cls(quick=True, n_compositions=4, n_timbres=2, seconds=8.0, repeats=1,
                   n_heldout=4, repro_tracks=2, repro_seconds=30.0)

    @property
    def catalog_key(self) -> str:
        """The demo cache's catalog key (the same folder ``lumina demo`` uses)."""
        return (f"{self.n_compositions}x{self.n_timbres}x{self.seconds:g}s"
                f"-seed{self.catalog_seed}")

    def excerpt(self) -> tuple[float, float]:
        """(start, length) in seconds of the excerpt: ``excerpt_seconds`` (at most half the
        song), centred in the song."""
        length = min(self.excerpt_seconds, self.seconds / 2)
        return (self.seconds - length) / 2, length

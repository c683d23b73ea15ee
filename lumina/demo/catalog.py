"""The procedural demo catalog: compositions × timbres, rendered deterministically.

A *composition* is what a songwriter owns — tempo, key, chord progression, melody and groove.
A *timbre* is what a producer and a band own — the instruments, their envelopes, the drum kit
and the room. Crossing the two gives a catalog in which both factors are known by construction,
which is what the validation study needs to test the composition (P) and production (M)
channels separately (DESIGN.md §1 item 2 and §6): the same composition in another timbre is a
"cover", the same timbre under another composition is "the same act, another song".

Everything is a pure function of its arguments: compositions come from a seeded
``numpy`` Generator, timbres are fixed tables (each with its own fixed room), and each song's
noise (string excitations, drum hits) is seeded from the catalog seed and the song's two ids.
Same seed, same bytes — on one machine and numpy build; transcendental functions may differ in
the last bit across CPUs and builds, so compare features, not hashes, across machines.

The default catalog is 8 compositions × the first 4 timbres = 32 songs of 24 s, mono, 32 kHz
(the codec's rate). Timbres 4 and 5 (and :func:`heldout_compositions`) are never in the default
catalog, so validation can use unseen timbres and compositions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from lumina.demo.synth import midi_to_hz, one_pole_lowpass, pluck, saw_blep, vibrato_cycles
from lumina.errors import CancelFlag, Cancelled, is_cancelled

SAMPLE_RATE = 32000
BEATS_PER_BAR = 4
STEPS_PER_BAR = 16  # the drum grid: sixteenth notes
CATALOG_FORMAT = "lumina-demo-catalog"
CATALOG_VERSION = 1
ISRC_PREFIX = "ZZLUM26"  # "ZZ" is no country's ISRC code: these recordings are fictional

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
_NUMERALS = ("I", "II", "III", "IV", "V", "VI", "VII")

# Four-chord loops of popular music, one chord per bar. In minor, "V" is the harmonic-minor
# dominant (major third = the raised seventh); the melody follows that alteration.
_PROGRESSIONS = {
    "major": (("I", "V", "vi", "IV"), ("I", "vi", "IV", "V"), ("vi", "IV", "I", "V"),
              ("I", "IV", "vi", "V"), ("I", "iii", "IV", "V"), ("ii", "V", "I", "vi"),
              ("I", "IV", "ii", "V"), ("IV", "I", "V", "vi")),
    "minor": (("i", "VI", "III", "VII"), ("i", "iv", "v", "i"), ("i", "VII", "VI", "V"),
              ("i", "iv", "VII", "III"), ("i", "VI", "iv", "V"), ("i", "III", "VII", "iv")),
}

# Drum grooves on a 16-step bar: X accent, x normal, o ghost, . rest.
_GROOVES = {
    "backbeat": ("X.......X.x.....", "....X.......X...", "x.o.x.o.x.o.x.o."),
    "four-on-the-floor": ("X...X...X...X...", "....X.......X...", "..x...x...x...x."),
    "half-time": ("X.....x...X.....", "........X.......", "x.o.x.o.x.o.x.o."),
    "boom-bap": ("X..x......X..o..", "....X.......X...", "xoxoxoxoxoxoxoxo"),
    "bossa": ("X..xX..xX..xX..x", "x..x..x...x..x..", "xoxoxoxoxoxoxoxo"),
    "pop": ("X......xX.......", "....X.......X..o", "x.x.x.x.x.x.x.x."),
}
_FILL_SNARE = "....X.......XxXX"  # the last bar of the form leads back into the top

# Chord comping: (onset step, length in steps) within a bar.
_COMP_RHYTHMS = {
    "whole": ((0, 16),),
    "halves": ((0, 8), (8, 8)),
    "offbeats": ((2, 2), (6, 2), (10, 2), (14, 2)),
    "charleston": ((0, 6), (6, 10)),
    "quarters": ((0, 3), (4, 3), (8, 3), (12, 3)),
    "push": ((0, 6), (6, 4), (10, 6)),
}
# Bass: (onset step, length in steps, chord tone: 0 root, 1 third, 2 fifth, 3 octave).
_BASS_RHYTHMS = {
    "roots": ((0, 7, 0), (8, 7, 0)),
    "pump": tuple((s, 2, 3 if s == 14 else 0) for s in range(0, 16, 2)),
    "root-fifth": ((0, 6, 0), (6, 2, 2), (8, 6, 0), (14, 2, 2)),
    "syncopated": ((0, 3, 0), (3, 3, 0), (6, 2, 2), (8, 3, 0), (11, 3, 3), (14, 2, 2)),
    "arpeggio": ((0, 4, 0), (4, 4, 1), (8, 4, 2), (12, 4, 1)),
}

# Melody rhythm cells for one bar: (onset beat, length in beats).
_CELLS = (
    ((0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)),
    ((0.0, 1.5), (1.5, 0.5), (2.0, 2.0)),
    ((0.0, 0.5), (0.5, 0.5), (1.0, 1.0), (2.0, 2.0)),
    ((0.0, 1.0), (1.0, 0.5), (1.5, 0.5), (2.0, 1.0), (3.0, 1.0)),
    ((0.0, 2.0), (2.0, 1.0), (3.0, 1.0)),
    ((0.0, 1.0), (1.0, 1.0), (2.0, 1.5), (3.5, 0.5)),
    ((0.5, 0.5), (1.0, 1.0), (2.0, 1.5), (3.5, 0.5)),
    ((0.0, 0.75), (0.75, 0.75), (1.5, 0.5), (2.0, 2.0)),
)
# The bar that ends a phrase: a long last note, then breath.
_CADENCE_CELLS = (
    ((0.0, 1.0), (1.0, 1.0), (2.0, 2.0)),
    ((0.0, 1.5), (1.5, 0.5), (2.0, 2.0)),
    ((0.0, 0.5), (0.5, 0.5), (1.0, 1.0), (2.0, 2.0)),
    ((0.0, 2.0), (2.0, 2.0)),
    ((0.0, 1.0), (1.0, 3.0)),
)

_CATALOG_NAMES = (
    "Harbor Lights", "Paper Lanterns", "Salt and Cedar", "Northbound", "Glasshouse",
    "Quiet Engines", "Marigold Hour", "Low Tide Letters", "Copper Skies", "The Long Field",
    "Velvet Static", "Orchard Road", "Blue Meridian", "Lighthouse Keeper", "Small Hours",
    "Amber Window", "Silver Thread", "Winter Ferry", "Open Country", "Pale Fire Waltz",
    "Riverstone", "Satellite Heart", "Foxglove", "Cobalt Morning",
)
_HELDOUT_NAMES = (
    "Distant Semaphore", "Ink and Ember", "Hollow Pines", "Saffron Rain", "The Tin Compass",
    "Moth Light", "Greyhound Sunrise", "Tidal Archive", "Juniper Smoke", "Nightjar",
    "Chalk Harbour", "Lemon Tree Static",
)
_CATALOG_STREAM, _HELDOUT_STREAM = 0, 1  # SeedSequence tags: the two never share a stream
HELDOUT_ID_BASE = 1000  # held-out composition ids start here, far from catalog ids
N_TIMBRES = 6  # timbres defined by make_timbres

ParamValue = float | tuple[float, ...]


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Composition:
    """What a songwriter owns: tempo, key, harmony, melody and groove.

    Attributes
    ----------
    id : index in its catalog (held-out compositions start at ``HELDOUT_ID_BASE``).
    name : song name, e.g. "Harbor Lights".
    tempo_bpm : quarter notes per minute.
    key_root : MIDI note of the tonic in the melody's octave (60–71, C4–B4).
    mode : "major" or "minor".
    progression : roman numerals, one chord per bar, looped over ``bars``.
    chords : MIDI triads of ``progression`` in close position around C4 (F3–E4).
    melody : ``(start_beat, dur_beats, midi)`` over the whole form of ``bars`` bars.
    groove : name of the drum pattern.
    kick, snare, hat : 16-step velocities (0–1) of one bar.
    comp_rhythm : ``(onset_step, steps)`` of the chord hits in a bar.
    bass_rhythm : ``(onset_step, steps, chord_tone)``; chord tone 0 root, 1 third, 2 fifth,
        3 octave.
    bars : length of the form in 4/4 bars; a song loops the form.
    """

    id: int
    name: str
    tempo_bpm: float
    key_root: int
    mode: str
    progression: tuple[str, ...]
    chords: tuple[tuple[int, int, int], ...]
    melody: tuple[tuple[float, float, int], ...]
    groove: str
    kick: tuple[float, ...]
    snare: tuple[float, ...]
    hat: tuple[float, ...]
    comp_rhythm: tuple[tuple[int, int], ...]
    bass_rhythm: tuple[tuple[int, int, int], ...]
    bars: int = 8

    @property
    def key_name(self) -> str:
        return f"{NOTE_NAMES[self.key_root % 12]} {self.mode}"

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.tempo_bpm

    @property
    def form_seconds(self) -> float:
        return self.bars * BEATS_PER_BAR * self.beat_seconds

    def chord_at(self, bar: int) -> tuple[int, int, int]:
        return self.chords[bar % len(self.chords)]


@dataclass(frozen=True)
class Envelope:
    """Amplitude envelope of a note: linear attack, exponential decay, release after note-off.

    ``decay`` is the time constant (s) of the fall from 1 to ``sustain``; ``release`` the time
    (s) of the fade after the note's gate closes.
    """

    attack: float
    decay: float
    sustain: float
    release: float


@dataclass(frozen=True)
class Voice:
    """One instrument of a timbre.

    ``kind`` is one of "additive", "fm", "pluck", "saw"; ``params`` its settings as
    ``(name, value)`` pairs (a tuple, so the dataclass stays hashable and JSON-friendly).
    """

    kind: str
    params: tuple[tuple[str, ParamValue], ...]
    envelope: Envelope
    gain: float

    def param(self, name: str, default: ParamValue = 0.0) -> ParamValue:
        for key, value in self.params:
            if key == name:
                return value
        return default

    def num(self, name: str, default: float = 0.0) -> float:
        value = self.param(name, default)
        if isinstance(value, tuple):
            raise TypeError(f"parameter {name!r} of a {self.kind} voice is not a number")
        return float(value)


@dataclass(frozen=True)
class DrumKit:
    """A synthetic drum kit: a pitch-swept kick, a tone+noise snare, a high-passed hat."""

    kick_hz: float  # where the kick's pitch settles
    kick_start_hz: float  # where it starts (the "thump")
    kick_sweep: float  # s, time constant of the pitch drop
    kick_decay: float  # s
    snare_hz: float
    snare_tone_decay: float
    snare_noise_decay: float
    snare_band: tuple[float, float]  # Hz, band of the noise (the "wires")
    snare_tone: float  # 0–1, tone vs noise
    hat_cutoff: float  # Hz, high-pass of the hat noise
    hat_decay: float
    kick_gain: float
    snare_gain: float
    hat_gain: float


@dataclass(frozen=True)
class Timbre:
    """What a producer owns: lead, comping and bass instruments, a drum kit and a room.

    ``artist`` is the fictional act that plays in this timbre: in the catalog, "artist" and
    timbre are the same factor, as they are for a real band's sound.
    """

    id: int
    name: str
    artist: str
    lead: Voice
    comp: Voice
    bass: Voice
    kit: DrumKit
    reverb_mix: float
    reverb_seconds: float
    strum: float = 0.0  # s between successive chord notes (a guitar strum); 0 = block chords
    # The act's master-bus EQ: (Hz, dB) points, interpolated in log frequency, flat beyond
    # the ends. A band's mix sound is part of its identity (warm, airy, lo-fi …).
    eq: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Song:
    """One catalog recording: a composition played in a timbre.

    ``seed`` (see :func:`song_seed`) seeds the song's noise (string excitations, drum hits)
    and is all :func:`render_song` needs besides the composition and timbre.
    """

    id: str
    title: str
    artist: str
    composition_id: int
    timbre_id: int
    duration: float
    seed: int
    isrc: str

    @property
    def filename(self) -> str:
        return f"{self.id}.wav"


# --------------------------------------------------------------------------- timbres


def _p(**kwargs: ParamValue) -> tuple[tuple[str, ParamValue], ...]:
    return tuple(kwargs.items())


def make_timbres(n: int = 4) -> list[Timbre]:
    """The first ``n`` timbres of the fixed table (``n`` ≤ ``N_TIMBRES``).

    Returns
    -------
    Organ, Bell, Pluck, Pad — the default catalog's four — then Marimba and Brass, which no
    default catalog contains (held out for validation: ``make_timbres(N_TIMBRES)[4:]``).
    """
    timbres = [
        Timbre(
            0, "Organ", "The Drawbar Parish",
            # Drawbars 8', 4', 2 2/3', 2', 1 1/3', 1' plus a decaying third-harmonic
            # "percussion" and a Leslie-like wobble.
            lead=Voice("additive", _p(ratios=(1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 3.0),
                                      amps=(1.0, 0.6, 0.4, 0.3, 0.15, 0.1, 0.5),
                                      decays=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.15),
                                      vibrato_cents=10.0, vibrato_hz=6.2,
                                      tremolo=0.15, tremolo_hz=6.2),
                       Envelope(0.008, 0.1, 0.85, 0.08), 0.3),
            comp=Voice("additive", _p(ratios=(1.0, 2.0, 4.0), amps=(1.0, 0.5, 0.25),
                                      decays=(0.0, 0.0, 0.0), tremolo=0.1, tremolo_hz=6.2),
                       Envelope(0.02, 0.2, 0.8, 0.12), 0.1),
            bass=Voice("additive", _p(ratios=(1.0, 2.0, 3.0), amps=(1.0, 0.35, 0.1),
                                      decays=(0.0, 0.0, 0.0)),
                       Envelope(0.01, 0.3, 0.7, 0.06), 0.25),
            kit=DrumKit(kick_hz=55.0, kick_start_hz=150.0, kick_sweep=0.03,
                        kick_decay=0.18, snare_hz=210.0, snare_tone_decay=0.06,
                        snare_noise_decay=0.09, snare_band=(1500.0, 8000.0), snare_tone=0.4,
                        hat_cutoff=7000.0, hat_decay=0.035, kick_gain=0.57,
                        snare_gain=1.2, hat_gain=0.18),
            reverb_mix=0.18, reverb_seconds=1.2,
            eq=((100.0, -2.0), (800.0, 3.0), (3000.0, 0.0), (10000.0, -6.0)),
        ),
        Timbre(
            1, "Bell", "Lantern Bell Choir",
            # Two-operator FM with an inharmonic 3.5 ratio whose index dies away: a bright,
            # clangy strike that settles into an almost pure tone, as a struck bell does.
            lead=Voice("fm", _p(ratio=3.5, index=2.2, index_decay=0.25, index_floor=0.12),
                       Envelope(0.003, 1.2, 0.0, 0.6), 0.34),
            comp=Voice("fm", _p(ratio=1.0, index=1.5, index_decay=0.4, index_floor=0.2),
                       Envelope(0.004, 1.0, 0.05, 0.3), 0.14),
            bass=Voice("fm", _p(ratio=1.0, index=1.0, index_decay=0.15, index_floor=0.05),
                       Envelope(0.005, 0.5, 0.3, 0.08), 0.28),
            kit=DrumKit(kick_hz=45.0, kick_start_hz=120.0, kick_sweep=0.05,
                        kick_decay=0.45, snare_hz=330.0, snare_tone_decay=0.03,
                        snare_noise_decay=0.05, snare_band=(2500.0, 12000.0), snare_tone=0.6,
                        hat_cutoff=9000.0, hat_decay=0.05, kick_gain=0.36,
                        snare_gain=1.65, hat_gain=0.13),
            reverb_mix=0.3, reverb_seconds=2.0,
            eq=((60.0, 2.0), (500.0, -3.0), (4000.0, 0.0), (12000.0, 6.0)),
        ),
        Timbre(
            2, "Pluck", "Nylon Cartographers",
            lead=Voice("pluck", _p(damping=0.998, brightness=14.0),
                       Envelope(0.001, 10.0, 1.0, 0.08), 0.48),
            comp=Voice("pluck", _p(damping=0.996, brightness=8.0),
                       Envelope(0.001, 10.0, 1.0, 0.1), 0.09),
            bass=Voice("pluck", _p(damping=0.998, brightness=5.0),
                       Envelope(0.001, 10.0, 1.0, 0.06), 0.13),
            kit=DrumKit(kick_hz=50.0, kick_start_hz=90.0, kick_sweep=0.02,
                        kick_decay=0.22, snare_hz=180.0, snare_tone_decay=0.05,
                        snare_noise_decay=0.18, snare_band=(800.0, 5000.0), snare_tone=0.25,
                        hat_cutoff=5000.0, hat_decay=0.06, kick_gain=0.16,
                        snare_gain=0.21, hat_gain=0.037),
            reverb_mix=0.22, reverb_seconds=1.0, strum=0.018,
            eq=((80.0, -6.0), (300.0, 0.0), (2500.0, 4.0), (10000.0, 0.0)),
        ),
        Timbre(
            3, "Pad", "Slow Tide Collective",
            lead=Voice("saw", _p(unison=2.0, detune_cents=8.0, cutoff=1800.0,
                                 vibrato_cents=8.0, vibrato_hz=5.0),
                       Envelope(0.06, 0.5, 0.7, 0.25), 0.3),
            comp=Voice("saw", _p(unison=3.0, detune_cents=10.0, cutoff=900.0),
                       Envelope(0.35, 1.0, 0.8, 0.6), 0.096),
            bass=Voice("saw", _p(unison=1.0, cutoff=350.0),
                       Envelope(0.01, 0.4, 0.6, 0.1), 0.15),
            kit=DrumKit(kick_hz=42.0, kick_start_hz=80.0, kick_sweep=0.06,
                        kick_decay=0.5, snare_hz=160.0, snare_tone_decay=0.1,
                        snare_noise_decay=0.25, snare_band=(400.0, 3500.0), snare_tone=0.3,
                        hat_cutoff=6000.0, hat_decay=0.02, kick_gain=0.15,
                        snare_gain=0.26, hat_gain=0.084),
            reverb_mix=0.28, reverb_seconds=2.6,
            eq=((60.0, 3.0), (400.0, 1.0), (2000.0, -4.0), (6000.0, -14.0)),
        ),
        Timbre(
            4, "Marimba", "Rosewood Mallet Club",
            # A tuned bar's overtones sit near 1 : 3.93 : 9.54 (inharmonic) and die fast.
            lead=Voice("additive", _p(ratios=(1.0, 3.93, 9.54), amps=(1.0, 0.4, 0.12),
                                      decays=(0.5, 0.12, 0.04)),
                       Envelope(0.002, 10.0, 1.0, 0.1), 0.5),
            comp=Voice("additive", _p(ratios=(1.0, 3.93, 9.54), amps=(1.0, 0.3, 0.08),
                                      decays=(0.35, 0.08, 0.03)),
                       Envelope(0.002, 10.0, 1.0, 0.1), 0.185),
            bass=Voice("additive", _p(ratios=(1.0, 3.93), amps=(1.0, 0.25), decays=(0.8, 0.1)),
                       Envelope(0.003, 10.0, 1.0, 0.08), 0.27),
            kit=DrumKit(kick_hz=60.0, kick_start_hz=110.0, kick_sweep=0.02,
                        kick_decay=0.15, snare_hz=520.0, snare_tone_decay=0.04,
                        snare_noise_decay=0.03, snare_band=(3000.0, 9000.0), snare_tone=0.7,
                        hat_cutoff=8000.0, hat_decay=0.025, kick_gain=0.54,
                        snare_gain=1.6, hat_gain=0.18),
            reverb_mix=0.2, reverb_seconds=1.4,
            eq=((100.0, -4.0), (1000.0, 3.0), (8000.0, -3.0)),
        ),
        Timbre(
            5, "Brass", "Copper Avenue Horns",
            # A saw whose low-pass opens on each attack and closes again: the "blat" of brass.
            lead=Voice("saw", _p(unison=2.0, detune_cents=5.0, cutoff=700.0, env_amount=2600.0,
                                 env_decay=0.25, vibrato_cents=10.0, vibrato_hz=5.5),
                       Envelope(0.03, 0.3, 0.8, 0.1), 0.3),
            comp=Voice("saw", _p(unison=2.0, detune_cents=6.0, cutoff=600.0, env_amount=1500.0,
                                 env_decay=0.2),
                       Envelope(0.04, 0.3, 0.7, 0.15), 0.076),
            bass=Voice("saw", _p(unison=1.0, cutoff=500.0, env_amount=800.0, env_decay=0.1),
                       Envelope(0.01, 0.3, 0.7, 0.08), 0.105),
            kit=DrumKit(kick_hz=55.0, kick_start_hz=160.0, kick_sweep=0.025,
                        kick_decay=0.25, snare_hz=240.0, snare_tone_decay=0.07,
                        snare_noise_decay=0.12, snare_band=(1200.0, 10000.0), snare_tone=0.35,
                        hat_cutoff=7500.0, hat_decay=0.05, kick_gain=0.14,
                        snare_gain=0.28, hat_gain=0.041),
            reverb_mix=0.2, reverb_seconds=1.6,
            eq=((100.0, -4.0), (600.0, 0.0), (3000.0, 5.0), (12000.0, 3.0)),
        ),
    ]
    assert len(timbres) == N_TIMBRES
    if not 1 <= n <= N_TIMBRES:
        raise ValueError(f"n must be between 1 and {N_TIMBRES}, got {n}")
    return timbres[:n]


# --------------------------------------------------------------------------- compositions


def _pattern(text: str) -> tuple[float, ...]:
    levels = {"X": 1.0, "x": 0.7, "o": 0.4, ".": 0.0}
    assert len(text) == STEPS_PER_BAR, text
    return tuple(levels[c] for c in text)


def _chord_pcs(numeral: str, tonic_pc: int, mode: str) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of a roman numeral in a key."""
    dim = numeral.endswith("°")
    base = numeral.rstrip("°")
    degree = _NUMERALS.index(base.upper())
    root = (tonic_pc + SCALES[mode][degree]) % 12
    third = 3 if base.islower() else 4
    fifth = 6 if dim else 7
    return root, (root + third) % 12, (root + fifth) % 12


def _voice_chord(pcs: tuple[int, int, int], low: int = 53) -> tuple[int, int, int]:
    """Each pitch class in the octave ``[low, low + 12)``: a close voicing that keeps
    common tones still between chords (a cheap form of voice leading)."""
    root, third, fifth = (low + (pc - low) % 12 for pc in pcs)
    return root, third, fifth


class _Pitch:
    """Maps melodic scale degrees to MIDI notes in a key, honouring chord alterations.

    Degree 0 is the tonic at ``key_root``; 7 is an octave above. Where a chord holds a
    pitch a semitone above the scale's (the raised seventh of V in minor), that degree is
    raised under that chord, so the tune never clashes with its own harmony.
    """

    def __init__(self, key_root: int, mode: str) -> None:
        self.key_root = key_root
        self.scale = SCALES[mode]

    def midi(self, degree: int, chord_pcs: Sequence[int]) -> int:
        note = self.key_root + 12 * (degree // 7) + self.scale[degree % 7]
        if note % 12 not in chord_pcs and (note + 1) % 12 in chord_pcs:
            scale_pcs = {(self.key_root + s) % 12 for s in self.scale}
            if (note + 1) % 12 not in scale_pcs:
                note += 1
        return note

    def chord_degrees(self, numeral: str, low: int, high: int) -> list[int]:
        """Scale degrees in ``[low, high]`` that are chord tones of ``numeral``."""
        root = _NUMERALS.index(numeral.rstrip("°").upper())
        return [d for d in range(low, high + 1) if (d - root) % 7 in (0, 2, 4)]


_MEL_LOW, _MEL_HIGH = -1, 8  # melody range in scale degrees: about key_root−2 … key_root+14


def _bar_melody(rng: np.random.Generator, cell: Sequence[tuple[float, float]], numeral: str,
                pitch: _Pitch, prev: int, last_step: int, rising: bool,
                cadence: str | None) -> tuple[list[int], int]:
    """Scale degrees for one bar of melody.

    Strong beats (1 and 3) and long notes take chord tones near the previous note; the other
    notes move by step, sometimes by a third, and a leap is followed by a step back (gap
    fill), as singable tunes do. ``cadence`` ("open"/"closed") fixes the last note: a third or
    fifth leaves the phrase open, the tonic (or chord root) closes it.

    Returns
    -------
    (degrees, last_step): one degree per note of ``cell``, and the last melodic interval.
    """
    degrees: list[int] = []
    tones = pitch.chord_degrees(numeral, _MEL_LOW, _MEL_HIGH)
    root = _NUMERALS.index(numeral.rstrip("°").upper())
    for i, (onset, dur) in enumerate(cell):
        last = i == len(cell) - 1
        if last and cadence is not None:
            if cadence == "closed":
                targets = [d for d in tones if d % 7 == 0] or [d for d in tones
                                                                 if (d - root) % 7 == 0]
            else:
                targets = [d for d in tones if (d - root) % 7 != 0] or tones
            d = min(targets, key=lambda t: (abs(t - prev), t))
        elif onset % 2 == 0 or dur >= 1.5:
            weights = np.array([np.exp(-abs(t - prev) / 1.5) * (0.35 if t == prev else 1.0)
                                for t in tones])
            d = tones[int(rng.choice(len(tones), p=weights / weights.sum()))]
        else:
            if abs(last_step) >= 3:
                step = -int(np.sign(last_step))
            else:
                size = int(rng.choice([1, 2, 0], p=[0.7, 0.2, 0.1]))
                up = rng.random() < (0.65 if rising else 0.35)
                step = size if up else -size
            d = prev + step
            if not _MEL_LOW <= d <= _MEL_HIGH:
                d = prev - step
        last_step, prev = d - prev, d
        degrees.append(d)
    return degrees, last_step


def _make_melody(rng: np.random.Generator, progression: Sequence[str], pitch: _Pitch,
                 mode: str, bars: int) -> tuple[tuple[float, float, int], ...]:
    """An ``bars``-bar tune built from 4-bar phrases: A, then A' (and so on).

    Phrase A uses rhythm cells a b a c_open, and its third bar is a diatonic sequence of the
    first (the same shape moved to the new chord, which maps chord tones onto chord tones).
    A' repeats A's first two bars note for note, then answers with a new third bar and a
    closing cadence on the tonic.
    """
    cell_a, cell_b, cell_c = (_CELLS[int(i)] for i in rng.choice(len(_CELLS), 3, replace=False))
    open_cell = _CADENCE_CELLS[int(rng.integers(len(_CADENCE_CELLS)))]
    closed_cell = _CADENCE_CELLS[int(rng.integers(len(_CADENCE_CELLS)))]
    chord_pcs = [_chord_pcs(n, pitch.key_root % 12, mode) for n in progression]

    def numeral(bar: int) -> str:
        return progression[bar % len(progression)]

    start = int(rng.choice([0, 2, 4]))  # begin on tonic, third or fifth
    # Phrase A.
    d0, step = _bar_melody(rng, cell_a, numeral(0), pitch, start, 0, True, None)
    d1, step = _bar_melody(rng, cell_b, numeral(1), pitch, d0[-1], step, True, None)
    root0 = _NUMERALS.index(numeral(0).rstrip("°").upper())
    root2 = _NUMERALS.index(numeral(2).rstrip("°").upper())
    shift = min(((root2 - root0) % 7, (root2 - root0) % 7 - 7), key=abs)
    d2 = [d + shift for d in d0]
    while max(d2) > _MEL_HIGH:
        d2 = [d - 7 for d in d2]
    while min(d2) < _MEL_LOW:
        d2 = [d + 7 for d in d2]
    d3, _ = _bar_melody(rng, open_cell, numeral(3), pitch, d2[-1], d2[-1] - d2[-2], False,
                        "open")
    phrase_a = [d0, d1, d2, d3]
    # Phrase A': same opening, new answer, closed cadence.
    e2, step = _bar_melody(rng, cell_c, numeral(2), pitch, d1[-1], 0, False, None)
    e3, _ = _bar_melody(rng, closed_cell, numeral(3), pitch, e2[-1], step, False, "closed")
    phrase_b = [d0, d1, e2, e3]
    cells_a = [cell_a, cell_b, cell_a, open_cell]
    cells_b = [cell_a, cell_b, cell_c, closed_cell]

    notes: list[tuple[float, float, int]] = []
    for bar in range(bars):
        phrase, cells = (phrase_a, cells_a) if (bar // 4) % 2 == 0 else (phrase_b, cells_b)
        degrees = phrase[bar % 4]
        for (onset, dur), d in zip(cells[bar % 4], degrees, strict=True):
            midi = pitch.midi(d, chord_pcs[bar % len(progression)])
            notes.append((float(bar * BEATS_PER_BAR + onset), float(dur), midi))
    return tuple(notes)


def _compositions(n: int, seed: int, stream: int, first_id: int,
                  names: Sequence[str]) -> list[Composition]:
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng([seed, stream])
    # Distinct keys while there are keys left, so compositions differ in pitch content.
    keys = np.concatenate([rng.permutation(12) for _ in range(-(-n // 12))])[:n]
    name_order = rng.permutation(len(names))
    # Each mode deals its progressions from a shuffled deck, so none repeats before all
    # have been used.
    decks = {mode: [int(j) for j in rng.permutation(len(pool))]
             for mode, pool in _PROGRESSIONS.items()}
    dealt = {mode: 0 for mode in _PROGRESSIONS}
    out = []
    for i in range(n):
        mode = "major" if rng.random() < 0.6 else "minor"
        deck = decks[mode]
        progression = _PROGRESSIONS[mode][deck[dealt[mode] % len(deck)]]
        dealt[mode] += 1
        tonic = int(keys[i])
        key_root = 60 + tonic  # C4..B4: melody between ~Bb3 and ~C#6
        pitch = _Pitch(key_root, mode)
        melody = _make_melody(rng, progression, pitch, mode, bars=8)
        groove = sorted(_GROOVES)[int(rng.integers(len(_GROOVES)))]
        kick, snare, hat = (_pattern(p) for p in _GROOVES[groove])
        comp = _COMP_RHYTHMS[sorted(_COMP_RHYTHMS)[int(rng.integers(len(_COMP_RHYTHMS)))]]
        bass = _BASS_RHYTHMS[sorted(_BASS_RHYTHMS)[int(rng.integers(len(_BASS_RHYTHMS)))]]
        tempo = float(round(rng.uniform(84, 128)))
        base = names[int(name_order[i % len(names)])]
        name = base if i < len(names) else f"{base} {_roman(i // len(names) + 1)}"
        out.append(Composition(
            id=first_id + i, name=name, tempo_bpm=tempo, key_root=key_root, mode=mode,
            progression=progression,
            chords=tuple(_voice_chord(_chord_pcs(c, tonic, mode)) for c in progression),
            melody=melody, groove=groove, kick=kick, snare=snare, hat=hat,
            comp_rhythm=comp, bass_rhythm=bass, bars=8,
        ))
    return out


def _roman(k: int) -> str:
    """Sequel numbering for names reused when ``n`` exceeds the name list."""
    numerals = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
    return numerals[k - 1] if k <= len(numerals) else str(k)


def make_compositions(n: int = 8, seed: int = 0) -> list[Composition]:
    """``n`` seeded compositions with ids 0…n−1 (distinct keys for the first 12)."""
    return _compositions(n, seed, _CATALOG_STREAM, 0, _CATALOG_NAMES)


def heldout_compositions(n: int = 4, seed: int = 0) -> list[Composition]:
    """Compositions that are never in a catalog: another seed stream, ids from
    ``HELDOUT_ID_BASE``, names from another list. For validation on unseen songs."""
    return _compositions(n, seed, _HELDOUT_STREAM, HELDOUT_ID_BASE, _HELDOUT_NAMES)


# --------------------------------------------------------------------------- rendering


def _envelope(n_gate: int, n: int, rate: int, env: Envelope) -> np.ndarray:
    """Gain (n,) of a note whose gate lasts ``n_gate`` samples and whose tail fills ``n``."""
    t = np.arange(n) / rate
    attack = max(env.attack, 1e-4)
    level = np.minimum(t / attack, 1.0)
    level *= env.sustain + (1.0 - env.sustain) * np.exp(-np.maximum(t - attack, 0.0)
                                                        / max(env.decay, 1e-4))
    gate_s = n_gate / rate
    fade = np.clip(1.0 - (t - gate_s) / max(env.release, 1e-4), 0.0, 1.0)
    return level * fade * fade  # squared: a release that tails off smoothly


def _lowpass2(x: np.ndarray, cutoff: float, rate: int) -> np.ndarray:
    """12 dB/octave low-pass: the first-order FFT low-pass twice."""
    return one_pole_lowpass(one_pole_lowpass(x, cutoff, rate), cutoff, rate).astype(np.float64)


def _tone(voice: Voice, freq: float, n: int, rate: int, velocity: float,
          rng: np.random.Generator) -> np.ndarray:
    """The raw waveform (n,) of one note of ``voice``, before its amplitude envelope."""
    t = np.arange(n) / rate
    if voice.kind == "additive":
        cycles = vibrato_cycles(freq, n, rate, 0.0, voice.num("vibrato_cents"),
                                voice.num("vibrato_hz"))
        out = np.zeros(n)
        params = (voice.param("ratios"), voice.param("amps"), voice.param("decays"))
        for ratio, amp, decay in zip(*params, strict=True):  # type: ignore[call-overload]
            if freq * ratio >= 0.45 * rate:
                continue
            partial = amp * np.sin(2 * np.pi * ratio * cycles)
            if decay > 0:
                partial *= np.exp(-t / decay)
            out += partial
        if voice.num("tremolo"):
            out *= 1.0 - voice.num("tremolo") * 0.5 * (1 - np.cos(2 * np.pi
                                                                 * voice.num("tremolo_hz") * t))
        return out
    if voice.kind == "fm":
        floor = voice.num("index_floor")
        index = voice.num("index") * (0.5 + 0.5 * velocity) * (
            floor + (1.0 - floor) * np.exp(-t / voice.num("index_decay", 0.3)))
        phase = 2 * np.pi * freq * t
        return np.sin(phase + index * np.sin(voice.num("ratio", 1.0) * phase))
    if voice.kind == "pluck":
        bright = voice.num("brightness", 10.0) * (0.6 + 0.4 * velocity)
        return pluck(freq, n, rate, rng, voice.num("damping", 0.996), bright).astype(np.float64)
    if voice.kind == "saw":
        unison = max(1, int(voice.num("unison", 1.0)))
        spread = voice.num("detune_cents")
        raw = np.zeros(n)
        for u in range(unison):
            cents = spread * (u - (unison - 1) / 2) if unison > 1 else 0.0
            raw += saw_blep(freq * 2.0 ** (cents / 1200.0), n, rate, phase=u / unison,
                            depth_cents=voice.num("vibrato_cents"),
                            vibrato_hz=voice.num("vibrato_hz"))
        raw /= unison
        cutoff = voice.num("cutoff", 1000.0)
        dark = _lowpass2(raw, cutoff, rate)
        amount = voice.num("env_amount")
        if amount <= 0:
            return dark
        # A filter sweep as a crossfade between a closed and an opened filter: an FFT filter
        # cannot vary in time, and the crossfade is indistinguishable at these sweep speeds.
        bright = _lowpass2(raw, cutoff + amount * velocity, rate)
        sweep = (1.0 - np.exp(-t / 0.015)) * np.exp(-t / voice.num("env_decay", 0.2))
        return dark + sweep * (bright - dark)
    raise ValueError(f"unknown voice kind {voice.kind!r}")


class _Track:
    """A mono buffer that notes are added into, with a cache of rendered notes.

    The form loops, so most notes recur with the same pitch, length and velocity; rendering
    each once (like a sampler) keeps a 24 s song well under a second.
    """

    def __init__(self, n: int, rate: int, rng: np.random.Generator) -> None:
        self.buf = np.zeros(n)
        self.rate = rate
        self.rng = rng
        self._cache: dict[tuple[int, float, int, int, float], np.ndarray] = {}

    def note(self, voice: Voice, role: int, start_s: float, gate_s: float, midi: int,
             velocity: float) -> None:
        start = int(round(start_s * self.rate))
        if start >= self.buf.size:
            return
        n_gate = max(1, int(round(gate_s * self.rate)))
        key = (role, midi, n_gate, 0, round(velocity, 3))
        sound = self._cache.get(key)
        if sound is None:
            n = n_gate + int(voice.envelope.release * self.rate)
            sound = _tone(voice, midi_to_hz(midi), n, self.rate, velocity, self.rng)
            sound = voice.gain * velocity * sound * _envelope(n_gate, n, self.rate,
                                                              voice.envelope)
            self._cache[key] = sound
        self.add(sound, start)

    def add(self, sound: np.ndarray, start: int, gain: float = 1.0) -> None:
        m = min(sound.size, self.buf.size - start)
        if m > 0:
            self.buf[start:start + m] += gain * sound[:m]


def _drum_sounds(kit: DrumKit, rate: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One kick, snare and hat sample of the kit (float64 arrays of their own lengths)."""
    n = int(0.6 * rate)
    t = np.arange(n) / rate
    drop = kit.kick_start_hz - kit.kick_hz
    # Closed-form phase of a pitch falling exponentially from kick_start_hz to kick_hz.
    sweep = drop * kit.kick_sweep * (1 - np.exp(-t / kit.kick_sweep))
    phase = 2 * np.pi * (kit.kick_hz * t + sweep)
    kick = np.sin(phase) * np.exp(-t / kit.kick_decay)
    click = rng.standard_normal(n) * np.exp(-t / 0.002)
    kick = kit.kick_gain * (kick + 0.15 * _lowpass2(click, 3000.0, rate))

    tone = np.sin(2 * np.pi * kit.snare_hz * t) * np.exp(-t / kit.snare_tone_decay)
    noise = rng.standard_normal(n)
    low, high = kit.snare_band
    noise = _lowpass2(noise - _lowpass2(noise, low, rate), high, rate)
    noise *= np.exp(-t / kit.snare_noise_decay) / (np.std(noise) or 1.0)
    snare = kit.snare_gain * (kit.snare_tone * tone + (1 - kit.snare_tone) * 0.6 * noise)

    hiss = rng.standard_normal(n)
    hiss = hiss - _lowpass2(hiss, kit.hat_cutoff, rate)
    hat = kit.hat_gain * hiss / (np.std(hiss) or 1.0) * np.exp(-t / kit.hat_decay)
    return kick, snare, hat


def _room(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Impulse response (m,) of a plain room: 15 ms pre-delay, then exponentially decaying
    darkened noise; −60 dB at ``seconds``. Unit energy, so the wet level equals the dry."""
    m = int(seconds * rate)
    t = np.arange(m) / rate
    rng = np.random.default_rng([seed, 0x524F4F4D])
    tail = _lowpass2(rng.standard_normal(m), 4000.0, rate) * np.exp(-6.9 * t / seconds)
    ir = np.concatenate([np.zeros(int(0.015 * rate)), tail])
    return ir / np.sqrt(np.sum(ir * ir))


def _convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(x.size + ir.size)))
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[:x.size]


def _master_eq(x: np.ndarray, rate: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Zero-phase EQ (FFT domain) of the whole mix: the gain curve through ``points``."""
    if not points:
        return x
    spec = np.fft.rfft(x)
    freqs = np.maximum(np.fft.rfftfreq(x.size, 1.0 / rate), 1.0)
    hz, db = zip(*points, strict=True)
    spec *= 10.0 ** (np.interp(np.log2(freqs), np.log2(hz), db) / 20.0)
    return np.fft.irfft(spec, n=x.size)


def song_seed(seed: int, composition_id: int, timbre_id: int) -> int:
    """The per-song noise seed derived from the catalog seed and the song's two ids."""
    state = np.random.SeedSequence([seed, composition_id, timbre_id]).generate_state(1)
    return int(state[0])


def render_stems(composition: Composition, timbre: Timbre, seconds: float = 24.0,
                 rate: int = SAMPLE_RATE, seed: int = 0) -> dict[str, np.ndarray]:
    """The separate parts of a song, before mixing and normalisation.

    Returns
    -------
    ``{"lead", "chords", "bass", "drums", "room"}`` → float64 (round(seconds · rate),);
    "room" is the reverberated send (lead, chords and some snare), already at the timbre's
    reverb level. Their sum is the mix before the master EQ, fades and normalisation.
    """
    n = int(round(seconds * rate))
    if n <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    rng = np.random.default_rng(seed)
    beat = composition.beat_seconds
    step = beat * BEATS_PER_BAR / STEPS_PER_BAR
    lead, comp, bass = (_Track(n, rate, rng) for _ in range(3))
    drums, send = _Track(n, rate, rng), _Track(n, rate, rng)
    kick, snare, hat = _drum_sounds(timbre.kit, rate, rng)
    fill = _pattern(_FILL_SNARE)

    total_bars = int(np.ceil(seconds / (beat * BEATS_PER_BAR)))
    for bar in range(total_bars):
        bar_s = bar * BEATS_PER_BAR * beat
        chord = composition.chord_at(bar)
        for onset, steps in composition.comp_rhythm:
            accent = 1.0 if onset % 8 == 0 else 0.85
            for k, midi in enumerate(chord):
                comp.note(timbre.comp, 1, bar_s + onset * step + k * timbre.strum,
                          steps * step * 0.92, midi, accent)
        bass_root = 36 + (chord[0] - 36) % 12  # C2..B2
        for onset, steps, tone in composition.bass_rhythm:
            interval = (0, (chord[1] - chord[0]) % 12, (chord[2] - chord[0]) % 12, 12)[tone]
            bass.note(timbre.bass, 2, bar_s + onset * step, steps * step * 0.85,
                      bass_root + interval, 1.0 if onset == 0 else 0.85)
        last_bar = bar % composition.bars == composition.bars - 1
        snare_steps = fill if last_bar else composition.snare
        for s in range(STEPS_PER_BAR):
            at = int(round((bar_s + s * step) * rate))
            if at >= n:
                break
            if composition.kick[s]:
                drums.add(kick, at, composition.kick[s])
            if snare_steps[s]:
                drums.add(snare, at, snare_steps[s])
                send.add(snare, at, 0.4 * snare_steps[s])
            if composition.hat[s]:
                drums.add(hat, at, composition.hat[s])
    form_beats = composition.bars * BEATS_PER_BAR
    for rep in range(int(np.ceil(seconds / composition.form_seconds))):
        for start, dur, midi in composition.melody:
            at = rep * form_beats + start
            # Metric accents: the downbeat is strongest, off-beat notes lighter.
            velocity = 1.0 if start % 4 == 0 else 0.9 if start % 1 == 0 else 0.75
            lead.note(timbre.lead, 0, at * beat, dur * beat * 0.9, midi, velocity)

    send.buf += lead.buf + comp.buf
    room = timbre.reverb_mix * _convolve(send.buf, _room(timbre.reverb_seconds, rate, timbre.id))
    return {"lead": lead.buf, "chords": comp.buf, "bass": bass.buf, "drums": drums.buf,
            "room": room}


def render_song(composition: Composition, timbre: Timbre, seconds: float = 24.0,
                rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """Render a composition in a timbre.

    Chords in the timbre's comping voice, a bass line on the chord tones, the melody in the
    lead voice, and the timbre's drum kit playing the composition's groove (with a fill at
    the end of each pass through the form). The lead, the chords and part of the snare go
    through the timbre's room; the mix through the timbre's master EQ. Fades in over 10 ms and
    out over the last 1.5 s, then scales to a peak of 0.9.

    Parameters
    ----------
    seconds : length; the form loops to fill it.
    rate : sample rate in Hz.
    seed : seeds the song's noise (string excitations, drums); see :func:`song_seed`.

    Returns
    -------
    float32 (round(seconds · rate),), peak 0.9.
    """
    mix = _master_eq(sum(render_stems(composition, timbre, seconds, rate, seed).values()),
                     rate, timbre.eq)
    t = np.arange(mix.size) / rate
    mix *= np.clip(t / 0.01, 0.0, 1.0) * np.clip((seconds - t) / 1.5, 0.0, 1.0)
    peak = float(np.abs(mix).max()) or 1.0
    return (0.9 * mix / peak).astype(np.float32)


# --------------------------------------------------------------------------- catalog


@dataclass
class Catalog:
    """Songs with the compositions and timbres they are made of."""

    songs: list[Song]
    compositions: list[Composition]
    timbres: list[Timbre]
    rate: int = SAMPLE_RATE
    seed: int = 0
    _by_comp: dict[int, Composition] = field(init=False, repr=False, compare=False)
    _by_timbre: dict[int, Timbre] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_comp = {c.id: c for c in self.compositions}
        self._by_timbre = {t.id: t for t in self.timbres}

    def composition(self, song: Song) -> Composition:
        return self._by_comp[song.composition_id]

    def timbre(self, song: Song) -> Timbre:
        return self._by_timbre[song.timbre_id]

    def song(self, song_id: str) -> Song:
        for song in self.songs:
            if song.id == song_id:
                return song
        raise KeyError(song_id)

    def render(self, song: Song) -> np.ndarray:
        """float32 (round(duration · rate),) audio of one song."""
        return render_song(self.composition(song), self.timbre(song), song.duration,
                           self.rate, song.seed)

    def to_dict(self) -> dict:
        """All metadata as JSON-ready data (the content of ``catalog.json``)."""
        return {
            "format": CATALOG_FORMAT,
            "version": CATALOG_VERSION,
            "seed": self.seed,
            "rate": self.rate,
            "songs": [{**asdict(s), "file": s.filename} for s in self.songs],
            "compositions": [{**asdict(c), "key": c.key_name} for c in self.compositions],
            "timbres": [asdict(t) for t in self.timbres],
        }

    def write(self, folder: str | os.PathLike[str],
              progress: Callable[[int, int], None] | None = None,
              cancel: CancelFlag = None) -> list[Path]:
        """Write every song as 16-bit PCM WAV (``<song id>.wav``) plus ``catalog.json``.

        Each WAV carries ID3 tags (title, artist, ISRC), so ``lumina index`` on the folder
        files the songs under their names like any tagged catalog. Files are written under a
        temporary name and renamed, so an interrupted write never leaves a truncated song
        behind. Same catalog, same bytes.

        Parameters
        ----------
        progress : called as ``progress(done, total)`` after each song.
        cancel : a set ``threading.Event`` (or a callable returning True) stops before the
            next song; the catalog is then incomplete and has no ``catalog.json``.

        Returns
        -------
        The song paths, in catalog order (``catalog.json`` sits next to them).

        Raises
        ------
        lumina.errors.Cancelled
            When cancelled.
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, song in enumerate(self.songs):
            # Checked per song: closing the app on a first start must not wait ~20 s for
            # the whole catalog to render.
            if is_cancelled(cancel):
                raise Cancelled("cancelled")
            path = out / song.filename
            tmp = path.with_name(path.name + ".part")
            sf.write(tmp, self.render(song), self.rate, subtype="PCM_16", format="WAV")
            _tag_wav(tmp, song)
            os.replace(tmp, path)
            paths.append(path)
            if progress is not None:
                progress(i + 1, len(self.songs))
        meta = out / "catalog.json"
        tmp = meta.with_name(meta.name + ".part")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
        os.replace(tmp, meta)
        return paths


def _tag_wav(path: Path, song: Song) -> None:
    from mutagen.id3 import TIT2, TPE1, TSRC
    from mutagen.wave import WAVE

    wav = WAVE(str(path))
    wav.add_tags()
    wav.tags.add(TIT2(encoding=3, text=song.title))
    wav.tags.add(TPE1(encoding=3, text=song.artist))
    wav.tags.add(TSRC(encoding=3, text=song.isrc))
    wav.save()


def build_catalog(n_compositions: int = 8, n_timbres: int = 4, seconds: float = 24.0,
                  seed: int = 0, rate: int = SAMPLE_RATE) -> Catalog:
    """Compositions × timbres, ``n_compositions · n_timbres`` songs, composition-major.

    Song ``c{i}-t{j}`` is composition ``i`` in timbre ``j``, titled "<name> (<timbre>)" and
    credited to timbre ``j``'s act; ISRCs are ``ZZLUM26`` + a 5-digit running number.
    """
    compositions = make_compositions(n_compositions, seed)
    timbres = make_timbres(n_timbres)
    if len(compositions) * len(timbres) > 99999:
        raise ValueError("at most 99999 songs fit the ISRC numbering")
    songs = []
    for comp in compositions:
        for timbre in timbres:
            songs.append(Song(
                id=f"c{comp.id}-t{timbre.id}", title=f"{comp.name} ({timbre.name})",
                artist=timbre.artist, composition_id=comp.id, timbre_id=timbre.id,
                duration=float(seconds), seed=song_seed(seed, comp.id, timbre.id),
                isrc=f"{ISRC_PREFIX}{len(songs) + 1:05d}",
            ))
    return Catalog(songs=songs, compositions=compositions, timbres=timbres, rate=rate,
                   seed=seed)


# --------------------------------------------------------------------------- features


def _frames(samples: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Hann-windowed frames (F, n_fft) of a mono signal, zero-padded to at least one frame."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return frames * np.hanning(n_fft)


def chroma(samples: np.ndarray, rate: int, n_fft: int = 8192, hop: int = 4096,
           fmin: float = 60.0, fmax: float = 2100.0) -> np.ndarray:
    """Pitch-class profile: STFT magnitude between ``fmin`` and ``fmax`` folded onto 12
    pitch classes (C = 0) and averaged over time.

    A plain, timbre-agnostic "what notes are played" feature: the composition baseline of the
    validation study.

    Returns
    -------
    float64 (12,), unit L2 norm (zeros for silence).
    """
    mag = np.abs(np.fft.rfft(_frames(samples, n_fft, hop), axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    keep = (freqs >= fmin) & (freqs <= fmax)
    pcs = np.round(12 * np.log2(freqs[keep] / 440.0) + 69).astype(int) % 12
    out = np.bincount(pcs, weights=mag[keep], minlength=12)
    norm = float(np.linalg.norm(out))
    return out / norm if norm > 0 else out


def spectral_envelope(samples: np.ndarray, rate: int, bands: int = 24, n_fft: int = 2048,
                      fmin: float = 50.0, fmax: float = 14000.0) -> np.ndarray:
    """Coarse spectral envelope: mean power in ``bands`` log-spaced bands, in dB, with the
    mean removed (so overall loudness does not count).

    A plain "how it sounds" feature: the production baseline of the validation study.

    Returns
    -------
    float64 (bands,).
    """
    power = (np.abs(np.fft.rfft(_frames(samples, n_fft, n_fft // 2), axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = np.geomspace(fmin, min(fmax, rate / 2), bands + 1)
    idx = np.searchsorted(edges, freqs, side="right") - 1
    keep = (idx >= 0) & (idx < bands)
    energy = np.bincount(idx[keep], weights=power[keep], minlength=bands)
    counts = np.maximum(np.bincount(idx[keep], minlength=bands), 1)
    db = 10 * np.log10(energy / counts + 1e-12)
    return db - db.mean()

"""Tests for lumina.audio: formats, resampling, chunking, bad input."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina import audio
from lumina.audio import (
    CHUNK_SECONDS,
    SUPPORTED_EXTENSIONS,
    TAIL_FRACTION,
    AudioEmptyError,
    AudioMissingError,
    AudioNotFiniteError,
    AudioTooShortError,
    AudioUnreadableError,
    UnsupportedContainerError,
    chunk_bounds,
    file_sha256,
    iter_chunks,
    load_audio,
    probe,
    split_chunks,
)
from lumina.errors import AudioError

RATE = 32000


# --------------------------------------------------------------------------------------------
# Helpers


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 2, amp: float = 0.5):
    """A sine on every channel, shape (frames, channels), float32."""
    t = np.arange(round(seconds * rate)) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def write_av(path: Path, x: np.ndarray, rate: int, fmt: str, codec: str) -> Path:
    """Encode (frames, channels) float32 with FFmpeg."""
    layout = "stereo" if x.shape[1] == 2 else "mono"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        step = stream.codec_context.frame_size or 1024
        for pts in range(0, len(x), step):
            block = np.ascontiguousarray(x[pts : pts + step].T)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def assert_one_line(err: pytest.ExceptionInfo[AudioError], name: str) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{name}: ")
    assert isinstance(err.value, AudioError)
    return msg


def wav(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    sf.write(path, x, rate, subtype=subtype)
    return path


# --------------------------------------------------------------------------------------------
# Formats


def _sf_writer(fmt: str, subtype: str | None = None, rate: int = 44100):
    def write(path: Path, seconds: float) -> Path:
        sf.write(path, tone(seconds, rate), rate, format=fmt, subtype=subtype)
        return path

    return write


def _av_writer(fmt: str, codec: str, rate: int = 44100):
    def write(path: Path, seconds: float) -> Path:
        return write_av(path, tone(seconds, rate), rate, fmt, codec)

    return write


def _opus_writer(path: Path, seconds: float) -> Path:
    # Opus only exists at 48 kHz (and lower telephone rates).
    if "OPUS" in sf.available_subtypes("OGG"):
        sf.write(path, tone(seconds, 48000), 48000, format="OGG", subtype="OPUS")
        return path
    return write_av(path, tone(seconds, 48000), 48000, "ogg", "libopus")


FORMATS = {
    ".wav": (_sf_writer("WAV", "PCM_16"), 0.001),
    ".flac": (_sf_writer("FLAC"), 0.001),
    ".ogg": (_sf_writer("OGG", "VORBIS"), 0.01),
    ".oga": (_sf_writer("OGG", "VORBIS"), 0.01),
    ".opus": (_opus_writer, 0.03),
    ".mp3": (_sf_writer("MP3", "MPEG_LAYER_III"), 0.1),
    ".m4a": (_av_writer("ipod", "aac"), 0.1),
    ".mp4": (_av_writer("mp4", "aac"), 0.1),
    ".aac": (_av_writer("adts", "aac"), 0.1),
}


def test_format_table_covers_supported_extensions():
    assert set(FORMATS) == set(SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_format_round_trip(tmp_path: Path, ext: str):
    write, tolerance = FORMATS[ext]
    path = write(tmp_path / f"tone{ext}", 3.0)
    loaded = load_audio(path, RATE)
    assert loaded.samples.dtype == np.float32
    assert loaded.samples.ndim == 1
    assert loaded.sample_rate == RATE
    assert loaded.source_channels == 2
    assert loaded.duration == pytest.approx(3.0, abs=tolerance)
    assert peak_hz(loaded.samples, RATE) == pytest.approx(440.0, abs=2.0)
    assert loaded.warnings == []
    info = probe(path)
    assert info.channels == 2
    assert info.decoder == ("pyav" if ext in {".m4a", ".mp4", ".aac"} else "soundfile")


def test_probe_fields(tmp_path: Path):
    path = wav(tmp_path / "a.wav", tone(2.0, 22050, channels=3), 22050)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames) == (22050, 3, 44100)
    assert info.duration == pytest.approx(2.0)
    assert info.container == "WAV"
    assert info.codec == "PCM_16"
    assert info.path == path


def test_resampling_keeps_frequency(tmp_path: Path):
    path = wav(tmp_path / "k.wav", tone(2.0, 44100, freq=1000.0, channels=1), 44100, "FLOAT")
    loaded = load_audio(path, RATE)
    assert loaded.source_rate == 44100
    assert len(loaded.samples) == 2 * RATE
    bin_hz = RATE / len(loaded.samples)
    assert abs(peak_hz(loaded.samples, RATE) - 1000.0) <= bin_hz
    # Amplitude survives too (soxr's passband is flat at 1 kHz).
    assert np.abs(loaded.samples[1000:-1000]).max() == pytest.approx(0.5, abs=0.01)


def test_load_is_deterministic(tmp_path: Path):
    path = wav(tmp_path / "d.wav", tone(2.5, 48000), 48000)
    a, b = load_audio(path, RATE), load_audio(path, RATE)
    assert np.array_equal(a.samples, b.samples)
    assert a.sha256 == b.sha256 == file_sha256(path)


def test_downmix_is_channel_mean(tmp_path: Path):
    x = np.zeros((RATE * 2, 2), dtype=np.float32)
    x[:, 0] = 0.5
    x[:, 1] = -0.25
    path = wav(tmp_path / "m.wav", x, RATE, "FLOAT")
    assert np.allclose(load_audio(path, RATE).samples, 0.125)


def test_max_seconds(tmp_path: Path):
    path = wav(tmp_path / "long.wav", tone(5.0, 44100), 44100)
    loaded = load_audio(path, RATE, max_seconds=2.0)
    assert len(loaded.samples) == 2 * RATE
    assert loaded.warnings == []
    with pytest.raises(ValueError):
        load_audio(path, RATE, max_seconds=0.5)


@pytest.mark.parametrize(
    ("rate", "channels"), [(8000, 1), (8000, 8), (192000, 1), (192000, 8), (96000, 6)]
)
def test_rates_and_channels(tmp_path: Path, rate: int, channels: int):
    x = np.zeros((2 * rate, channels), dtype=np.float32)
    x[:, 0] = tone(2.0, rate, freq=440.0, channels=1)[:, 0]
    path = wav(tmp_path / "r.wav", x, rate)
    loaded = load_audio(path, RATE)
    assert (loaded.source_rate, loaded.source_channels) == (rate, channels)
    assert len(loaded.samples) == 2 * RATE
    assert peak_hz(loaded.samples, RATE) == pytest.approx(440.0, abs=1.0)


# --------------------------------------------------------------------------------------------
# Chunking


@pytest.mark.parametrize(
    ("seconds", "lengths"),
    [(3, [3]), (9, [9]), (10, [10]), (23, [10, 10]), (25, [10, 10, 5]), (30, [10, 10, 10])],
)
def test_chunk_counts(tmp_path: Path, seconds: int, lengths: list[int]):
    path = wav(tmp_path / "c.wav", tone(seconds, RATE, channels=1), RATE)
    streamed = list(iter_chunks(path, RATE))
    assert [len(c.samples) / RATE for c in streamed] == lengths
    assert [c.index for c in streamed] == list(range(len(lengths)))
    assert streamed[0].start == 0.0
    assert all(a.end == b.start for a, b in zip(streamed, streamed[1:], strict=False))
    in_memory = split_chunks(load_audio(path, RATE).samples, RATE)
    assert len(in_memory) == len(streamed)


@pytest.mark.parametrize("seconds", [9.3, 25.0, 23.7])
def test_iter_chunks_matches_load_then_split(tmp_path: Path, seconds: float):
    # 44.1 kHz stereo: exercises downmix and the streaming resampler against the whole-file path.
    path = wav(tmp_path / "s.wav", tone(seconds, 44100, freq=523.25), 44100)
    warnings: list[str] = []
    streamed = list(iter_chunks(path, RATE, warnings_out=warnings))
    expected = split_chunks(load_audio(path, RATE).samples, RATE)
    assert len(streamed) == len(expected) > 0
    for got, want in zip(streamed, expected, strict=True):
        assert (got.index, got.start, got.end) == (want.index, want.start, want.end)
        assert got.samples.dtype == np.float32
        assert np.array_equal(got.samples, want.samples)
    assert warnings == []


def test_iter_chunks_pyav_matches_load(tmp_path: Path):
    path = write_av(tmp_path / "s.m4a", tone(12.0, 48000), 48000, "ipod", "aac")
    streamed = list(iter_chunks(path, RATE))
    expected = split_chunks(load_audio(path, RATE).samples, RATE)
    assert [len(c.samples) for c in streamed] == [10 * RATE]  # 2 s tail < 5 s: dropped
    assert np.array_equal(streamed[0].samples, expected[0].samples)


def test_iter_chunks_custom_length(tmp_path: Path):
    path = wav(tmp_path / "c.wav", tone(7.0, RATE, channels=1), RATE)
    assert [len(c.samples) for c in iter_chunks(path, RATE, chunk_seconds=2.0)] == [
        2 * RATE
    ] * 3 + [RATE]


def test_argument_errors_are_eager(tmp_path: Path):
    # Programming errors are ValueError (not AudioError) and raise at the call.
    with pytest.raises(ValueError):
        iter_chunks(tmp_path / "x.wav", 0)
    with pytest.raises(ValueError):
        iter_chunks(tmp_path / "x.wav", RATE, chunk_seconds=0.0)
    with pytest.raises(ValueError):
        load_audio(tmp_path / "x.wav", -1)


def test_split_chunks_rejects_multichannel():
    with pytest.raises(ValueError):
        split_chunks(np.zeros((100, 2), dtype=np.float32), RATE)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=2_000_000),
    rate=st.sampled_from([8000, 16000, 22050, 24000, 32000, 44100, 48000]),
    chunk_seconds=st.floats(min_value=0.25, max_value=30.0, allow_nan=False),
)
def test_chunk_bounds_properties(n: int, rate: int, chunk_seconds: float):
    size = max(round(chunk_seconds * rate), 1)
    bounds = chunk_bounds(n, rate, chunk_seconds)
    if n == 0:
        assert bounds == []
        return
    # Contiguous from 0, non-empty, none longer than a chunk.
    assert bounds[0][0] == 0
    assert all(a < b for a, b in bounds)
    assert all(b - a <= size for a, b in bounds)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:], strict=False))
    end = bounds[-1][1]
    assert end <= n
    if n < size:
        assert bounds == [(0, n)]
    else:
        # Full chunks first (iter_chunks depends on it), then at most one tail >= half a chunk.
        full = n // size
        assert bounds[:full] == [(i * size, (i + 1) * size) for i in range(full)]
        assert len(bounds) in (full, full + 1)
        if len(bounds) == full + 1:
            assert bounds[-1][1] - bounds[-1][0] >= TAIL_FRACTION * size
        # What is dropped is less than half a chunk.
        assert n - end < TAIL_FRACTION * size or n - end == 0
    chunks = split_chunks(np.zeros(n, dtype=np.float32), rate, chunk_seconds)
    assert [(round(c.start * rate), round(c.end * rate)) for c in chunks] == bounds


def test_default_chunk_is_ten_seconds():
    assert CHUNK_SECONDS == 10.0
    assert chunk_bounds(25 * RATE, RATE) == [(0, 320000), (320000, 640000), (640000, 800000)]
    assert len(chunk_bounds(25 * RATE - 1, RATE)) == 2


# --------------------------------------------------------------------------------------------
# Bad input: one error class each, one readable line naming the file


def _png_bytes() -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00" * 2))
        + chunk(b"IEND", b"")
    )


def _all_entry_points(path: Path):
    return [
        lambda: load_audio(path, RATE),
        lambda: probe(path),
        lambda: next(iter_chunks(path, RATE)),
    ]


def test_missing_file(tmp_path: Path):
    path = tmp_path / "nope.wav"
    for call in [*_all_entry_points(path), lambda: file_sha256(path)]:
        with pytest.raises(AudioMissingError) as err:
            call()
        assert assert_one_line(err, "nope.wav") == "nope.wav: file not found"


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.flac"
    path.write_bytes(b"")
    for call in _all_entry_points(path):
        with pytest.raises(AudioEmptyError) as err:
            call()
        assert "empty" in assert_one_line(err, "empty.flac")


def test_directory_is_unreadable(tmp_path: Path):
    folder = tmp_path / "album.wav"
    folder.mkdir()
    with pytest.raises(AudioUnreadableError) as err:
        load_audio(folder, RATE)
    assert "directory" in assert_one_line(err, "album.wav")


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".ogg", ".m4a"])
def test_random_bytes_are_unreadable(tmp_path: Path, ext: str):
    path = tmp_path / f"noise{ext}"
    path.write_bytes(np.random.default_rng(7).bytes(20_000))
    for call in _all_entry_points(path):
        with pytest.raises(AudioUnreadableError) as err:
            call()
        assert assert_one_line(err, path.name) == f"{path.name}: not audio or unreadable"


def test_random_bytes_with_image_extension(tmp_path: Path):
    # FFmpeg's image2 demuxer accepts *.raw (and other image extensions) on the name alone, so
    # these bytes come out as "a container without audio" rather than "unreadable".
    # libsndfile's TypeError for headerless *.raw must not escape either way.
    path = tmp_path / "noise.raw"
    path.write_bytes(np.random.default_rng(7).bytes(20_000))
    with pytest.raises((AudioUnreadableError, UnsupportedContainerError)) as err:
        load_audio(path, RATE)
    assert_one_line(err, "noise.raw")


# Text and images are recognisable non-audio types: UnsupportedContainerError whatever the
# extension (FFmpeg alone would "open" notes.txt as a video stream but reject notes.wav).
@pytest.mark.parametrize(
    ("name", "content", "what"),
    [
        ("notes.txt", b"la la la\n" * 200, "text"),
        ("notes.wav", "pause \u00e9t\u00e9\n".encode() * 200, "text"),
        ("cover.png", _png_bytes(), "PNG"),
        ("cover.mp3", _png_bytes(), "PNG"),
    ],
)
def test_non_audio_types_are_unsupported(tmp_path: Path, name: str, content: bytes, what: str):
    path = tmp_path / name
    path.write_bytes(content)
    for call in _all_entry_points(path):
        with pytest.raises(UnsupportedContainerError) as err:
            call()
        assert what in assert_one_line(err, name)


def test_video_without_audio_is_unsupported(tmp_path: Path):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(UnsupportedContainerError) as err:
        load_audio(path, RATE)
    assert "no audio stream" in assert_one_line(err, "clip.mp4")


def test_too_short(tmp_path: Path):
    path = wav(tmp_path / "blip.wav", tone(0.4, 44100), 44100)
    for call in [lambda: load_audio(path, RATE), lambda: next(iter_chunks(path, RATE))]:
        with pytest.raises(AudioTooShortError) as err:
            call()
        assert assert_one_line(err, "blip.wav") == "blip.wav: shorter than 1 s (0.40 s)"
    # A short chunk length must not let a too-short file yield a chunk before raising.
    with pytest.raises(AudioTooShortError):
        next(iter_chunks(path, RATE, chunk_seconds=0.25))


def test_header_only_wav_is_too_short(tmp_path: Path):
    path = wav(tmp_path / "hollow.wav", np.zeros((0, 2), dtype=np.float32), 44100)
    with pytest.raises(AudioTooShortError) as err:
        load_audio(path, RATE)
    assert "(0.00 s)" in assert_one_line(err, "hollow.wav")


@pytest.mark.parametrize(("bad", "kind"), [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_non_finite_samples(tmp_path: Path, bad: float, kind: str):
    x = tone(3.0, 44100)
    x[int(1.5 * 44100), 1] = bad
    path = wav(tmp_path / "bad.wav", x, 44100, "FLOAT")
    for call in [lambda: load_audio(path, RATE), lambda: list(iter_chunks(path, RATE))]:
        with pytest.raises(AudioNotFiniteError) as err:
            call()
        msg = assert_one_line(err, "bad.wav")
        assert msg == f"bad.wav: contains {kind} samples (first at 1.50 s)"


def test_truncated_flac_is_unreadable(tmp_path: Path):
    path = tmp_path / "cut.flac"
    sf.write(path, tone(3.0, 44100), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioUnreadableError) as err:
        load_audio(path, RATE)
    assert "truncated" in assert_one_line(err, "cut.flac")


def test_truncated_mp3_warns(tmp_path: Path):
    path = tmp_path / "cut.mp3"
    sf.write(path, tone(4.0, 44100), 44100, format="MP3")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    loaded = load_audio(path, RATE)
    assert any("truncated" in w for w in loaded.warnings)


# --------------------------------------------------------------------------------------------
# Warnings: usable audio, flagged


def test_silence_warns(tmp_path: Path):
    path = wav(tmp_path / "quiet.wav", np.zeros((2 * 44100, 2), dtype=np.float32), 44100)
    loaded = load_audio(path, RATE)
    assert len(loaded.warnings) == 1
    assert loaded.warnings[0].startswith("quiet.wav: silent (peak -inf dBFS")
    warnings: list[str] = []
    assert len(list(iter_chunks(path, RATE, warnings_out=warnings))) == 1
    assert warnings == loaded.warnings


def test_very_quiet_warns(tmp_path: Path):
    path = wav(tmp_path / "hum.wav", tone(2.0, 44100, amp=1e-4), 44100, "FLOAT")
    assert ["silent" in w for w in load_audio(path, RATE).warnings] == [True]


def test_cancelling_channels_warn(tmp_path: Path):
    x = tone(2.0, 44100)
    x[:, 1] = -x[:, 0]
    path = wav(tmp_path / "phase.wav", x, 44100, "FLOAT")
    (warning,) = load_audio(path, RATE).warnings
    assert "cancel" in warning


def test_clipping_warns(tmp_path: Path):
    x = np.sign(tone(2.0, 44100, freq=100.0, amp=1.0))  # square wave at full scale
    path = wav(tmp_path / "loud.wav", x.astype(np.float32), 44100)
    (warning,) = load_audio(path, RATE).warnings
    assert warning.startswith("loud.wav: heavily clipped (")


def test_mild_clipping_does_not_warn(tmp_path: Path):
    x = tone(2.0, 44100, amp=0.5)
    x[:100] = 1.0  # 100 of 88200 frames: well under 1 %
    path = wav(tmp_path / "ok.wav", x, 44100)
    assert load_audio(path, RATE).warnings == []


# --------------------------------------------------------------------------------------------
# Hashing


def test_file_sha256_matches_hashlib(tmp_path: Path):
    path = tmp_path / "blob.bin"
    data = np.random.default_rng(1).bytes(3 * (1 << 20) + 123)  # spans several read blocks
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(path)) == hashlib.sha256(data).hexdigest()


def test_module_does_not_import_torch_or_qt():
    modules = sorted(Path(audio.__file__).parent.glob("*.py"))
    assert len(modules) > 1  # the package's modules, not only its __init__
    for module in modules:
        source = module.read_text()
        assert "import torch" not in source, module.name
        assert "PySide" not in source, module.name


def test_waveform_envelope_bounds_the_signal():
    from lumina.audio import waveform_envelope

    x = np.sin(np.linspace(0, 200 * np.pi, 100_000)).astype(np.float32)
    mins, maxs = waveform_envelope(x, 1000)
    assert mins.shape == maxs.shape == (1000,)
    assert np.all(mins <= maxs) and float(maxs.max()) == float(x.max())
    assert float(mins.min()) == float(x.min())
    short_mins, _ = waveform_envelope(x[:10], 1000)
    assert short_mins.shape == (10,)

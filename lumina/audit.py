"""Audit a folder of submissions: one signed report per track, a verdict, a signed summary.

An A&R desk or a producer checking an album runs every track against one library with the
model loaded once, decoding the next track while the model works on the current one. Each
track gets a verdict from an :class:`AuditPolicy` that a label can set, and the policy is
recorded in every report.

Why the verdict gate is corrected for the library's size: the per-song gate (95 %) lets 5 %
of *unrelated* songs through by construction, so with N library songs a clean track shows
about 0.05·N "qualifying" songs by chance (1.6 for the 32-song demo catalog, 50 000 at 10⁶).
A verdict about the whole track must bound the chance that *any* unrelated song passes:
the Šidák correction asks each song for confidence ``(1 − α)^(1/N)``, so a clean track is
called *clear* with probability 1 − α per channel, whatever the library's size — if the null
were Gaussian. It is not (see :attr:`AuditPolicy.alpha`), hence the small default α.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lumina.attribution.gate import Gate
from lumina.attribution.params import AttributionParams
from lumina.errors import Cancelled, LuminaError, one_line
from lumina.readahead import ReadAhead

if TYPE_CHECKING:
    from lumina.fingerprint.fingerprinter import Fingerprinter

__all__ = [
    "VERDICTS",
    "AuditPolicy",
    "AuditRow",
    "AuditSummary",
    "ChannelVerdict",
    "PolicyError",
    "load_policy",
    "run_audit",
    "track_verdict",
]

VERDICTS = ("clear", "review", "flag")
CORRECTIONS = ("sidak", "none")
TRACKS_DIR = "tracks"


class PolicyError(LuminaError):
    """A policy file that cannot be read or holds an invalid value."""


@dataclass(frozen=True)
class AuditPolicy:
    """How an attribution becomes a verdict.

    A song *counts* for the verdict when its confidence in a channel reaches the verdict
    gate: ``(1 − alpha)^(1/N)`` for a library of N songs (``correction = "sidak"``, the
    default), or ``1 − alpha`` per song (``"none"``, the paper's per-song gate).

    - *clear*: no song counts in any channel;
    - *review*: a song counts, but every counting song's share is below ``flag_share``;
    - *flag*: a counting song holds ``flag_share`` or more of a channel's influence.
    """

    name: str = "default"
    #: Measured, not assumed (bench/audit_calibration.py: demo library of 32 songs with the
    #: default shepard composition rendering, 8 queries from compositions and timbres in
    #: neither the library nor the training set, adaptive S-norm null with the small-cohort
    #: t correction): α = 0.05 calls 1 of 8 unrelated tracks "not clear" (production
    #: channel), 0.01 and 0.001 none. Copies of library songs reach production z ≥ 6.00, so
    #: all 8 flag at each α. (Paper's mode, no t correction: 2, 1 and 1 of 8; copies ≥ 4.09.)
    alpha: float = 0.01
    correction: str = "sidak"
    flag_share: float = 0.5

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, int | float) and 0.0 < float(self.alpha) < 1.0):
            raise PolicyError(f"policy alpha must be between 0 and 1, got {self.alpha!r}")
        if self.correction not in CORRECTIONS:
            raise PolicyError(f"policy correction must be one of {', '.join(CORRECTIONS)}, "
                              f"got {self.correction!r}")
        if not (isinstance(self.flag_share, int | float) and 0.0 < self.flag_share <= 1.0):
            raise PolicyError(f"policy flag_share must be in (0, 1], got {self.flag_share!r}")

    @property
    def gate(self) -> Gate:
        """The gate that decides which songs count: Šidák at α (``fwer``), or the paper's
        per-song gate at 1 − α (``correction = "none"``) — the same implementation that
        names songs in ``lumina attribute`` and the reports."""
        return Gate("per-song" if self.correction == "none" else "fwer", float(self.alpha))

    def attribution_params(self) -> AttributionParams:
        """How the audit attributes each track: named songs are the ones that count."""
        return AttributionParams(gate=self.gate.rule, level=self.gate.level)

    def verdict_gate(self, n_library: int) -> float:
        """The confidence a song needs to count, for a library of ``n_library`` songs."""
        return 1.0 - self.gate.tail_threshold(int(n_library))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load_policy(path: str | os.PathLike[str] | None) -> AuditPolicy:
    """The default policy, or the one in a TOML file with an optional ``[policy]`` table::

        [policy]
        name = "our-label-2026"
        alpha = 0.01          # family-wise false-positive rate per track and channel
        correction = "sidak"  # or "none": the per-song gate 1 − alpha
        flag_share = 0.4
    """
    if path is None:
        return AuditPolicy()
    path = Path(path)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path.name}: cannot read the policy ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path.name}: not valid TOML ({exc})") from None
    table = data.get("policy", data)
    known = {f for f in AuditPolicy.__dataclass_fields__}
    unknown = sorted(set(table) - known)
    if unknown:
        raise PolicyError(f"{path.name}: unknown policy setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known))}")
    values = dict(table)
    values.setdefault("name", path.stem)
    return AuditPolicy(**values)


@dataclass(frozen=True)
class ChannelVerdict:
    """The strongest influence of one channel, as the summary shows it."""

    channel: str
    title: str
    artist: str
    share: float
    confidence: float
    counts: bool  # passes the policy's verdict gate

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def track_verdict(report: dict[str, Any], policy: AuditPolicy
                  ) -> tuple[str, str, dict[str, ChannelVerdict]]:
    """Verdict, one-line reason and per-channel strongest influence of an analysis JSON.

    Parameters
    ----------
    report : the JSON of an :class:`~lumina.analysis.AnalysisResult` (or a report predicate).
    policy : AuditPolicy
    """
    strongest: dict[str, ChannelVerdict] = {}
    verdict, reason = "clear", ""
    rank = {v: i for i, v in enumerate(VERDICTS)}
    for name, ch in report["channels"].items():
        n_library = int(ch["n_library"])
        gate = policy.verdict_gate(n_library)
        influences = ch["influences"]
        if ch.get("rule") == policy.gate.rule and ch.get("level") == policy.gate.level:
            counting = [i for i in influences if i["qualifies"]]  # named by the policy's gate
        else:
            # A report attributed under another gate (or before gates had rules): the
            # policy's gate depends on N only, so it is applied to the listed confidences.
            counting = [i for i in influences if i["confidence"] >= gate]
        pool = counting or influences
        if not pool:
            continue
        top = max(pool, key=lambda i: (i["share"], i["confidence"]))
        strongest[name] = ChannelVerdict(channel=name, title=top["title"],
                                          artist=top["artist"], share=float(top["share"]),
                                          confidence=float(top["confidence"]),
                                          counts=bool(counting))
        if not counting:
            continue
        here = "flag" if top["share"] >= policy.flag_share else "review"
        if rank[here] > rank[verdict]:
            verdict = here
            reason = (f"{name}: {top['title']} holds {top['share']:.0%} of the influence at "
                      f"confidence {top['confidence']:.4f} (verdict gate {gate:.4f})")
    if verdict == "clear":
        reason = "no library song stands out beyond chance across the library"
    return verdict, reason, strongest


@dataclass
class AuditRow:
    """One input file's outcome."""

    file: str
    path: str
    status: str  # "done", "skipped" (already audited), "error"
    audio_sha256: str = ""
    verdict: str = ""
    reason: str = ""
    channels: dict[str, ChannelVerdict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    report_json: str = ""
    report_pdf: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("channels", "path")}
        out["channels"] = {c: v.to_json() for c, v in self.channels.items()}
        return out


@dataclass
class AuditSummary:
    rows: list[AuditRow]
    out: Path
    policy: AuditPolicy
    library: dict[str, Any]
    model: dict[str, Any]
    seconds: float = 0.0
    cancelled: bool = False
    summary_files: list[Path] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        out.update(error=0, warning=0, skipped=0)
        for row in self.rows:
            if row.status == "error":
                out["error"] += 1
                continue
            out[row.verdict] += 1
            out["skipped"] += row.status == "skipped"
            out["warning"] += bool(row.warnings)
        return out


# -- decoding ahead ------------------------------------------------------------------------
@dataclass
class _Decoded:
    path: Path
    audio: object | None  # lumina.audio.LoadedAudio
    sha256: str
    error: str = ""


def _one_line(exc: BaseException) -> str:
    # Unexpected errors keep their type: a row reading "0" would say nothing.
    return one_line(exc) if isinstance(exc, LuminaError) else (
        f"{type(exc).__name__}: {one_line(exc)}")


def _decode(rate: int, todo: tuple[Path, str]) -> _Decoded:
    from lumina.audio import load_audio

    path, sha = todo
    return _Decoded(path, load_audio(path, rate), sha)


# -- the run -------------------------------------------------------------------------------
def _safe_stem(path: Path, sha: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.stem)[:80]
    return f"{stem}-{sha[:8]}" if sha else stem


def _previous_reports(tracks_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """audio SHA-256 → (report path, predicate) of every valid report already written."""
    from lumina.reports.verify import verify_report

    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    if not tracks_dir.is_dir():
        return found
    for path in sorted(tracks_dir.glob("*.json")):
        try:
            check = verify_report(path)
        except LuminaError:
            continue  # damaged or tampered: redo that track
        found[check.audio_sha256] = (path, check.verified.predicate)
    return found


def _same_run(predicate: dict[str, Any], library_digest: str, model_sha: str,
              policy: AuditPolicy) -> bool:
    audit = predicate.get("audit") or {}
    return (predicate.get("library", {}).get("digest") == library_digest
            and predicate.get("model", {}).get("weights_sha256") == model_sha
            and audit.get("policy") == policy.to_json())


def run_audit(inputs: Iterable[str | os.PathLike[str]], library: str | os.PathLike[str],
              out: str | os.PathLike[str], *, policy: AuditPolicy | None = None,
              fingerprinter: Fingerprinter | None = None, model: str | None = None,
              device: str | None = None, write_pdf: bool = True,
              progress: Callable[[int, int], None] | None = None,
              on_row: Callable[[AuditRow], None] | None = None,
              cancel: threading.Event | None = None) -> AuditSummary:
    """Attribute every audio file of ``inputs`` against ``library`` and write the results.

    Writes ``out/tracks/<name>-<sha8>.json`` (and ``.pdf``) per track — signed attribution
    reports carrying the verdict and the policy — then ``out/summary.csv``,
    ``out/summary.json`` and ``out/summary.pdf`` (both signed). A track already audited with
    the same audio, library state, model and policy is not redone (the run is resumable).
    A file that fails gets an error row and the run goes on.

    Parameters
    ----------
    progress : callable(done, total), optional
        Tracks finished so far.
    on_row : callable(AuditRow), optional
        Called as each track finishes (the app's queue fills from it).
    cancel : threading.Event, optional
        Stops after the current chunk; finished tracks are kept, the summary is written.
    """
    import time

    from lumina.analysis import analyze_fingerprint
    from lumina.audio import file_sha256
    from lumina.indexing import collect_audio_files
    from lumina.models import channel_notes, model_scope
    from lumina.reports.report import write_signed_reports
    from lumina.reports.summary import write_summary
    from lumina.workspace import Workspace

    policy = policy or AuditPolicy()
    files, missing = collect_audio_files(inputs)
    out = Path(out)
    tracks_dir = out / TRACKS_DIR
    t0 = time.monotonic()
    rows: list[AuditRow] = []

    def finish(row: AuditRow) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)
        if progress is not None:
            progress(len(rows), total)

    with Workspace.open(library, fingerprinter=fingerprinter, model=model,
                        device=device) as ws:
        lib, fingerprinter = ws.library, ws.fingerprinter
        prepared = lib.prepare()  # built once here, not inside the first track's analysis
        library_digest = prepared.digest
        model_obj = fingerprinter.model
        notes = channel_notes(model_obj, fingerprinter.composition_rendering,
                              fingerprinter.output_function)
        scope = model_scope(model_obj)
        library_ref = {"name": lib.name, "library_id": lib.manifest.library_id,
                       "digest": library_digest, "songs": len(lib)}
        model_ref = {"name": model_obj.name, "weights_sha256": model_obj.weights_sha256,
                     **({"scope": scope} if scope else {})}
        tracks_dir.mkdir(parents=True, exist_ok=True)
        previous = _previous_reports(tracks_dir)

        total = len(files) + len(missing)
        for line in missing:
            finish(AuditRow(file=line.split(":")[0], path="", status="error", error=line))
        todo: list[tuple[Path, str]] = []
        for path in files:
            try:
                sha = file_sha256(path)
            except LuminaError as exc:
                finish(AuditRow(file=path.name, path=str(path), status="error",
                                error=_one_line(exc)))
                continue
            done = previous.get(sha)
            if done is not None and _same_run(done[1], library_digest, model_obj.weights_sha256,
                                              policy):
                report_path, predicate = done
                verdict, reason, strongest = track_verdict(predicate, policy)
                pdf = report_path.with_suffix(".pdf")
                finish(AuditRow(file=path.name, path=str(path), status="skipped",
                                audio_sha256=sha, verdict=verdict, reason=reason,
                                channels=strongest,
                                warnings=list(predicate["track"].get("warnings", [])),
                                report_json=str(report_path),
                                report_pdf=str(pdf) if pdf.exists() else ""))
                continue
            todo.append((path, sha))

        # Decode the next track while the model works on this one (two tracks in memory).
        decoder = ReadAhead(todo, partial(_decode, int(model_obj.sample_rate)),
                            lambda t, exc: _Decoded(t[0], None, t[1], _one_line(exc)),
                            name="lumina-decode")
        cancelled = False
        try:
            for item in decoder:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                row = AuditRow(file=item.path.name, path=str(item.path), status="error",
                               audio_sha256=item.sha256)
                if item.audio is None:
                    row.error = item.error
                    finish(row)
                    continue
                try:
                    fp = fingerprinter.fingerprint_loaded(item.audio,
                                                          cancel=cancel)
                    result = analyze_fingerprint(fp, lib, params=policy.attribution_params(),
                                                 channel_notes=notes, model_scope=scope)
                except Cancelled:
                    cancelled = True
                    break
                except LuminaError as exc:
                    row.error = _one_line(exc)
                    finish(row)
                    continue
                payload = result.to_json()
                verdict, reason, strongest = track_verdict(payload, policy)
                payload["audit"] = {"verdict": verdict, "reason": reason,
                                    "policy": policy.to_json()}
                stem = tracks_dir / _safe_stem(item.path, item.sha256)
                written = write_signed_reports(
                    payload, json_path=stem.with_suffix(".json"),
                    pdf_path=stem.with_suffix(".pdf") if write_pdf else None)
                row.status, row.verdict, row.reason = "done", verdict, reason
                row.channels, row.warnings = strongest, list(result.warnings)
                row.report_json = str(written[0])
                row.report_pdf = str(written[1]) if len(written) > 1 else ""
                finish(row)
        finally:
            decoder.stop()

    order = {str(p): i for i, p in enumerate(files)}
    rows.sort(key=lambda r: (order.get(r.path, -1), r.file))
    summary = AuditSummary(rows=rows, out=out, policy=policy, library=library_ref,
                           model=model_ref, seconds=time.monotonic() - t0,
                           cancelled=cancelled)
    summary.summary_files = write_summary(summary, write_pdf=write_pdf)
    return summary

"""The window's library and audit actions: open, create, index into, calibrate and audit
against a library, each as a :class:`lumina_app.tasks.Task` running a job of
:mod:`lumina_app.jobs`.

:class:`LibraryActions` is mixed into :class:`lumina_app.window.MainWindow`; it uses the
window's ``library_panel``, ``audit_panel``, ``audit_dock``, ``row_relay``, ``status_labels``,
``settings`` and ``cache`` and its
``start_task`` / ``show_error`` / ``update_enabled``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from lumina.progress import ProgressState
from lumina_app import jobs

__all__ = ["AuditRowRelay", "LibraryActions"]


class AuditRowRelay(QObject):
    """Carries audit rows from the worker to the UI thread (a queued signal)."""

    row = Signal(object)


class LibraryActions:
    """Library and audit slots of the main window (a mixin)."""

    #: What Calibrate measures (a :class:`lumina.calibration.CalibrationPlan`; None: the
    #: engine's default, 16 held-out and 16 copied songs). Tests set a smaller one.
    calibration_plan = None

    def open_library(self, path: Path) -> None:
        work = functools.partial(jobs.open_library, Path(path))
        self._run_library_task(work, f"Opening {Path(path).name}")

    def open_demo_library(self) -> None:
        self._run_library_task(jobs.prepare_demo,
                               "Preparing the demo library (first time: about 2 minutes)")

    def create_library(self, path: Path, composition_rendering: str | None = None) -> None:
        work = functools.partial(jobs.create_library, Path(path), cache=self.cache,
                                 device=self.settings.device,
                                 composition_rendering=composition_rendering)
        self._run_library_task(work, f"Creating {Path(path).name}")

    def index_folder(self, folder: Path) -> None:
        if self.library is None:
            self.show_error("Open or create a library first.")
            return
        work = functools.partial(jobs.index_folder, self.library.path, [Path(folder)],
                                 cache=self.cache, device=self.settings.device)
        self._run_library_task(work, f"Indexing {Path(folder).name}", on_done=self._on_indexed)

    def calibrate_library(self) -> None:
        """Measure false names and copy detection on the open library (stored in it)."""
        if self.library is None:
            self.show_error("Open a library before calibrating it.")
            return
        work = functools.partial(jobs.calibrate_library, self.library.path, cache=self.cache,
                                 device=self.settings.device, plan=self.calibration_plan,
                                 is_demo=self.library.is_demo)
        self._run_library_task(work, f"Calibrating {self.library.name}",
                               on_done=self._on_calibrated,
                               cancelled_text="Calibration cancelled; nothing was stored.")

    def _on_calibrated(self, summary: jobs.LibrarySummary) -> None:
        self.set_library(summary)
        if summary.calibration is not None:
            self.library_panel.show_idle(
                f"Calibrated in {summary.calibration.seconds:.0f} s; stored in the library.")

    def _run_library_task(self, work, text: str, on_done=None,
                          cancelled_text: str = "Cancelled; nothing indexed so far is lost."
                          ) -> None:
        if self.library_task is not None:
            self.show_error("The library is busy; wait for the current task or cancel it.")
            return
        self.library_panel.show_progress(text)

        def progressed(state: ProgressState) -> None:
            self.library_panel.show_progress(text, state)

        def cancelled() -> None:
            self.library_panel.show_idle(cancelled_text)

        def failed(message: str) -> None:
            self.library_panel.show_idle(f"⚠ {message}")
            self.show_error(message)

        def finished() -> None:
            self.library_task = None
            self.update_enabled()

        self.library_task = self.start_task(work, "library",
                                            succeeded=on_done or self.set_library,
                                            progressed=progressed, failed=failed,
                                            cancelled=cancelled, done=finished)
        self.update_enabled()

    def cancel_library_task(self) -> None:
        if self.library_task is not None:
            self.library_task.cancel()

    def set_library(self, summary: jobs.LibrarySummary) -> None:
        self._connect_calibrate()
        self.library = summary
        self.library_panel.set_library(summary)
        self.library_panel.show_idle("")
        self.status_labels.show_library(summary)
        self.settings.last_library = summary.path
        self.update_enabled()

    def _connect_calibrate(self) -> None:
        # The panel's Calibrate button is enabled only once a library is shown, which is
        # always through set_library: connecting it here, once, keeps the window unchanged.
        if not getattr(self, "_calibrate_connected", False):
            self.library_panel.calibrateRequested.connect(self.calibrate_library)
            self._calibrate_connected = True

    def _on_indexed(self, outcome: jobs.IndexOutcome) -> None:
        if outcome.library is not None:
            self.set_library(outcome.library)
        text = (f"Indexed {outcome.indexed}, skipped {outcome.skipped}, "
                f"failed {outcome.failed}.")
        if outcome.messages:
            text += " " + outcome.messages[0] + (
                f" (+{len(outcome.messages) - 1} more)" if len(outcome.messages) > 1 else "")
        self.library_panel.show_idle(text)

    # -- audit -----------------------------------------------------------------------------
    def audit(self, inputs: list[Path], out: Path | None = None) -> None:
        """Audit files/folders against the current library into ``out`` (default: the user
        data folder's ``audits/<name>``), rows appearing in the queue as they finish."""
        if self.audit_task is not None:
            self.show_error("An audit is already running; cancel it first.")
            return
        if self.library is None or self.library.songs == 0:
            self.show_error("Open a library with songs in it before auditing.")
            return
        inputs = [Path(p) for p in inputs]
        out = Path(out) if out is not None else jobs.audit_output_folder(inputs)
        self.audit_dock.raise_()
        self.audit_panel.start(f"Auditing {', '.join(p.name for p in inputs)} against "
                               f"{self.library.name} into {out}…")
        work = functools.partial(jobs.audit_tracks, inputs, self.library.path, out,
                                 cache=self.cache, device=self.settings.device,
                                 on_row=self.row_relay.row.emit)

        def finished() -> None:
            self.audit_task = None

        def failed(message: str) -> None:
            self.audit_panel.show_idle(f"⚠ {message}")
            self.show_error(message)

        def cancelled() -> None:
            self.audit_panel.show_idle("Audit cancelled; the tracks that finished keep their "
                                       "signed reports and are skipped when you rerun it.")

        self.audit_task = self.start_task(work, "audit", succeeded=self.audit_panel.show_done,
                                          progressed=self.audit_panel.show_progress,
                                          failed=failed, cancelled=cancelled, done=finished)

    def cancel_audit(self) -> None:
        if self.audit_task is not None:
            self.audit_task.cancel()

"""The window's report actions: export the shown result as signed PDF and JSON reports, and
verify a signed report, each on a worker (:func:`lumina_app.jobs.export_report`,
:func:`lumina_app.jobs.verify_report_file`).

:class:`ReportActions` is mixed into :class:`lumina_app.window.MainWindow`; it uses the
window's ``result``, ``track``, ``settings``, ``dialogs``, ``reportChecked`` and
``start_task``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from lumina_app import jobs

__all__ = ["REPORT_FILTER", "ReportActions"]

REPORT_FILTER = "LUMINA reports (*.json *.pdf);;All files (*)"


class ReportActions:
    """Report slots of the main window (a mixin)."""

    def export_dialog(self) -> None:
        if self.result is None:
            return
        stem = f"{self.track.path.stem}-lumina" if self.track else "lumina-report"
        start = str(Path(self.settings.last_folder or Path.cwd()) / f"{stem}.pdf")
        path, _ = QFileDialog.getSaveFileName(self, "Export a signed report (PDF and JSON)",
                                              start, "PDF report (*.pdf)")
        if path:
            self.export_report(Path(path))

    def export_report(self, pdf_path: Path) -> None:
        """Write ``pdf_path`` and the JSON next to it, both signed, on a worker."""
        if self.result is None:
            return
        pdf_path = Path(pdf_path).with_suffix(".pdf")
        work = functools.partial(jobs.export_report, self.result, pdf_path.with_suffix(".json"),
                                 pdf_path)

        def written(paths: list[Path]) -> None:
            names = " and ".join(p.name for p in paths)
            text = f"Wrote {names} (signed) in {pdf_path.parent}"
            self.statusBar().showMessage(text, 10_000)
            self.reportChecked.emit(True, text)

        self.start_task(work, "export", succeeded=written)

    def verify_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify a signed report",
                                              self.settings.last_folder, REPORT_FILTER)
        if path:
            self.verify_report(Path(path))

    def verify_report(self, path: Path) -> None:
        path = Path(path)

        def valid(check) -> None:
            p = check.verified.predicate
            text = (f"Valid: {path.name} is signed by {check.signer}.\n"
                    f"Track {p['track']['source']} (SHA-256 {check.audio_sha256[:16]}…), model "
                    f"{p['model']['name']}, library {p['library']['name']} "
                    f"({p['library']['songs']} songs).")
            self.reportChecked.emit(True, text)
            if self.dialogs:
                QMessageBox.information(self, "Report verified", text)

        def invalid(message: str) -> None:
            text = f"Invalid: {message}"
            self.reportChecked.emit(False, text)
            if self.dialogs:
                QMessageBox.critical(self, "Report NOT valid", text)

        self.start_task(functools.partial(jobs.verify_report_file, path), "verify",
                        succeeded=valid, failed=invalid)

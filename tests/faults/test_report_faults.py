"""A report written to a full disk (issue 25): the file-size limit (``RLIMIT_FSIZE``) of a
subprocess stands in for a full file system. Whatever the point where space runs out, no
half-written report is left under the report's name, the error is one line, and a rerun
with space writes reports that verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")

GOLDEN = Path(__file__).parents[1] / "golden" / "report-payload.json"

WRITE = """
import json, resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk: EFBIG, not a kill
limit = int(sys.argv[3])
if limit:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from lumina.reports.report import write_signed_reports
out = Path(sys.argv[2])
try:
    write_signed_reports(json.loads(Path(sys.argv[1]).read_text()),
                         json_path=out.with_suffix(".json"), pdf_path=out.with_suffix(".pdf"))
except OSError as exc:
    print("ERROR", exc.strerror or exc); sys.exit(1)
"""


def _write(tmp_path: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITE, str(GOLDEN), str(tmp_path / "out"
                                                                         / "report"),
                           str(limit)], capture_output=True, text=True, timeout=120,
                          env={**os.environ})


@pytest.fixture
def sizes(tmp_path_factory):
    """The sizes of a complete JSON and PDF report (written with no limit)."""
    folder = tmp_path_factory.mktemp("full")
    out = _write(folder, 0)
    assert out.returncode == 0, out.stderr[-2000:]
    return ((folder / "out" / "report.json").stat().st_size,
            (folder / "out" / "report.pdf").stat().st_size)


@pytest.mark.parametrize("where", ["nothing", "half-json", "json-not-pdf", "half-pdf"])
def test_report_on_a_full_disk_leaves_no_half_file(tmp_path, sizes, where):
    from lumina.reports.verify import verify_report

    size_json, size_pdf = sizes
    limit = {"nothing": 1, "half-json": size_json // 2,
             "json-not-pdf": size_json + 1, "half-pdf": size_pdf // 2}[where]
    if where == "json-not-pdf" and size_pdf <= limit:
        pytest.skip("the PDF is smaller than the JSON here")
    out = _write(tmp_path, limit)
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    assert "Traceback" not in out.stderr and out.stdout.startswith("ERROR")
    folder = tmp_path / "out"
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    for name in left:  # only whole reports remain, and they verify
        assert name in ("report.json", "report.pdf"), f"stray file {name}"
        verify_report(folder / name)
    assert "report.pdf" not in left
    # The rerun with space completes and both reports verify.
    again = _write(tmp_path, 0)
    assert again.returncode == 0, again.stderr[-2000:]
    for name in ("report.json", "report.pdf"):
        verify_report(folder / name)
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "report.pdf"]
    assert json.loads((folder / "report.json").read_text())["signatures"]

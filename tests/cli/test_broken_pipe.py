"""`lumina … | head`: a reader that stops early ends the command quietly, as with any Unix
tool (exit 141, nothing on stderr), not with "internal error: BrokenPipeError"."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_closed_output_pipe_is_quiet(tmp_path):
    env = {**os.environ, "LUMINA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "lumina.cli", "keys", "show"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""

"""Cheap checks of the desktop packaging (the bundle itself is built by packaging/smoke.sh,
which CI does not run): the launcher, icons and AppStream data are valid and consistent
with each other and with the project's programs, the PyInstaller spec names files that
exist, and the shell scripts parse and install what they should."""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"
APP_ID = "org.lumina.Lumina"
DESKTOP = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
HICOLOR = RESOURCES / "icons" / "hicolor"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
SCRIPTS = ("build.sh", "smoke.sh", "install.sh")


def _pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _project_scripts() -> dict[str, str]:
    return _pyproject()["project"]["scripts"]


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(DESKTOP.read_text(encoding="utf-8"), source=str(DESKTOP))
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# -- the launcher ------------------------------------------------------------------------------
def test_desktop_entry_names_the_app_and_an_existing_icon():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LUMINA"
    assert entry["Comment"] and entry["GenericName"]
    assert entry["Terminal"] == "false"
    exec_args = entry["Exec"].split()
    assert exec_args[0] == "lumina-app" and exec_args[0] in _project_scripts()
    assert exec_args[1:] == ["%f"]  # the app opens the one track given on its command line
    assert entry["TryExec"] == "lumina-app"
    assert entry["Icon"] == APP_ID
    assert (HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    for size in ICON_SIZES:
        assert (HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png").is_file()


def test_desktop_entry_list_values_and_keys_are_well_formed():
    entry = _desktop_entry()
    known = {"Type", "Version", "Name", "GenericName", "Comment", "Icon", "Exec", "TryExec",
             "Terminal", "StartupNotify", "StartupWMClass", "Categories", "Keywords",
             "MimeType"}
    assert set(entry) <= known, set(entry) - known
    assert entry["Version"] == "1.5"
    # the window's X11 class is the application name that lumina_app.main sets
    assert entry["StartupWMClass"] == "LUMINA"
    assert 'setApplicationName("LUMINA")' in (ROOT / "lumina_app" / "main.py").read_text()
    for key in ("Categories", "Keywords", "MimeType"):
        assert entry[key].endswith(";"), key
    categories = entry["Categories"].rstrip(";").split(";")
    assert "AudioVideo" in categories  # a main category, required next to Audio
    for mime in entry["MimeType"].rstrip(";").split(";"):
        assert re.fullmatch(r"audio/[a-z0-9.+-]+", mime), mime


def test_icons_are_small_pngs_of_the_size_their_folder_says():
    for size in ICON_SIZES:
        png = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert _png_size(png) == (size, size), png
        assert png.stat().st_size <= 20 * 1024, f"{png} is over 20 KB"
    svg = ET.parse(HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("viewBox") == "0 0 256 256"


# -- AppStream ---------------------------------------------------------------------------------
def test_metainfo_has_the_required_appstream_fields():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    for tag in ("metadata_license", "project_license", "name", "summary"):
        assert (root.findtext(tag) or "").strip(), tag
    assert root.findtext("metadata_license") in {"CC0-1.0", "FSFAP", "MIT", "CC-BY-4.0"}
    assert len(root.findtext("summary").strip()) <= 80  # shown in one line by software centres
    assert root.find("description/p") is not None
    launchable = root.find("launchable")
    assert launchable.get("type") == "desktop-id" and launchable.text == DESKTOP.name
    assert root.findtext("icon") == _desktop_entry()["Icon"]
    assert {b.text for b in root.findall("provides/binary")} == set(_project_scripts())
    assert root.find("content_rating") is not None
    from lumina import __version__

    releases = [r.get("version") for r in root.findall("releases/release")]
    assert releases and releases[0] == __version__, "newest <release> is not lumina.__version__"
    for release in root.findall("releases/release"):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", release.get("date") or "")


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli not installed")
def test_metainfo_passes_appstreamcli():
    done = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_data_ships_the_launcher_icons_and_metainfo():
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["lumina_resources"]
    assert _pyproject()["tool"]["setuptools"]["package-dir"]["lumina_resources"] == "resources"
    files = [DESKTOP, METAINFO, *HICOLOR.rglob("*.png"), *HICOLOR.rglob("*.svg")]
    for path in files:
        rel = path.relative_to(RESOURCES).as_posix()
        assert any(Path(rel).match(p) or p == "**/*" for p in patterns), rel


# -- the PyInstaller spec ----------------------------------------------------------------------
def _spec_tree() -> ast.Module:
    return ast.parse((PACKAGING / "lumina.spec").read_text(encoding="utf-8"), "lumina.spec")


def test_spec_references_files_that_exist():
    referenced = [node.right.value for node in ast.walk(_spec_tree())
                  if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                  and isinstance(node.left, ast.Name) and node.left.id == "HERE"
                  and isinstance(node.right, ast.Constant)]
    assert {"entry_lumina.py", "entry_lumina_app.py", "rthook_lumina.py"} <= set(referenced)
    for name in referenced:
        assert (PACKAGING / name).is_file(), name


def test_spec_builds_both_programs_from_the_project_entry_points():
    names = set()
    for node in ast.walk(_spec_tree()):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "EXE":
            names |= {kw.value.value for kw in node.keywords if kw.arg == "name"}
    assert names == set(_project_scripts())
    entries = {"lumina": "entry_lumina.py", "lumina-app": "entry_lumina_app.py"}
    for program, target in _project_scripts().items():
        module, func = target.split(":")
        tree = ast.parse((PACKAGING / entries[program]).read_text(encoding="utf-8"))
        imports = {(n.module, a.name) for n in ast.walk(tree)
                   if isinstance(n, ast.ImportFrom) for a in n.names}
        assert (module, func) in imports, f"{entries[program]} does not run {target}"


def test_packaging_python_files_compile():
    for path in [*PACKAGING.glob("*.py"), PACKAGING / "lumina.spec"]:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


# -- the shell scripts -------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_script_parses_and_is_executable(script):
    path = PACKAGING / script
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert os.access(path, os.X_OK), f"{script} is not executable (git update-index --chmod=+x)"


@pytest.mark.skipif(shutil.which("sh") is None, reason="no POSIX sh")
def test_install_script_links_programs_and_points_the_launcher_at_the_bundle(tmp_path):
    bundle = tmp_path / "odd $name" / "lumina-0-linux"  # a path the launcher must quote
    (bundle / "share" / "applications").mkdir(parents=True)
    (bundle / "share" / "metainfo").mkdir(parents=True)
    shutil.copytree(HICOLOR, bundle / "share" / "icons" / "hicolor")
    shutil.copy(DESKTOP, bundle / "share" / "applications")
    shutil.copy(METAINFO, bundle / "share" / "metainfo")
    shutil.copy(PACKAGING / "install.sh", bundle / "install.sh")
    for exe in ("lumina", "lumina-app"):
        (bundle / exe).write_text("#!/bin/sh\necho hi\n")
        (bundle / exe).chmod(0o755)
    prefix = tmp_path / "prefix"
    env = {**os.environ, "PREFIX": str(prefix), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    done = subprocess.run(["sh", str(bundle / "install.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for exe in ("lumina", "lumina-app"):
        assert (prefix / "bin" / exe).resolve() == (bundle / exe).resolve()
    installed = (prefix / "share" / "applications" / DESKTOP.name).read_text()
    assert f'Exec="{bundle.parent.parent}/odd \\\\$name/lumina-0-linux/lumina-app" %f' in installed
    assert f"TryExec={bundle}/lumina-app" in installed
    assert (prefix / "share" / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png").is_file()
    assert (prefix / "share" / "metainfo" / METAINFO.name).is_file()

    done = subprocess.run(["sh", str(bundle / "install.sh"), "--uninstall"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (prefix / "bin" / "lumina").exists()
    assert not (prefix / "share" / "applications" / DESKTOP.name).exists()
    assert bundle.is_dir()


def test_bundle_report_lists_the_largest_parts(tmp_path):
    bundle = tmp_path / "lumina-0-linux"
    (bundle / "_internal" / "torch" / "lib").mkdir(parents=True)
    (bundle / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x" * 300_000)
    (bundle / "_internal" / "libpython3.so").write_bytes(b"x" * 100_000)
    (bundle / "lumina").write_bytes(b"x" * 1000)
    done = subprocess.run([sys.executable, str(PACKAGING / "bundle_report.py"), str(bundle)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("bundle lumina-0-linux:")
    assert "_internal/torch" in lines[2] and "_internal/libpython3.so" in lines[3]
    assert any(line.endswith("_internal/torch/lib/libtorch_cpu.so") for line in lines)

#!/usr/bin/env bash
# Build the LUMINA desktop bundle and its tarball from a clean checkout.
#
#   packaging/build.sh [--ref REF] [--overlay PATH]... [--dist DIR] [--keep]
#
# Clones REF (default HEAD) of this repository into a temporary folder, creates a fresh
# virtual environment there, installs torch, LUMINA (`pip install .`, not editable) and
# PyInstaller into it, runs packaging/lumina.spec, adds the launcher, icons and AppStream
# data, and writes into DIST (default: <repo>/dist, ignored by git):
#
#   lumina-VERSION-linux-ARCH[-VARIANT]/          the bundle: lumina, lumina-app, _internal/,
#                                                 share/, install.sh, README.txt
#   lumina-VERSION-linux-ARCH[-VARIANT].tar.gz    the same folder as a tarball
#
# Options:
#   --ref REF        build this commit, branch or tag instead of HEAD
#   --overlay PATH   copy PATH (file or folder, relative to the repository) from the working
#                    tree over the clean checkout: to try uncommitted packaging changes
#   --dist DIR       where the bundle and the tarball go
#   --keep           keep the temporary folder (checkout, venv, PyInstaller work folder)
#
# Environment:
#   PYTHON              the interpreter for the venv (default: python3); its version is the
#                       one bundled
#   LUMINA_TORCH        the torch requirement (default: torch==2.13.0, the CPU build here)
#   LUMINA_TORCH_INDEX  an index URL to get torch from, e.g.
#                       https://download.pytorch.org/whl/cu126 for the CUDA build
#   LUMINA_VARIANT      suffix of the bundle's name (default: cpu when torch has no CUDA,
#                       else cuda)
#   LUMINA_PYINSTALLER  the PyInstaller requirement (default: pyinstaller==6.22.3)
#   LUMINA_STRIP=0      keep the symbol tables of torch's libraries
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(git -C "$here/.." rev-parse --show-toplevel)
ref=HEAD
dist="$repo/dist"
keep=0
overlays=()
while (($#)); do
    case "$1" in
        --ref) ref=${2:?--ref needs a value}; shift 2 ;;
        --overlay) overlays+=("${2:?--overlay needs a path}"); shift 2 ;;
        --dist) dist=${2:?--dist needs a folder}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown option: $1 (try --help)" >&2; exit 2 ;;
    esac
done

python=${PYTHON:-python3}
torch_req=${LUMINA_TORCH:-torch==2.13.0}
pyinstaller_req=${LUMINA_PYINSTALLER:-pyinstaller==6.22.3}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lumina-build.XXXXXX")
cleanup() {
    if ((keep)); then echo "build.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }
t_start=$(date +%s)

step "clean checkout of $ref"
git clone --quiet --no-hardlinks "$repo" "$tmp/src"
git -C "$tmp/src" -c advice.detachedHead=false checkout --quiet "$(git -C "$repo" rev-parse "$ref^{commit}")"
for path in "${overlays[@]}"; do
    [[ -e "$repo/$path" ]] || { echo "build.sh: --overlay $path: not in $repo" >&2; exit 2; }
    mkdir -p "$tmp/src/$(dirname "$path")"
    rm -rf "${tmp:?}/src/$path"
    cp -a "$repo/$path" "$tmp/src/$path"
    echo "overlaid from the working tree: $path"
done
commit=$(git -C "$tmp/src" rev-parse --short HEAD)
commit_time=$(git -C "$tmp/src" log -1 --format=%ct)
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +

step "fresh venv ($("$python" --version 2>&1)) with $torch_req"
"$python" -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)
torch_args=()
[[ -n "${LUMINA_TORCH_INDEX:-}" ]] && torch_args=(--index-url "$LUMINA_TORCH_INDEX")
"${pip[@]}" install --quiet "${torch_args[@]}" "$torch_req"

step "pip install . (LUMINA $commit) and $pyinstaller_req"
# `.` and not `-e .`: the bundle must hold the installed package, data files included
"${pip[@]}" install --quiet "$tmp/src"
"${pip[@]}" install --quiet "$pyinstaller_req"
version=$("$py" -c 'import lumina; print(lumina.__version__)')
has_cuda=$("$py" -c 'import torch; print(int(torch.version.cuda is not None))')
variant=${LUMINA_VARIANT:-$( ((has_cuda)) && echo cuda || echo cpu)}
arch=$(uname -m)
name="lumina-$version-linux-$arch"
[[ "$variant" != cpu ]] && name="$name-$variant"
echo "torch $("$py" -c 'import torch; print(torch.__version__)'), variant $variant -> $name"
if [[ "${LUMINA_TORCH_INDEX:-}" == */cu* ]] && ! ((has_cuda)); then
    echo "build.sh: asked for torch from $LUMINA_TORCH_INDEX but got a build without CUDA;" \
         "pin the CUDA build, e.g. LUMINA_TORCH='torch==2.X.Y+cu126'" >&2
    exit 1
fi

step "PyInstaller"
(cd "$tmp/src" && "$py" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$tmp/dist" --workpath "$tmp/work" packaging/lumina.spec)

step "launcher, icons, AppStream data"
bundle="$tmp/dist/lumina"
res="$tmp/src/resources"
install -D -m 644 "$res/org.lumina.Lumina.desktop" "$bundle/share/applications/org.lumina.Lumina.desktop"
install -D -m 644 "$res/org.lumina.Lumina.metainfo.xml" "$bundle/share/metainfo/org.lumina.Lumina.metainfo.xml"
mkdir -p "$bundle/share/icons"
cp -R "$res/icons/hicolor" "$bundle/share/icons/"
install -m 755 "$tmp/src/packaging/install.sh" "$bundle/install.sh"
cat > "$bundle/README.txt" <<EOF
LUMINA $version ($variant build, commit $commit)

  ./lumina-app            the desktop app
  ./lumina demo           the whole job on the embedded model and the demo catalog
  ./lumina --help         every command
  ./install.sh            add LUMINA to your applications menu and put lumina and lumina-app
                          on your PATH (~/.local; ./install.sh --uninstall removes it again)

Everything LUMINA needs is in this folder (Python, torch, Qt, the embedded model); nothing
is downloaded. Playback needs ALSA or PulseAudio/PipeWire, the window an X11 or Wayland
session (Qt's xcb plugin needs libxcb-cursor0 on some distributions).
EOF

step "bundle report"
rm -rf "${dist:?}/$name" "$dist/$name.tar.gz"
mv "$bundle" "$dist/$name"
"$py" "$tmp/src/packaging/bundle_report.py" "$dist/$name"

step "tarball"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$commit_time" \
    -C "$dist" -czf "$dist/$name.tar.gz" "$name"
echo "bundle:  $dist/$name ($(du -sh "$dist/$name" | cut -f1))"
echo "tarball: $dist/$name.tar.gz ($(du -h "$dist/$name.tar.gz" | cut -f1))"
echo "built in $(($(date +%s) - t_start)) s"

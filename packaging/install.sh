#!/bin/sh
# Install this LUMINA bundle for the current user, without root: put `lumina` and
# `lumina-app` on the PATH and LUMINA in the applications menu.
#
#   ./install.sh               links ~/.local/bin/lumina and ~/.local/bin/lumina-app to this
#                              folder, installs the launcher, icons and AppStream data under
#                              ~/.local/share (the folder stays where it is: move it first)
#   ./install.sh --uninstall   removes all of that again (not this folder)
#
# PREFIX=/some/where ./install.sh installs under another prefix (e.g. /usr/local, as root).
set -eu

app_id=org.lumina.Lumina
here=$(cd "$(dirname "$0")" && pwd -P)
prefix=${PREFIX:-$HOME/.local}
bin="$prefix/bin"
share="$prefix/share"
sizes="16 24 32 48 64 128 256"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 \
        && update-desktop-database -q "$share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 \
        && gtk-update-icon-cache -q -t "$share/icons/hicolor" 2>/dev/null || true
}

case "${1:-}" in
--uninstall)
    for exe in lumina lumina-app; do
        # only our own links: never a `lumina` that something else put there
        if [ -L "$bin/$exe" ]; then
            case "$(readlink "$bin/$exe")" in */"$exe") rm -f "$bin/$exe" ;; esac
        fi
    done
    rm -f "$share/applications/$app_id.desktop" "$share/metainfo/$app_id.metainfo.xml" \
        "$share/icons/hicolor/scalable/apps/$app_id.svg"
    for size in $sizes; do
        rm -f "$share/icons/hicolor/${size}x${size}/apps/$app_id.png"
    done
    refresh
    echo "LUMINA removed from $prefix (this folder, $here, is left as it is)"
    exit 0
    ;;
"") ;;
*) echo "usage: $0 [--uninstall]" >&2; exit 2 ;;
esac

for exe in lumina lumina-app; do
    [ -x "$here/$exe" ] || { echo "install.sh: $here/$exe is missing" >&2; exit 1; }
done
mkdir -p "$bin" "$share/applications" "$share/metainfo"
ln -sf "$here/lumina" "$bin/lumina"
ln -sf "$here/lumina-app" "$bin/lumina-app"

# The launcher names the program by its absolute path, quoted and escaped as the Desktop
# Entry specification asks, so it works whether or not ~/.local/bin is on the PATH.
exec_arg=$(printf '%s' "$here/lumina-app" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')
try_exec=$(printf '%s' "$here/lumina-app" | sed -e 's/\\/\\\\/g')
{
    grep -v -e '^Exec=' -e '^TryExec=' "$here/share/applications/$app_id.desktop"
    printf 'Exec="%s" %%f\n' "$exec_arg"
    printf 'TryExec=%s\n' "$try_exec"
} > "$share/applications/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$share/metainfo/"
(cd "$here/share/icons" && find hicolor -type f) | while read -r icon; do
    mkdir -p "$share/icons/$(dirname "$icon")"
    cp "$here/share/icons/$icon" "$share/icons/$icon"
done
refresh

echo "LUMINA installed: $bin/lumina, $bin/lumina-app and the launcher \"LUMINA\""
case ":$PATH:" in
*":$bin:"*) ;;
*) echo "note: $bin is not on your PATH; add it to run lumina from a terminal" ;;
esac

#!/usr/bin/env bash
# Smoke check of the desktop bundle (not run by CI: building takes many minutes).
#
#   packaging/smoke.sh [build.sh options]      build with packaging/build.sh, then check
#   packaging/smoke.sh --tarball FILE.tar.gz   check an existing tarball
#
# Unpacks the tarball into a temporary folder and, with a bare environment (no Python on
# the PATH, no PYTHONPATH, LUMINA_HOME and LUMINA_CACHE in temporary folders, and no network
# where `unshare -rn` is allowed), runs:
#   lumina --version / --help        start-up time, cold and warm
#   lumina demo                      the embedded model end to end; then lumina verify on its PDF
#   ldd                              every library in the bundle resolves
#   lumina-app                       offscreen (QT_QPA_PLATFORM=offscreen) for APP_SECONDS
#                                    (default 8) after its window appears; then on Xvfb
#                                    (Qt's xcb plugin) where xvfb-run is installed
#   install.sh                       into a temporary prefix, then lumina via the PATH link
# and prints the bundle's size, the tarball's size, the ten largest parts and the times.
# Exit status 0 when every check passed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
app_seconds=${APP_SECONDS:-8}
tarball=
if [[ "${1:-}" == --tarball ]]; then
    tarball=$(realpath "${2:?--tarball needs a file}")
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lumina-smoke.XXXXXX")
app_pid=
cleanup() {
    [[ -n "$app_pid" ]] && stop_app
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
stop_app() {
    kill -TERM -- "-$app_pid" 2>/dev/null || kill -TERM "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
}
pass() { printf '  ok    %s\n' "$*"; }
fail() { printf '  FAIL  %s\n' "$*"; failures=$((failures + 1)); }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

if [[ -z "$tarball" ]]; then
    echo "== building (packaging/build.sh $*)"
    "$here/build.sh" --dist "$tmp/dist" "$@" | tee "$tmp/build.log"
    # (a --dist among the options wins; the tarball is where build.sh says it put it)
    tarball=$(sed -n 's/^tarball: \(.*\.tar\.gz\) (.*/\1/p' "$tmp/build.log" | tail -1)
fi

echo
echo "== unpacking $(basename "$tarball")"
mkdir -p "$tmp/unpacked"
t0=$(now)
tar -C "$tmp/unpacked" -xzf "$tarball"
echo "unpacked in $(since "$t0") s"
bundle=$(ls -d "$tmp"/unpacked/lumina-*/)
bundle=${bundle%/}

# A bare environment: the bundle must bring its own Python and find its model by itself.
mkdir -p "$tmp/home" "$tmp/cache" "$tmp/out" "$tmp/xdg-runtime"
chmod 700 "$tmp/xdg-runtime"
run_env=(env -i "HOME=$tmp/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8"
         "LUMINA_HOME=$tmp/home/lumina" "LUMINA_CACHE=$tmp/cache"
         "XDG_RUNTIME_DIR=$tmp/xdg-runtime" "QT_QPA_PLATFORM=offscreen")
offline=()
if unshare -rn true 2>/dev/null; then
    offline=(unshare -rn)   # a network namespace with no interface but lo
    network_note="no network (unshare -rn)"
else
    network_note="network not cut (unshare -rn is not allowed here)"
fi
run() { "${offline[@]}" "${run_env[@]}" "$@"; }

echo
echo "== checks ($network_note)"
missing=$(find "$bundle" -type f \( -name '*.so*' -o -name lumina -o -name lumina-app \) \
    -exec sh -c 'for f; do head -c 4 "$f" | grep -q ELF || continue
        LD_LIBRARY_PATH="$0" ldd "$f" 2>/dev/null | sed -n "s|^[[:space:]]*\(.*not found\)|$f: \1|p"
    done' "$bundle/_internal" {} + | sed "s|$bundle/||")
if [[ -z "$missing" ]]; then
    pass "every library in the bundle resolves (ldd)"
else
    fail "unresolved libraries:"$'\n'"$(head -20 <<<"$missing" | sed 's/^/        /')"
fi
t0=$(now)
if out=$(run "$bundle/lumina" --version 2>&1); then
    pass "lumina --version: $out"
else
    fail "lumina --version: $out"
fi
t_version_cold=$(since "$t0")
t0=$(now)
if run "$bundle/lumina" --help >"$tmp/help.txt" 2>&1 && grep -q "demo" "$tmp/help.txt"; then
    pass "lumina --help lists the commands"
else
    fail "lumina --help: $(tail -3 "$tmp/help.txt")"
fi
t_help=$(since "$t0")

t0=$(now)
run "$bundle/lumina" demo --out "$tmp/out" >"$tmp/demo.log" 2>&1 && rc=0 || rc=$?
t_demo=$(since "$t0")
if ((rc == 0)); then
    pass "lumina demo in $t_demo s (first run: renders and indexes the demo catalog)"
else
    fail "lumina demo (exit $rc): $(tail -5 "$tmp/demo.log")"
fi
sed 's/^/        /' "$tmp/demo.log" | head -40 || true
pdf=$(ls "$tmp"/out/lumina-demo-*.pdf 2>/dev/null | head -1 || true)
json=$(ls "$tmp"/out/lumina-demo-*.json 2>/dev/null | head -1 || true)
if [[ -n "$pdf" && -n "$json" ]]; then
    pass "demo wrote $(basename "$json") and $(basename "$pdf")"
    if out=$(run "$bundle/lumina" verify "$pdf" 2>&1); then
        pass "lumina verify $(basename "$pdf"): ${out%%$'\n'*}"
    else
        fail "lumina verify $(basename "$pdf"): $out"
    fi
else
    fail "demo wrote no signed report into $tmp/out"
fi
t0=$(now)
run "$bundle/lumina" demo --out "$tmp/out" >"$tmp/demo2.log" 2>&1 \
    && pass "lumina demo again (cached catalog) in $(since "$t0") s" \
    || fail "second lumina demo: $(tail -3 "$tmp/demo2.log")"

# The app, offscreen. It has no "ready" output, so the window is taken as shown when Qt's
# offscreen platform first reports on a window (it does so as the main window is shown).
t0=$(now)
# (in a session of its own: `unshare -r` forks, so the app is a grandchild; stopping the
# whole process group stops it)
setsid "${offline[@]}" "${run_env[@]}" "$bundle/lumina-app" >"$tmp/app.log" 2>&1 &
app_pid=$!
t_app=
for _ in $(seq 1 1200); do
    if ! kill -0 "$app_pid" 2>/dev/null; then break; fi
    if [[ -z "$t_app" ]] && grep -q "propagateSizeHints" "$tmp/app.log"; then
        t_app=$(since "$t0")
        break
    fi
    sleep 0.05
done
sleep "$app_seconds"
if kill -0 "$app_pid" 2>/dev/null; then
    pass "lumina-app ran offscreen for ${app_seconds} s after its window appeared${t_app:+ (window after $t_app s)}"
    stop_app
else
    wait "$app_pid" && rc=0 || rc=$?
    fail "lumina-app exited early with status $rc"
fi
app_pid=
if grep -q "Traceback\|^ERROR\|error:" "$tmp/app.log"; then
    fail "lumina-app printed errors (below)"
fi
{ grep -v "propagateSizeHints" "$tmp/app.log" || true; } | sed "s/^/        /" | head -20 || true

# Offscreen proves the app runs; where Xvfb is installed, also show it on an X server, which
# loads Qt's xcb platform plugin and the X libraries bundled with it.
if command -v xvfb-run >/dev/null 2>&1; then
    cat >"$tmp/x11.sh" <<EOF
#!/bin/sh
env -i HOME="$tmp/home" PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="\$DISPLAY" \\
    XAUTHORITY="\$XAUTHORITY" LUMINA_HOME="$tmp/home/lumina" LUMINA_CACHE="$tmp/cache" \\
    QT_QPA_PLATFORM=xcb "$bundle/lumina-app" >"$tmp/x11.log" 2>&1 &
pid=\$!
sleep $app_seconds
kill -0 \$pid || exit 1
kill \$pid
EOF
    chmod +x "$tmp/x11.sh"
    if timeout $((app_seconds + 60)) xvfb-run -a "$tmp/x11.sh" >/dev/null 2>&1; then
        pass "lumina-app ran on an X server (Xvfb, xcb plugin) for ${app_seconds} s"
    else
        fail "lumina-app on Xvfb: $(tail -3 "$tmp/x11.log" 2>/dev/null)"
    fi
else
    echo "  skip  lumina-app on an X server (no xvfb-run)"
fi

t0=$(now)
run "$bundle/lumina" --version >/dev/null 2>&1
t_version_warm=$(since "$t0")

# install.sh into a temporary prefix, then lumina through the link it made
if run env "PREFIX=$tmp/prefix" "$bundle/install.sh" >"$tmp/install.log" 2>&1 \
        && run "$tmp/prefix/bin/lumina" --version >/dev/null 2>&1 \
        && grep -q "^Exec=\"$bundle/lumina-app\" %f" "$tmp/prefix/share/applications/org.lumina.Lumina.desktop"; then
    pass "install.sh: lumina runs through $tmp/prefix/bin/lumina, launcher points at the bundle"
else
    fail "install.sh: $(tail -3 "$tmp/install.log")"
fi
run env "PREFIX=$tmp/prefix" "$bundle/install.sh" --uninstall >/dev/null 2>&1 \
    && [[ ! -e "$tmp/prefix/bin/lumina" ]] \
    && pass "install.sh --uninstall" || fail "install.sh --uninstall"

echo
echo "== size"
if [[ -f "$tmp/build.log" ]] && grep -q "largest parts" "$tmp/build.log"; then
    sed -n '/^bundle lumina-/,/^== tarball/p' "$tmp/build.log" | sed '$d'
else
    python3 "$here/bundle_report.py" "$bundle" 2>/dev/null \
        || echo "bundle: $(du -sh "$bundle" | cut -f1)"
fi
echo "tarball $(basename "$tarball"): $(du -h "$tarball" | cut -f1) ($(stat -c %s "$tarball") bytes)"
echo "bundle on disk: $(du -sh "$bundle" | cut -f1)"

echo
echo "== start-up times"
echo "  lumina --version   first run ${t_version_cold} s, later ${t_version_warm} s"
echo "  lumina --help      ${t_help} s"
echo "  lumina-app         window after ${t_app:-?} s"
echo "  lumina demo        ${t_demo} s (first run, builds the demo cache)"

echo
if ((failures)); then
    echo "smoke: $failures check(s) FAILED"
    exit 1
fi
echo "smoke: all checks passed"

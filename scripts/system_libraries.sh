#!/usr/bin/env bash
# Check for the system libraries that Qt's X11/Wayland platform and VTK's OpenGL need, and install
# the missing ones when that needs no password (root, or sudo without one). Otherwise stop and print
# the exact command to run. Called by bootstrap.sh before anything is built; it can run alone too.
#
# Without these, the window does not start ("Could not load the Qt platform plugin 'xcb' …
# xcb-cursor0 or libxcb-cursor0 is needed") although pip installed everything.
# DRUGDESK_SKIP_SYSTEM_CHECK=1 skips the check (a machine that only runs the command-line tools).
set -euo pipefail

if [ "${DRUGDESK_SKIP_SYSTEM_CHECK:-0}" = "1" ]; then
    exit 0
fi
case "$(uname -s)" in
    Linux) ;;
    *) exit 0 ;;  # macOS and Windows wheels of Qt and VTK carry what they need
esac

# soname | Debian/Ubuntu package | Fedora package
LIBRARIES=(
    "libxcb-cursor.so.0|libxcb-cursor0|xcb-util-cursor"
    "libxkbcommon-x11.so.0|libxkbcommon-x11-0|libxkbcommon-x11"
    "libxkbcommon.so.0|libxkbcommon0|libxkbcommon"
    "libxcb-icccm.so.4|libxcb-icccm4|xcb-util-wm"
    "libxcb-keysyms.so.1|libxcb-keysyms1|xcb-util-keysyms"
    "libxcb-image.so.0|libxcb-image0|xcb-util-image"
    "libxcb-render-util.so.0|libxcb-render-util0|xcb-util-renderutil"
    "libxcb-randr.so.0|libxcb-randr0|libxcb"
    "libxcb-shape.so.0|libxcb-shape0|libxcb"
    "libxcb-xfixes.so.0|libxcb-xfixes0|libxcb"
    "libxcb-xkb.so.1|libxcb-xkb1|libxcb"
    "libX11.so.6|libx11-6|libX11"
    "libXrender.so.1|libxrender1|libXrender"
    "libGL.so.1|libgl1|libglvnd-glx"
    "libEGL.so.1|libegl1|libglvnd-egl"
    "libdbus-1.so.3|libdbus-1-3|dbus-libs"
    "libfontconfig.so.1|libfontconfig1|fontconfig"
)

have_library() {
    local soname="$1"
    local ldconfig_cmd
    ldconfig_cmd="$(command -v ldconfig || true)"
    if [ -n "$ldconfig_cmd" ]; then
        "$ldconfig_cmd" -p 2>/dev/null | grep -q "[[:space:]]$soname " && return 0
    fi
    # No ldconfig cache (some containers): look in the usual folders.
    local folder
    for folder in ${DRUGDESK_LIBRARY_DIRS:-/usr/lib /usr/lib64 /usr/lib/x86_64-linux-gnu \
        /usr/lib/aarch64-linux-gnu /lib /lib64 /lib/x86_64-linux-gnu /lib/aarch64-linux-gnu}; do
        [ -e "$folder/$soname" ] && return 0
    done
    return 1
}

missing_sonames=()
missing_debian=()
missing_fedora=()
for entry in "${LIBRARIES[@]}"; do
    IFS='|' read -r soname debian fedora <<<"$entry"
    if ! have_library "$soname"; then
        missing_sonames+=("$soname")
        missing_debian+=("$debian")
        missing_fedora+=("$fedora")
    fi
done
if [ "${#missing_sonames[@]}" -eq 0 ]; then
    exit 0
fi

unique() { printf '%s\n' "$@" | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'; }

if command -v apt-get >/dev/null 2>&1; then
    packages="$(unique "${missing_debian[@]}")"
    install=(apt-get install -y --no-install-recommends $packages)
    update=(apt-get update -qq)
elif command -v dnf >/dev/null 2>&1; then
    packages="$(unique "${missing_fedora[@]}")"
    install=(dnf install -y $packages)
    update=()
else
    echo "DrugDesk's window needs these system libraries, which are missing:" >&2
    printf '  %s\n' "${missing_sonames[@]}" >&2
    echo "Install them with your system's package manager, then run this again." >&2
    echo "(DRUGDESK_SKIP_SYSTEM_CHECK=1 skips this check, for the command-line tools only.)" >&2
    exit 1
fi

runner=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        runner=(sudo -n)
    else
        echo "DrugDesk's window needs system libraries that are missing: $(unique "${missing_sonames[@]}")." >&2
        echo "Install them (this needs an administrator), then run the set-up again:" >&2
        if [ "${#update[@]}" -gt 0 ]; then
            echo "  sudo ${update[*]} && sudo ${install[*]}" >&2
        else
            echo "  sudo ${install[*]}" >&2
        fi
        echo "(DRUGDESK_SKIP_SYSTEM_CHECK=1 skips this check, for the command-line tools only.)" >&2
        exit 1
    fi
fi
echo "Installing the system libraries the window needs: $packages" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "${#update[@]}" -gt 0 ]; then
    "${runner[@]}" "${update[@]}"
fi
"${runner[@]}" "${install[@]}" >/dev/null

#!/usr/bin/env bash
# wine-test.sh runs Go tests built for windows/amd64 under Wine, so that the
# Windows code (VirtualAlloc, MEM_RESET, the guard page) runs, not only
# builds.
#
# Usage: bash scripts/wine-test.sh [go test flags and packages...]
#   e.g. bash scripts/wine-test.sh ./cpuid ./asm ./alloc
#        bash scripts/wine-test.sh -check   (only see that Wine can be had)
#
# It needs Wine and the mingw-w64 cross compiler (Debian: wine64 and
# gcc-mingw-w64-x86-64-win32); run as root on a Debian-like system it
# installs them with apt-get. Go test binaries since Go 1.24 load
# bcryptprimitives.dll at start-up, which Wine 8.0 lacks, so the script
# builds a stand-in (scripts/wine/bcryptprimitives.c) into a Wine prefix of
# its own, made afresh in a temporary directory for each run.
#
# Exit status: that of go test; 3 when Wine or the cross compiler cannot be
# had.
set -euo pipefail

cd "$(dirname "$0")/.."

# Debian's wine64 package puts wine64 and wineserver in /usr/lib/wine.
export PATH=$PATH:/usr/lib/wine

find_wine() {
	local w
	for w in wine64 wine; do
		if command -v "$w" >/dev/null; then
			echo "$w"
			return
		fi
	done
	return 1
}

cc=x86_64-w64-mingw32-gcc
if ! wine=$(find_wine) || ! command -v "$cc" >/dev/null; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing wine64 and gcc-mingw-w64-x86-64-win32 with apt-get" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2 </dev/null
		apt-get install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32 >&2 </dev/null
	fi
fi
if ! wine=$(find_wine) || ! command -v "$cc" >/dev/null; then
	echo "wine-test.sh: needs wine64 and $cc (apt-get install wine64 gcc-mingw-w64-x86-64-win32)" >&2
	exit 3
fi
if [[ ${1:-} == -check ]]; then
	exit 0
fi

tmp=$(mktemp -d)
trap 'WINEPREFIX="$tmp/prefix" wineserver -k 2>/dev/null || true; rm -rf "$tmp"' EXIT
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
"$wine" wineboot --init >/dev/null 2>&1 || true
"$cc" -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
	scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def

"$wine" --version
GOOS=windows GOARCH=amd64 go test -exec "$wine" "$@"

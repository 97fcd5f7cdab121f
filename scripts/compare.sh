#!/usr/bin/env bash
# compare.sh compares benchmark results across machines (or runs): first the
# designs side by side within each file, then the files side by side for each
# benchmark and design, with benchstat's statistics (slabbench compare), each
# file's machine and run named in a legend; then the kernel's batch table
# beside each file's (slabbench kernel).
#
# Usage: bash scripts/compare.sh [[label=]FILE...]
#   With no FILE it takes, for each machine in results/, its newest file, and
#   labels it with the machine's name.
#
# Environment:
#   UNITS   units to show, comma-separated as in the files
#           (default ns/op,ns/obj,allocs/s,frees/s,mapped-B/live-B)
#
# Results from different machines differ in everything at once (CPU, memory,
# core count, Go version): read a cross-machine table as "how does each
# design fare here and there", and compare designs within one file for
# "which design is faster". Timings of an arm64 run under qemu-user mean
# nothing: the emulator runs the code, it does not time a real core.
set -euo pipefail

cd "$(dirname "$0")/.."

UNITS=${UNITS:-ns/op,ns/obj,allocs/s,frees/s,mapped-B/live-B}

files=("$@")
if ((${#files[@]} == 0)); then
	declare -A newest=()
	for f in results/*.txt; do
		[[ -e $f ]] || continue
		base=$(basename "$f" .txt)
		machine=${base%%_*}
		# Names end in _DATE_TIME, so the last in glob order is the newest.
		newest[$machine]=$f
	done
	for m in "${!newest[@]}"; do
		files+=("$m=${newest[$m]}")
	done
fi
if ((${#files[@]} == 0)); then
	echo "compare.sh: no result files (run scripts/bench.sh first)" >&2
	exit 1
fi

for f in "${files[@]}"; do
	path=${f#*=}
	if grep -q '^goarch: arm64' "$path" && grep -q '^cpu: unknown' "$path"; then
		echo "compare.sh: note: $path is an arm64 run with no CPU name, likely under qemu-user: its timings mean nothing" >&2
	fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/slabbench" ./cmd/slabbench

echo "# Designs side by side, per file"
echo
"$tmp/slabbench" compare -by design -units "$UNITS" "${files[@]}"
if ((${#files[@]} > 1)); then
	echo
	echo "# Files side by side, per benchmark and design"
	echo
	"$tmp/slabbench" compare -by file -units "$UNITS" "${files[@]}"
fi
echo
echo "# The kernel's batch benchmark beside each file"
echo
"$tmp/slabbench" kernel "${files[@]}"

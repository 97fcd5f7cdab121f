#!/usr/bin/env bash
# bench.sh runs the full benchmark suite on this machine: every workload on
# every design, interleaved, COUNT times, at GOMAXPROCS 1 and every power of
# two up to the number of CPUs (the one-goroutine workloads at the largest
# only), and writes the raw results to results/MACHINE_DATE_TIME.txt and the
# HTML report with plots beside them (MACHINE_DATE_TIME.html), then prints the
# summary of the run. On 2 cores it takes about four minutes.
#
# Usage: bash scripts/bench.sh [slabbench flags...]
#   e.g. bash scripts/bench.sh -designs sheaves,cpuslab -bench 'Batch|Xmalloc'
#
# Environment:
#   COUNT       repetitions (default 10, the least benchstat wants)
#   BENCHTIME   time per run (default 50ms)
#   CPUS        GOMAXPROCS values, comma-separated (default 1,2,4,... up to nproc)
#   IDLE        how long to wait for an idle machine (default 30s)
#
# Run it on an otherwise idle machine, plugged in; see results/README.md for
# what the files hold and how to compare them. An arm64 run under qemu-user
# checks that the suite works there; its timings mean nothing.
set -euo pipefail

cd "$(dirname "$0")/.."

COUNT=${COUNT:-20}
BENCHTIME=${BENCHTIME:-20ms}
IDLE=${IDLE:-30s}
if [[ -z ${CPUS:-} ]]; then
	ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	CPUS=1
	for ((p = 2; p < ncpu; p *= 2)); do
		CPUS+=",$p"
	done
	if ((ncpu > 1)); then
		CPUS+=",$ncpu"
	fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A built binary, so that compiling does not overlap the first measurements.
go build -o "$tmp/slabbench" ./cmd/slabbench

# -report writes the report beside the result file, wherever -o puts it.
"$tmp/slabbench" -count "$COUNT" -benchtime "$BENCHTIME" -cpu "$CPUS" -idle "$IDLE" -report "$@"

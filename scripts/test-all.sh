#!/usr/bin/env bash
# test-all.sh runs the test matrix of DESIGN.md section 7: formatting, vet for
# amd64 and arm64, the tests natively, with the race detector, with the
# double-word CAS forced off, the spin models of the lock-free protocols
# (alloc/model, bounded), under qemu-aarch64 with and without the LSE
# atomics, with -tags purego and for GOARCH=386, go.mod tidiness, the oldest
# Go that go.mod names, vet for Windows and the tests under Wine, the Arrow
# programs of arrowtest/, and every benchmark once. It also checks that go
# test keys its cache on the module's environment variables, so that no
# step is answered from the cache of another.
#
# GOARCH=386 runs natively where the kernel runs 386 binaries, else in a
# virtual machine (scripts/run-386-vm.sh, a few minutes) when
# qemu-system-x86_64 is installed, else the tests are only built.
#
# Usage: bash scripts/test-all.sh
#
# Environment:
#   PKGS          packages for every step (default ./...)
#   QEMU_PKGS     packages for the qemu steps (default: those of ./asm ./cpuid
#                 ./alloc that exist and that PKGS includes)
#   MODELS        the model step: bounded (default), full (minutes; see
#                 scripts/models.sh) or off
#   TEST_TIMEOUT  go test -timeout for each step (default 20m)
#   GOFLAGS       passed through to every go command (e.g. -count=1), but
#                 the cache check
#   GOSLUB_VM386  off: never run the 386 tests in a virtual machine
#
# Every step runs even after one fails; the summary at the end lists each
# step's result and time, and the exit status is 1 if any step failed.
set -euo pipefail

cd "$(dirname "$0")/.."

PKGS=${PKGS:-./...}
TEST_TIMEOUT=${TEST_TIMEOUT:-20m}
MODELS=${MODELS:-bounded}
read -r -a pkgs <<<"$PKGS"

# The models do not depend on the build (race, tags, GOARCH): they run once,
# in their own step, and the other steps skip them.
export GOSLUB_MODELS=off

# The qemu steps run the packages with assembly or CPU dispatch: those of
# ./asm ./cpuid ./alloc that exist and, when PKGS names packages, that PKGS
# names.
if [[ -n ${QEMU_PKGS:-} ]]; then
	read -r -a qemu_pkgs <<<"$QEMU_PKGS"
else
	qemu_pkgs=()
	for p in ./asm ./cpuid ./alloc; do
		if ! compgen -G "$p/*.go" >/dev/null; then
			continue
		fi
		if [[ $PKGS == ./... || " $PKGS " == *" $p "* ]]; then
			qemu_pkgs+=("$p")
		fi
	done
fi

# The directories gofmt looks at: the packages' directories, recursively for
# the "/..." patterns.
fmt_dirs=()
for p in "${pkgs[@]}"; do
	p=${p%/...}
	fmt_dirs+=("${p:-.}")
done

summary=()
failed=0

# step NAME COMMAND... runs one step of the matrix and records its result.
step() {
	local name=$1
	shift
	printf '\n=== %s\n+ %s\n' "$name" "$*"
	local start=$SECONDS
	local result=ok
	if ! "$@"; then
		result=FAIL
		failed=1
	fi
	summary+=("$(printf '%-5s %4ds  %s' "$result" $((SECONDS - start)) "$name")")
}

# note NAME TEXT records a step that did not run, and why.
note() {
	printf '\n=== %s\n%s\n' "$1" "$2"
	summary+=("$(printf '%-5s %4s   %s (%s)' SKIP - "$1" "$2")")
}

gofmt_clean() {
	local out
	out=$(gofmt -l "${fmt_dirs[@]}")
	if [[ -n $out ]]; then
		echo "gofmt -l lists files that need formatting:"
		echo "$out"
		return 1
	fi
}

# find_qemu prints the name of the qemu-user binary for aarch64, installing
# qemu-user with apt-get when neither name is found and this is root on a
# Debian-like system.
find_qemu() {
	local q
	for q in qemu-aarch64 qemu-aarch64-static; do
		if command -v "$q" >/dev/null; then
			echo "$q"
			return
		fi
	done
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing qemu-user with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >&2
		for q in qemu-aarch64 qemu-aarch64-static; do
			if command -v "$q" >/dev/null; then
				echo "$q"
				return
			fi
		done
	fi
	return 1
}

# env_in_cache_key checks that a run with GOSLUB_NODCAS=1 right after one
# without it is not answered from the test cache (internal/envlog). The -run
# pattern is new each time and matches no test, so the first run is never
# cached and none costs more than a link; a second identical run must be
# cached, or the check would prove nothing. GOFLAGS is cleared: -count=1
# there would turn the cache off.
env_in_cache_key() {
	local run out
	run="^TestNone$(date +%s%N)\$"
	env -u GOSLUB_NODCAS GOFLAGS= go test -run "$run" "${pkgs[@]}" >/dev/null || return 1
	out=$(env -u GOSLUB_NODCAS GOFLAGS= go test -run "$run" "${pkgs[@]}") || return 1
	if grep '^ok' <<<"$out" | grep -v '(cached)'; then
		echo "the packages above were not cached when run twice alike"
		return 1
	fi
	out=$(env GOSLUB_NODCAS=1 GOFLAGS= go test -run "$run" "${pkgs[@]}") || return 1
	if grep '(cached)' <<<"$out"; then
		echo "the packages above were answered from the cache of a run without GOSLUB_NODCAS=1:"
		echo "their TestMain must call envlog.Main (see internal/envlog)"
		return 1
	fi
	echo "cached when run twice alike, run again with GOSLUB_NODCAS=1: $(grep -c '^ok' <<<"$out") packages"
}

# find_spin prints the path of spin, installing the Debian package spin
# with apt-get when it is missing and this is root on a Debian-like system.
find_spin() {
	if ! command -v spin >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		echo "installing spin with apt-get" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spin >&2
	fi
	command -v spin
}

# can_run_386 reports whether this kernel runs 386 binaries (it needs IA32
# emulation, which some virtual machines leave out).
can_run_386() {
	local dir
	dir=$(mktemp -d)
	printf 'package main\n\nfunc main() {}\n' >"$dir/main.go"
	printf 'module probe\n' >"$dir/go.mod"
	local ok=1
	if (cd "$dir" && GOARCH=386 GOFLAGS= go build -o probe . && ./probe) 2>/dev/null; then
		ok=0
	fi
	rm -rf "$dir"
	return $ok
}

go version

step "gofmt -l" gofmt_clean
step "go vet (amd64)" env GOARCH=amd64 go vet "${pkgs[@]}"
step "go vet (arm64)" env GOARCH=arm64 go vet "${pkgs[@]}"
step "go test" go test -timeout "$TEST_TIMEOUT" "${pkgs[@]}"
step "go test -race" go test -race -timeout "$TEST_TIMEOUT" "${pkgs[@]}"
step "go test, double-word CAS forced off" \
	env GOSLUB_NODCAS=1 GOSLUB_TEST_WANT_DCAS=none go test -timeout "$TEST_TIMEOUT" "${pkgs[@]}"
step "go test keys its cache on GOSLUB_NODCAS" env_in_cache_key

if [[ $MODELS == off ]]; then
	note "spin models" "MODELS=off"
elif [[ $PKGS != ./... && " $PKGS " != *" ./alloc/model "* ]]; then
	note "spin models" "PKGS leaves out ./alloc/model"
elif find_spin >/dev/null; then
	# -count=1: the test cache does not see spin or the C compiler.
	step "spin models ($MODELS)" env GOSLUB_MODELS="$MODELS" \
		go test -count=1 -timeout "$TEST_TIMEOUT" ./alloc/model
else
	step "spin models" sh -c 'echo "spin not found: apt-get install spin" >&2; exit 1'
fi

if ((${#qemu_pkgs[@]} == 0)); then
	note "qemu-aarch64" "no packages"
elif qemu=$(find_qemu); then
	# -cpu max has the LSE atomics: CompareAndSwap must run CASPAL.
	step "arm64 under $qemu -cpu max (casp)" \
		env GOARCH=arm64 GOSLUB_TEST_WANT_DCAS=casp \
		go test -timeout "$TEST_TIMEOUT" -exec "$qemu -cpu max" "${qemu_pkgs[@]}"
	# Cortex-A57 is ARMv8.0, without LSE: CASPAL would be SIGILL, so the
	# portable path must run.
	step "arm64 under $qemu -cpu cortex-a57 (no LSE)" \
		env GOARCH=arm64 GOSLUB_TEST_WANT_DCAS=none \
		go test -timeout "$TEST_TIMEOUT" -exec "$qemu -cpu cortex-a57" "${qemu_pkgs[@]}"
else
	step "qemu-aarch64" sh -c 'echo "qemu-aarch64 not found: apt-get install qemu-user" >&2; exit 1'
fi

step "go test -tags purego" \
	env GOSLUB_TEST_WANT_DCAS=none go test -tags purego -timeout "$TEST_TIMEOUT" "${pkgs[@]}"

if can_run_386; then
	step "GOARCH=386 go test" env GOARCH=386 go test -timeout "$TEST_TIMEOUT" "${pkgs[@]}"
elif [[ ${GOSLUB_VM386:-} != off ]] && command -v qemu-system-x86_64 >/dev/null; then
	step "GOARCH=386 go test in a VM (scripts/run-386-vm.sh)" \
		env GOARCH=386 go test -timeout "$TEST_TIMEOUT" -exec "$PWD/scripts/run-386-vm.sh" "${pkgs[@]}"
else
	# Build the test binaries at least, so that 386 does not rot.
	step "GOARCH=386 go vet and test build" sh -c 'GOARCH=386 go vet "$@" && GOARCH=386 go test -exec true "$@"' - "${pkgs[@]}"
	if [[ ${GOSLUB_VM386:-} == off ]]; then
		note "GOARCH=386 go test" "this kernel cannot run 386 binaries, and GOSLUB_VM386=off"
	else
		note "GOARCH=386 go test" "this kernel cannot run 386 binaries and qemu-system-x86_64 is missing"
	fi
fi

step "go mod tidy -diff" go mod tidy -diff

# The go line of go.mod is the oldest Go the module builds with: vet
# everything and test the library with that toolchain, which the go command
# fetches from the module proxy.
oldest=go$(go list -m -f '{{.GoVersion}}')
oldest_go() {
	GOTOOLCHAIN=$oldest go vet "${pkgs[@]}" || return 1
	if ((${#qemu_pkgs[@]} > 0)); then
		GOTOOLCHAIN=$oldest go test -timeout "$TEST_TIMEOUT" "${qemu_pkgs[@]}"
	fi
}
step "$oldest: go vet, and go test of the library" oldest_go

windows_vet() {
	local a
	for a in amd64 386 arm64; do
		GOOS=windows GOARCH=$a go vet "${pkgs[@]}" || return 1
	done
}
step "GOOS=windows go vet (amd64, 386, arm64)" windows_vet
if ((${#qemu_pkgs[@]} == 0)); then
	note "windows/amd64 under Wine" "no packages"
elif bash scripts/wine-test.sh -check; then
	step "windows/amd64 under Wine" bash scripts/wine-test.sh -timeout "$TEST_TIMEOUT" "${qemu_pkgs[@]}"
else
	note "windows/amd64 under Wine" "wine64 or the mingw-w64 cross compiler is missing"
fi

# The Arrow programs run in a module of their own (arrowtest/), so that
# the module programs import does not require Arrow.
arrow_module() {
	(cd arrowtest && go vet ./... && go mod tidy -diff && go test -race -timeout "$TEST_TIMEOUT" ./...)
}
if [[ $PKGS == ./... ]]; then
	step "arrowtest module: vet, tidy, go test -race" arrow_module
else
	note "arrowtest module" "PKGS does not include it"
fi

step "benchmarks once" go test -run '^$' -bench . -benchtime 1x -timeout "$TEST_TIMEOUT" "${pkgs[@]}"

printf '\n=== summary\n'
printf '%s\n' "${summary[@]}"
if ((failed)); then
	echo "FAIL"
	exit 1
fi
echo "PASS"

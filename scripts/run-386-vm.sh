#!/usr/bin/env bash
# run-386-vm.sh runs a statically linked Linux x86 program, normally a
# GOARCH=386 Go test binary, inside a small virtual machine, for machines
# whose kernel cannot run 386 binaries itself (no IA32 emulation; qemu-i386
# is no way out: it crashes Go 386 binaries with "bad g in signal handler").
#
# Usage (the script's path must be absolute: go test runs it in each
# package's directory):
#   GOARCH=386 go test -exec "$PWD/scripts/run-386-vm.sh" ./asm ./cpuid ./alloc
#   scripts/run-386-vm.sh PROGRAM [ARGS...]
#   scripts/run-386-vm.sh --fetch   download the kernel and busybox only
#   scripts/run-386-vm.sh --check   exit 0 if qemu and the downloads are there
#
# How: qemu-system-x86_64 boots Debian's amd64 kernel (linux-image-amd64,
# built with CONFIG_IA32_EMULATION) with an initramfs made for each run:
# busybox-static, PROGRAM at its own path, the Go module around the current
# directory (its tracked and untracked, not ignored files, so testdata and
# the module's source are where the tests expect them) and the current
# directory as the working directory. Without KVM qemu emulates the CPU
# (TCG): a boot takes about 5 seconds, and the tests run several times
# slower than natively.
#   - The environment goes in as it is, less PATH, HOME and the shell's own
#     variables; the arguments go in unchanged.
#   - Standard output and standard error come back on the serial console,
#     as the program writes them.
#   - The program's exit status comes back as this script's; a VM that
#     stopped without one (a kernel panic, a crash) exits 125.
#   - The files named by -test.coverprofile, -test.cpuprofile,
#     -test.memprofile, -test.blockprofile, -test.mutexprofile, -test.trace
#     and the directory of -test.gocoverdir come back to the same paths
#     here. Nothing else the program writes does. (go test caches no run
#     made through -exec, so the test log does not matter.)
#
# What it needs: qemu-system-x86_64 (apt-get install qemu-system-x86), and
# the first run downloads linux-image-amd64 and busybox-static with
# apt-get download (running apt-get update first when root and apt knows
# neither) and keeps the kernel and busybox in the cache directory.
#
# Environment:
#   GOSLUB_VM_CACHE    cache directory (default .cache/vm386 in the module,
#                      which .gitignore ignores)
#   GOSLUB_VM_CPUS     virtual CPUs (default: this machine's, at most 4)
#   GOSLUB_VM_MEM      memory in MiB (default 2048)
#   GOSLUB_VM_TIMEOUT  seconds after which the VM is stopped (default: the
#                      program's -test.timeout plus 2 minutes, else 3600)
#   GOSLUB_VM_KEEP     if set, keep the initramfs and what came back, and
#                      say where
#   QEMU               the qemu binary (default qemu-system-x86_64)
set -euo pipefail

self=$(basename "$0")
here=$(cd "$(dirname "$0")" && pwd)
cache=${GOSLUB_VM_CACHE:-$(dirname "$here")/.cache/vm386}
qemu=${QEMU:-qemu-system-x86_64}

die() {
	echo "$self: $*" >&2
	exit 125
}

have_downloads() { [[ -s $cache/kernel && -x $cache/busybox ]]; }

# fetch downloads the kernel and busybox into the cache, once; a lock keeps
# the test binaries that go test runs side by side from doing it twice.
fetch() {
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	if have_downloads; then
		exec 9>&-
		return
	fi
	command -v apt-get >/dev/null || die "apt-get not found: put a kernel image (kernel) and a static busybox (busybox) in $cache"
	local kernel
	kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [[ -z $kernel && $(id -u) == 0 ]]; then
		echo "$self: apt-get update" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		kernel=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	[[ -n $kernel ]] || die "apt does not know linux-image-amd64 (run apt-get update)"
	local dl
	dl=$(mktemp -d "$cache/download.XXXXXX")
	echo "$self: downloading $kernel and busybox-static into $cache" >&2
	# apt-get download as root warns that _apt cannot write here; it is
	# harmless, so the warning is filtered out.
	(cd "$dl" && apt-get download -q "$kernel" busybox-static 2>&1 | grep -v 'unsandboxed' >&2) || true
	local kdeb bdeb
	kdeb=$(compgen -G "$dl/linux-image-*.deb" | head -n1) || die "apt-get download $kernel failed"
	bdeb=$(compgen -G "$dl/busybox-static_*.deb" | head -n1) || die "apt-get download busybox-static failed"
	mkdir "$dl/x"
	dpkg-deb -x "$kdeb" "$dl/x"
	dpkg-deb -x "$bdeb" "$dl/x"
	local vmlinuz
	vmlinuz=$(compgen -G "$dl/x/boot/vmlinuz-*" | head -n1) || die "no vmlinuz in $kdeb"
	if ! grep -qx 'CONFIG_IA32_EMULATION=y' "$dl"/x/boot/config-*; then
		die "$kernel is built without CONFIG_IA32_EMULATION"
	fi
	cp "$dl/x/bin/busybox" "$cache/busybox.new"
	# The kernel without its xz wrapper boots seconds faster under TCG
	# (qemu loads the ELF image through its PVH entry point). xz stops at
	# the end of the stream, so tail may die of SIGPIPE.
	local off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1) || true
	if [[ -n $off ]] && command -v xz >/dev/null; then
		{ tail -c +$((off + 1)) "$vmlinuz" || true; } | { xz -dc 2>/dev/null || true; } >"$cache/kernel.new"
	fi
	if [[ ! -s $cache/kernel.new || $(od -An -tx1 -N4 "$cache/kernel.new" | tr -d ' ') != 7f454c46 ]]; then
		cp "$vmlinuz" "$cache/kernel.new"
	fi
	basename "$kdeb" >"$cache/VERSIONS"
	basename "$bdeb" >>"$cache/VERSIONS"
	mv "$cache/busybox.new" "$cache/busybox"
	mv "$cache/kernel.new" "$cache/kernel"
	rm -rf "$dl"
	exec 9>&-
}

case ${1:-} in
--fetch)
	fetch
	cat "$cache/VERSIONS"
	exit 0
	;;
--check)
	command -v "$qemu" >/dev/null && have_downloads
	exit
	;;
"" | -h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac

command -v "$qemu" >/dev/null || die "$qemu not found: apt-get install qemu-system-x86"
have_downloads || fetch

prog=$1
shift
[[ -f $prog ]] || die "$prog: no such file"
prog=$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog")
cwd=$(pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-386-vm.XXXXXX")
qpid=
cleanup() {
	if [[ -n $qpid ]]; then
		kill "$qpid" 2>/dev/null || true
	fi
	if [[ -n ${GOSLUB_VM_KEEP:-} ]]; then
		echo "$self: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# go test sends SIGQUIT to a test that ran past its -timeout.
trap 'exit 131' QUIT

root=$tmp/root
mkdir -p "$root/bin" "$root/vm/out" "$root$(dirname "$prog")" "$root$cwd"
cp "$cache/busybox" "$root/bin/busybox"
cp "$prog" "$root$prog"

# The files under dir that belong to the source tree: those git tracks or
# would track, else all but .git and .cache.
source_files() {
	local dir=$1
	if command -v git >/dev/null && git -C "$dir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$dir" ls-files -z --cached --others --exclude-standard
	else
		(cd "$dir" && find . \( -name .git -o -name .cache \) -prune -o -type f -print0)
	fi
}

# The Go module around the working directory, else the directory itself.
srcdir=$cwd
while [[ $srcdir != / && ! -f $srcdir/go.mod ]]; do
	srcdir=$(dirname "$srcdir")
done
if [[ ! -f $srcdir/go.mod ]]; then
	srcdir=$cwd
fi
mkdir -p "$root$srcdir"
(cd "$srcdir" && source_files . | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' - |
	xargs -0 -r cp --parents -t "$root$srcdir")

# quote prints its argument as one single-quoted word for sh.
quote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# The environment, less what belongs to this machine's shell.
{
	while IFS= read -r name; do
		case $name in
		PATH | HOME | PWD | OLDPWD | SHLVL | _ | SHELL | TERM | BASH_* | QEMU | GOSLUB_VM_*) continue ;;
		esac
		printf 'export %s=%s\n' "$name" "$(quote "${!name}")"
	done < <(compgen -e)
	echo 'export PATH=/bin HOME=/'
} >"$root/vm/env"

# The arguments, and the files the program's flags name that come back.
want=()
outputdir=$cwd
for a in "$@"; do
	case $a in
	-test.outputdir=* | --test.outputdir=*) outputdir=${a#*=} ;;
	esac
done
{
	printf 'set --'
	for a in "$@"; do
		printf ' %s' "$(quote "$a")"
		case $a in
		-test.coverprofile=* | -test.cpuprofile=* | -test.memprofile=* | -test.blockprofile=* | \
			-test.mutexprofile=* | -test.trace=* | --test.coverprofile=* | --test.cpuprofile=* | \
			--test.memprofile=* | --test.blockprofile=* | --test.mutexprofile=* | --test.trace=*)
			f=${a#*=}
			[[ $f == /* ]] || f=$outputdir/$f
			want+=("$f")
			;;
		-test.gocoverdir=* | --test.gocoverdir=*)
			f=${a#*=}
			[[ $f == /* ]] || f=$cwd/$f
			want+=("$f/")
			;;
		esac
	done
	echo
} >"$root/vm/args"
: >"$root/vm/want"
for f in "${want[@]}"; do
	printf '%s\n' "$f" >>"$root/vm/want"
done
printf '%s\n' "$cwd" >"$root/vm/cwd"
printf '%s\n' "$prog" >"$root/vm/prog"

# init runs as the VM's process 1. The console (ttyS0) carries the
# program's output; ttyS1 carries back a tar of vm/out: the exit status and
# the wanted files. stty drains each line before the VM reboots.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
chmod 1777 /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
ip link set lo up
stty -F /dev/ttyS0 raw -echo
stty -F /dev/ttyS1 raw -echo
. /vm/env
if [ -n "$TMPDIR" ]; then mkdir -p "$TMPDIR"; fi
while IFS= read -r f; do
	case $f in
	*/) mkdir -p "$f" ;;
	*) mkdir -p "$(dirname "$f")" ;;
	esac
done </vm/want
. /vm/args
cd "$(cat /vm/cwd)" && "$(cat /vm/prog)" "$@" </dev/null >/dev/ttyS0 2>&1
echo $? >/vm/out/status
stty -F /dev/ttyS0 raw
n=0
while IFS= read -r f; do
	n=$((n + 1))
	f=${f%/}
	if [ -e "$f" ]; then
		cp -a "$f" "/vm/out/$n"
	fi
done </vm/want
tar -cf /dev/ttyS1 -C /vm/out .
stty -F /dev/ttyS1 raw
reboot -f
EOF
chmod +x "$root/init"
(cd "$root" && find . -print0 | "$cache/busybox" cpio -o -0 -H newc -R 0:0 2>/dev/null) >"$tmp/initrd"

cpus=${GOSLUB_VM_CPUS:-$(nproc)}
if [[ -z ${GOSLUB_VM_CPUS:-} ]] && ((cpus > 4)); then
	cpus=4
fi
limit=${GOSLUB_VM_TIMEOUT:-}
if [[ -z $limit ]]; then
	limit=3600
	for a in "$@"; do
		case $a in
		-test.timeout=* | --test.timeout=*)
			# A Go duration; whole hours, minutes and seconds are enough here.
			d=${a#*=} s=0
			while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
				case ${BASH_REMATCH[2]} in
				h) s=$((s + BASH_REMATCH[1] * 3600)) ;;
				m) s=$((s + BASH_REMATCH[1] * 60)) ;;
				s) s=$((s + BASH_REMATCH[1])) ;;
				esac
				d=${BASH_REMATCH[3]}
			done
			if ((s > 0)); then
				limit=$((s + 120))
			fi
			;;
		esac
	done
fi

accel=(-accel tcg,thread=multi)
if [[ -w /dev/kvm ]]; then
	accel=(-accel kvm)
fi
pdeath=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
	pdeath=(setpriv --pdeathsig KILL --)
fi

# Run in the background so that the traps above can stop it; qemu also
# dies with this script (pdeathsig), and after $limit seconds.
"${pdeath[@]}" timeout -k 10 "$limit" "${pdeath[@]}" "$qemu" \
	-nodefaults -no-user-config -no-reboot -display none \
	-machine q35 -cpu max "${accel[@]}" -smp "$cpus" -m "${GOSLUB_VM_MEM:-2048}" \
	-kernel "$cache/kernel" -initrd "$tmp/initrd" \
	-append "console=ttyS0 quiet loglevel=0 panic=-1" \
	-chardev stdio,id=console,signal=off -serial chardev:console \
	-serial "file:$tmp/back.tar" </dev/null &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=

mkdir "$tmp/back"
if ! tar -xf "$tmp/back.tar" -C "$tmp/back" 2>/dev/null || [[ ! -s $tmp/back/status ]]; then
	if ((qrc == 124 || qrc == 137)); then
		die "the VM ran past $limit seconds (GOSLUB_VM_TIMEOUT) and was stopped"
	fi
	die "the VM stopped without the program's exit status (qemu exit status $qrc); see the console output above"
fi
n=0
for f in "${want[@]}"; do
	n=$((n + 1))
	f=${f%/}
	if [[ -d $tmp/back/$n ]]; then
		mkdir -p "$f"
		cp -a "$tmp/back/$n/." "$f/"
	elif [[ -f $tmp/back/$n ]]; then
		mkdir -p "$(dirname "$f")"
		cp "$tmp/back/$n" "$f"
	fi
done
exit "$(cat "$tmp/back/status")"

#!/usr/bin/env bash
# Soak: runs `ipc-profiler bench --mech all` again and again for SECONDS (default 600), then
# `ipc-profiler trace --mech all` (as root) for as long, and samples after every run what a leak
# would grow: open files machine-wide, memory, System V objects, POSIX queues, /dev/shm, the
# temporary directory, run records, eBPF programs and maps. Prints the first, last, lowest and
# highest of each. Not a CI test: it takes twice SECONDS. Usage: tests/soak.sh [SECONDS] [BINARY]
set -euo pipefail
seconds=${1:-600}
bin=${2:-target/release/ipc-profiler}
out=$(mktemp -d)
sample() {
    local files mem slab ipc mq shm tmp runs progs maps
    files=$(cut -f1 /proc/sys/fs/file-nr)
    mem=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
    slab=$(awk '/^Slab/ {print $2}' /proc/meminfo)
    ipc=$(ipcs -q -s -m | grep -c '^0x' || true)
    mq=$(ls /dev/mqueue | wc -l)
    shm=$(ls /dev/shm | wc -l)
    tmp=$(ls "${TMPDIR:-/tmp}" | grep -c '^ipc-profiler' || true)
    runs=$(ls /run/ipc-profiler 2>/dev/null | wc -l)
    # Descriptors of eBPF programs and maps held by any process (grep finds none: status 1).
    progs=$( (grep -l '^prog_type' /proc/[0-9]*/fdinfo/* 2>/dev/null || true) | wc -l)
    maps=$( (grep -l '^map_type' /proc/[0-9]*/fdinfo/* 2>/dev/null || true) | wc -l)
    echo "$files $mem $slab $ipc $mq $shm $tmp $runs $progs $maps"
}
soak() {
    local name=$1; shift
    local end=$((SECONDS + seconds)) runs=0
    sample > "$out/$name"
    while [ $SECONDS -lt $end ]; do
        "$bin" "$@" > /dev/null
        runs=$((runs + 1))
        sample >> "$out/$name"
    done
    echo "$name: $runs runs in $seconds s"
    awk 'BEGIN { split("open-files mem-available-kB slab-kB sysv-objects mqueues dev-shm tmp-entries run-records bpf-prog-fds bpf-map-fds", n, " ") }
         NR == 1 { for (i = 1; i <= NF; i++) { first[i] = $i; lo[i] = $i; hi[i] = $i } }
         { for (i = 1; i <= NF; i++) { if ($i < lo[i]) lo[i] = $i; if ($i > hi[i]) hi[i] = $i; last[i] = $i } }
         END { for (i = 1; i <= 10; i++) printf "  %-15s first %10s last %10s min %10s max %10s\n", n[i], first[i], last[i], lo[i], hi[i] }' "$out/$name"
}
soak bench bench --mech all --iters 2000 --warmup 100
if [ "$(id -u)" = 0 ]; then
    soak trace trace --mech all --iters 500 --warmup 50
fi
rm -rf "$out"

#!/usr/bin/env bash
# Can a CI trust `compare`? (docs/measuring.md, "Comparing two reports".) Makes RUNS identical
# `bench --mech all --repeat 5` files back to back and compares each with the one before (RUNS - 1
# pairs: none may regress), then HOGS files made with a CPU-bound process pinned to the last
# allowed CPU, each compared with a clean file made just before it (each must regress).
#   benchmarks/compare-trust/run.sh OUT_DIR [RUNS] [HOGS]      (defaults: 21 and 3; ~1 min a file)
set -euo pipefail
out=${1:?usage: run.sh OUT_DIR [RUNS] [HOGS]}
runs=${2:-21}
hogs=${3:-3}
bin=${IPC_PROFILER:-target/release/ipc-profiler}
mkdir -p "$out"
bench() { "$bin" bench --mech all --repeat 5 --format json -o "$1"; }
for i in $(seq 1 "$runs"); do
    bench "$out/same-$i.json"
done
last_cpu=$(taskset -cp $$ | sed 's/.*: //; s/.*[,-]//')
for i in $(seq 1 "$hogs"); do
    bench "$out/before-hog-$i.json"
    taskset -c "$last_cpu" sh -c 'while :; do :; done' &
    hog=$!
    bench "$out/hog-$i.json"
    kill "$hog"
done
verdict() { # OLD NEW: prints the pair, its regressions and compare's exit status
    local status=0
    "$bin" compare "$1" "$2" > "$out/compare.txt" 2>&1 || status=$?
    echo "$(basename "$1") -> $(basename "$2"): exit $status, $(tail -1 "$out/compare.txt")"
}
regressed() { # OLD_PREFIX NEW_PREFIX FIRST LAST: judges OLD_PREFIX-i against NEW_PREFIX-i, counts exit 3
    local count=0 line
    for i in $(seq "$3" "$4"); do
        line=$(verdict "$out/$1$i.json" "$out/$2$i.json")
        echo "$line" >&2
        case $line in *"exit 3"*) count=$((count + 1)) ;; esac
    done
    echo "$count"
}
# Identical pairs: same-(i-1) against same-i, as links named before-same-i for the helper.
for i in $(seq 2 "$runs"); do
    ln -sf "same-$((i - 1)).json" "$out/before-same-$i.json"
done
false_alarms=$(regressed before-same- same- 2 "$runs")
caught=$(regressed before-hog- hog- 1 "$hogs")
echo "identical pairs that regressed: $false_alarms of $((runs - 1)); slowdowns caught: $caught of $hogs"

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
    "$bin" compare "$1" "$2" > "$out/compare.txt" || status=$?
    echo "$(basename "$1") -> $(basename "$2"): exit $status, $(tail -1 "$out/compare.txt")"
}
false_alarms=0
for i in $(seq 2 "$runs"); do
    line=$(verdict "$out/same-$((i - 1)).json" "$out/same-$i.json")
    echo "$line"
    case $line in *"exit 3"*) false_alarms=$((false_alarms + 1)) ;; esac
done
caught=0
for i in $(seq 1 "$hogs"); do
    line=$(verdict "$out/before-hog-$i.json" "$out/hog-$i.json")
    echo "$line"
    case $line in *"exit 3"*) caught=$((caught + 1)) ;; esac
done
echo "identical pairs that regressed: $false_alarms of $((runs - 1)); slowdowns caught: $caught of $hogs"

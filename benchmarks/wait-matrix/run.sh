#!/usr/bin/env bash
# The matrix that judges ipc-core's default wait (docs/ipc-core.md, "How a side waits"): every
# cell of the comparison where a waiter can meet a busy CPU, ipc-core's blocking mechanisms
# beside the kernel's, 5 runs each (`--repeat 5`), all kept in one JSON file per cell.
#   benchmarks/wait-matrix/run.sh OUT_DIR [PREFIX...]
# PREFIX runs each command under it (e.g. `taskset -c 0`). Then summarise with
#   python3 benchmarks/wait-matrix/summarise.py OUT_DIR/*.json
set -euo pipefail
out=${1:?usage: run.sh OUT_DIR [PREFIX...]}
shift
mkdir -p "$out"
bin=${IPC_PROFILER:-target/release/ipc-profiler}
mechs=shm-futex,mmap,shm-tokio,pipe,uds,eventfd,posix-mq,uds-tokio
place=()
run() {
    local name=$1
    shift
    "$@" "$bin" bench --mech "$mechs" --sizes 128 --repeat 5 --format json \
        -o "$out/$name.json" "${cells[@]}" "${place[@]}"
}
cells=(--placement same-core --cpus 0); run latency-same-core "$@"
# A single allowed CPU (a `taskset -c 0` prefix): every process on it, no cross-core cell.
if [ "$( ("$@" nproc) 2>/dev/null || nproc)" -gt 1 ]; then
    cells=(--placement cross-core); run latency-cross-core "$@"
else
    place=(--placement same-core --cpus 0)
fi
cells=(--pattern request-response --clients 1,10,100); run request-response "$@"
cells=(--pattern pub-sub --subscribers 1,8,64); run pub-sub "$@"
cells=(--pattern pipeline --stages 2,4,8); run pipeline "$@"
cells=(--pattern fan-in --procs 2,10); run fan-in "$@"

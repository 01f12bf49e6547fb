#!/usr/bin/env bash
# `trace --what-if` against a program run both ways (docs/diagnosing.md, "PostgreSQL,
# measured"): a private PostgreSQL cluster, pgbench over TCP to 127.0.0.1 and over the server's
# Unix socket, alternated RUNS times untraced and (over TCP) traced; then pgbench over TCP
# traced with --what-if.
# Prints each run's TPS, the measured socket/TCP ratio, the what-if's predicted one (its
# speedups weighted by each connection's round trips), the TPS it predicts, and what tracing
# cost pgbench (the median traced run against the median untraced one, over TCP). Root; PostgreSQL from Debian (`cargo xtask setup`). TRACE_ARGS adds options to
# the trace (`TRACE_ARGS="--placement same-core"` places the what-if's benchmarks).
#   benchmarks/what-if/pgbench.sh [RUNS] [SECONDS] [CLIENTS]
set -euo pipefail
runs=${1:-2}
seconds=${2:-5}
clients=${3:-2}
bin=$(realpath "${IPC_PROFILER:-target/release/ipc-profiler}")
pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/what-if-pgbench.XXXXXX)
port=54329
chown postgres: "$dir"
as_pg() { runuser -u postgres -- "$@"; }
stop() {
    as_pg "$pg/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT
cd "$dir"
as_pg "$pg/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
as_pg "$pg/pg_ctl" -D "$dir/data" -l "$dir/log" -w start \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1" >/dev/null
as_pg "$pg/pgbench" -i -q -h "$dir" -p "$port" postgres >/dev/null 2>&1
bench=("$pg/pgbench" -p "$port" -c "$clients" -T "$seconds" -S postgres)
tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
tcp=() uds=() traced_tcp=()
for _ in $(seq "$runs"); do
    tcp+=("$(as_pg "${bench[@]}" -h 127.0.0.1 2>/dev/null | tps)")
    uds+=("$(as_pg "${bench[@]}" -h "$dir" 2>/dev/null | tps)")
    traced_tcp+=("$("$bin" trace --user postgres -o /dev/null -- "${bench[@]}" -h 127.0.0.1 \
        2>/dev/null | tps)")
done
# shellcheck disable=SC2086 # TRACE_ARGS is a list of options
traced=$("$bin" trace --user postgres --what-if ${TRACE_ARGS:-} --format json -o "$dir/report.json" -- \
    "${bench[@]}" -h 127.0.0.1 2>/dev/null | tps)
python3 - "$dir/report.json" "$traced" "${tcp[*]}" "${uds[*]}" "${traced_tcp[*]}" <<'PY'
import json, statistics, sys
report, traced = json.load(open(sys.argv[1])), float(sys.argv[2])
tcp = [float(x) for x in sys.argv[3].split()]
uds = [float(x) for x in sys.argv[4].split()]
traced_tcp = [float(x) for x in sys.argv[5].split()]
ifs = [f["what_if"] for f in report["findings"] if f.get("what_if")]
weight = sum(w["messages"] for w in ifs)
predicted = sum(w["speedup"] * w["messages"] for w in ifs if w["speedup"]) / weight
tcp_tps, uds_tps = statistics.mean(tcp), statistics.mean(uds)
print(f"pgbench TPS over TCP: {tcp}, over the Unix socket: {uds}")
each = ", ".join("%.2fx %s" % (w["speedup"], w["placement"]) for w in ifs if w["speedup"])
print(f"measured socket/TCP: {uds_tps / tcp_tps:.2f}x; what-if predicts {predicted:.2f}x "
      f"({each}), {tcp_tps * predicted:.0f} TPS against {uds_tps:.0f} measured "
      f"({tcp_tps * predicted / uds_tps - 1:+.0%})")
cost = 1 - statistics.median(traced_tcp) / statistics.median(tcp)
print(f"traced over TCP: {traced_tcp}; tracing cost {cost:.1%} (medians); "
      f"with --what-if: {traced:.0f} TPS")
PY

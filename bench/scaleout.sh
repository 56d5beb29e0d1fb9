#!/usr/bin/env bash
# Scale-out side by side (issue 13), in one run, on the same machine and the same fake VNC server:
# - connection set-up (WebSocket upgrade, token check, RFB handshake; 8 concurrent openers) and
#   token checks (POST /console/check: the admission's checks without a session; 8 kept-alive
#   clients), with the store on SQLite (one process), on PostgreSQL with one process, and on
#   PostgreSQL with three processes (the clients spread their connections over the three);
# - idle sessions held across two processes on PostgreSQL (BENCH_IDLE2 each, default 9980: a
#   session holds two sockets and a process may open 20,000 files here, its own listener, store
#   connections (pool_max_connections = 4 there) and standard streams included), every one answering a
#   1x1 update afterwards, memory (PSS) per session, all of them listed by the sessions API, and the
#   CPU the two processes and PostgreSQL spend while they hold them (heartbeats).
# PostgreSQL is a private server (scripts/postgres-up.sh in a temp dir) with fsync on, as deployed;
# each configuration gets a schema of its own. Lines are `NAME key=value…` (bench/report.py reads them).
# Usage: bench/scaleout.sh   (BENCH_SMOKE=1: a few seconds, so that the harness cannot rot)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_SMOKE:-0}" = 1 ]; then n_setup=100; n_check=200; n_idle=50; hold=2
else n_setup=3000; n_check=10000; n_idle=${BENCH_IDLE2:-9980}; hold=20; fi
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p porthole -p porthole-testkit --examples --bins
work=$(mktemp -d); pids=()
chmod 711 "$work" # the PostgreSQL server (user postgres, when run as root) lives in $work/pg
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    PORTHOLE_PG_DIR="$work/pg" scripts/postgres-up.sh stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sb() { "$target/release/examples/sessions_bench" "$@"; }
KEY=bench-key-0123456789abcdef

"$target/release/examples/fake_vnc" 1920 1080 > "$work/vnc1.port" & pids+=($!)
"$target/release/examples/fake_vnc" 1920 1080 > "$work/vnc2.port" & pids+=($!)
while [ ! -s "$work/vnc1.port" ] || [ ! -s "$work/vnc2.port" ]; do sleep 0.1; done
pg=$(PORTHOLE_PG_DIR="$work/pg" PORTHOLE_PG_OPTS="-c fsync=on" scripts/postgres-up.sh 2>/dev/null)
schema() { # NAME: a schema on the private server; the store URL that uses it
    psql "$pg" -q -c "CREATE SCHEMA $1"
    echo "$pg?options=-c%20search_path%3D$1"
}

config() { # NAME STORE [MORE]: a process's configuration (two targets, one per fake server)
    local port; port=$(free_port); echo "$port" > "$work/$1.port"
    cat > "$work/$1.toml" <<TOML
[proxy]
listen = "127.0.0.1:$port"
max_sessions = 9990
[consoleauth]
store = "$2"
${3:-}
[cluster]
proxy_id = "$1"
[[targets]]
name = "bench"
host = "127.0.0.1"
port = $(cat "$work/vnc1.port")
[[targets]]
name = "bench2"
host = "127.0.0.1"
port = $(cat "$work/vnc2.port")
[[api.keys]]
name = "bench"
secret = "$KEY"
role = "admin"
TOML
}
serve() { # NAME...: starts them, waits until ready
    for n in "$@"; do
        RUST_LOG=warn "$target/release/porthole" serve -c "$work/$n.toml" 2>>"$work/$n.log" & pids+=($!)
        echo $! > "$work/$n.pid"
    done
    for n in "$@"; do
        until curl -sf "http://127.0.0.1:$(cat "$work/$n.port")/readyz" >/dev/null; do sleep 0.1; done
    done
}
halt() { for n in "$@"; do kill "$(cat "$work/$n.pid")"; done; for n in "$@"; do wait "$(cat "$work/$n.pid")" 2>/dev/null || true; done; }
mint() { "$target/release/porthole" console url -c "$work/$1.toml" "$2" | sed 's/.*%3Ftoken%3D//'; }
measure() { # LABEL NAME...: set-up and token checks spread over these processes
    local label=$1 urls="" bases="" token
    shift
    token=$(mint "$1" bench)
    for n in "$@"; do
        urls+="${urls:+,}ws://127.0.0.1:$(cat "$work/$n.port")/?token=$token"
        bases+="${bases:+,}http://127.0.0.1:$(cat "$work/$n.port")"
    done
    printf '%-22s %s\n' "setup-$label" "$(sb setup "$urls" "$n_setup" 8)"
    printf '%-22s %s\n' "check-$label" "$(sb check "$bases" "$token" "$n_check" 8)"
}

echo "scale-out: set-up $n_setup, token checks $n_check, idle 2x$n_idle; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
config s1 "sqlite://$work/s.db"
serve s1; measure sqlite-1 s1; halt s1
config q1 "$(schema pg1)"
serve q1; measure postgres-1 q1; halt q1
store=$(schema pg3)
for n in r1 r2 r3; do config "$n" "$store"; done
serve r1 r2 r3; measure postgres-3 r1 r2 r3; halt r1 r2 r3

# Idle sessions across two processes on PostgreSQL, held while the CPU they cost is measured.
if [ "$n_idle" = 0 ]; then echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"; exit 0; fi
store=$(schema idle)
config i1 "$store" "pool_max_connections = 4"; config i2 "$store" "pool_max_connections = 4"
serve i1 i2
t1=$(mint i1 bench); t2=$(mint i2 bench2)
BENCH_HOLD_SECS=$((hold + 10)) sb idle "ws://127.0.0.1:$(cat "$work/i1.port")/?token=$t1" "$n_idle" "$(cat "$work/i1.pid")" > "$work/idle1.out" & h1=$!
BENCH_HOLD_SECS=$((hold + 10)) sb idle "ws://127.0.0.1:$(cat "$work/i2.port")/?token=$t2" "$n_idle" "$(cat "$work/i2.pid")" > "$work/idle2.out" & h2=$!
pids+=($h1 $h2)
while [ ! -s "$work/idle1.out" ] || [ ! -s "$work/idle2.out" ]; do
    kill -0 $h1 2>/dev/null && kill -0 $h2 2>/dev/null || { cat "$work/i1.log" "$work/i2.log" >&2; echo "an idle holder died" >&2; exit 1; }
    sleep 0.5
done
printf '%-22s %s\n' idle-postgres-i1 "$(cat "$work/idle1.out")"
printf '%-22s %s\n' idle-postgres-i2 "$(cat "$work/idle2.out")"
listed_at=$(date +%s%N)
listed=$(curl -sf -H "X-Auth-Token: $KEY" "http://127.0.0.1:$(cat "$work/i1.port")/v2.1/porthole/sessions" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["sessions"]))')
list_ms=$(( ($(date +%s%N) - listed_at) / 1000000 ))
printf '%-22s listed=%s list_ms=%s\n' idle-postgres-api "$listed" "$list_ms"
# CPU (user + system) of the two processes and of every PostgreSQL process while the sessions idle.
pg_pids() { local main; main=$(head -1 "$work/pg/data/postmaster.pid"); echo "$main" $(cat "/proc/$main/task/$main/children"); }
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
hz=$(getconf CLK_TCK)
procs="$(cat "$work/i1.pid") $(cat "$work/i2.pid")"
pgs=$(pg_pids)
a0=$(ticks $procs); b0=$(ticks $pgs); sleep "$hold"; a1=$(ticks $procs); b1=$(ticks $pgs)
python3 -c "print('%-22s porthole_cpu_pct=%.2f postgres_cpu_pct=%.2f secs=%d' % ('idle-postgres-cpu', ($a1-$a0)/$hz/$hold*100, ($b1-$b0)/$hz/$hold*100, $hold))"
wait $h1 $h2 2>/dev/null || true
halt i1 i2
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

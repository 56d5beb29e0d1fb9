#!/usr/bin/env bash
# Quick side-by-side: direct TCP, a bare TCP relay (the floor: tokio copy_bidirectional, 256 KiB
# buffers), websockify and Porthole in front of the same fake VNC server
# (1920x1080 raw updates). Prints throughput, 1x1 round trips and each proxy's CPU seconds per GB;
# porthole+sp is Porthole with the RFB security proxy on, in front of a second fake server that
# requires a VNC password: Porthole answers its challenge, the client sees security None.
# Then connection set-up rate and latency, and memory per idle session (PSS growth of the proxy
# and its children, divided by the sessions; every session must still answer afterwards).
# Usage: bench/quick.sh [FRAMES] [PINGS]. Needs websockify (Debian package) on PATH.
# BENCH_CRATES=1 adds two bare relays built the same way on tokio-tungstenite and on fastwebsockets
# (bench/ws-crates), to compare WebSocket crates under the same client and server.
# BENCH_PORTHOLE=PATH runs another porthole binary (an earlier build, for before/after comparisons).
# BENCH_BIG=N also holds N idle sessions (default 9950: a proxied session holds two sockets, and
# the hard limit on open files is 20,000 per process on the development machine).
# BENCH_NOVA=1 adds the real nova-novncproxy (Nova 34.0.0 from PyPI, scripts/nova-deps.sh) with its
# compute RPC validate_console_port answered in-process (bench/nova_novncproxy.py: no RabbitMQ, no
# nova-compute, so it does less per connection than in production), and Porthole serving the same
# token from Nova's database (porthole serve --nova-config, no [[nodes]]: the token alone), both on
# a token that Nova's own ConsoleAuthToken.authorize minted into MariaDB (scripts/nova-up.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-60}; pings=${2:-3000}
# BENCH_SMOKE=1: a few seconds in all, so the harness cannot rot (the test command runs it).
if [ "${BENCH_SMOKE:-0}" = 1 ]; then frames=5; pings=50; n_setup_ws=30; n_setup=100; n_idle_ws=10; n_idle=100; n_big=0
    n_setup_nova=5; n_idle_nova=3
else n_setup_ws=300; n_setup=3000; n_idle_ws=200; n_idle=1000; n_big=${BENCH_BIG:-9950}; n_setup_nova=60; n_idle_nova=50; fi
target=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p porthole -p porthole-testkit --examples --bins
if [ "${BENCH_CRATES:-0}" = 1 ]; then
    CARGO_TARGET_DIR="$target" cargo build -q --release --manifest-path bench/ws-crates/Cargo.toml
fi
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; done; kill -KILL "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15+$16+$17}' "/proc/$p/stat"))); done; echo "$t"; }

"$target/release/examples/fake_vnc" 1920 1080 > "$work/vnc.port" & pids+=($!)
while [ ! -s "$work/vnc.port" ]; do sleep 0.1; done
vnc=$(cat "$work/vnc.port")
"$target/release/examples/fake_vnc" 1920 1080 bench-secret > "$work/vncpw.port" & pids+=($!)
while [ ! -s "$work/vncpw.port" ]; do sleep 0.1; done
vncpw=$(cat "$work/vncpw.port")

# The floor: a bare TCP relay, the least any proxy between the same client and server costs.
fport=$(free_port)
"$target/release/examples/tcp_relay" 127.0.0.1:"$fport" 127.0.0.1:"$vnc" & fpid=$!; pids+=($fpid)

wsport=$(free_port)
websockify 127.0.0.1:"$wsport" 127.0.0.1:"$vnc" > "$work/websockify.log" 2>&1 & wspid=$!; pids+=($wspid)

pport=$(free_port)
cat > "$work/p.toml" <<TOML
[proxy]
listen = "127.0.0.1:$pport"
max_sessions = 9960
[consoleauth]
store = "sqlite://$work/p.db"
[[targets]]
name = "bench"
host = "127.0.0.1"
port = $vnc
TOML
porthole=${BENCH_PORTHOLE:-$target/release/porthole}
RUST_LOG=warn "$porthole" serve -c "$work/p.toml" & ppid=$!; pids+=($ppid)
# The same with the RFB security proxy on, toward the password-protected server.
sport=$(free_port)
sed -e "s/127.0.0.1:$pport/127.0.0.1:$sport/" -e "s|$work/p.db|$work/s.db|" -e "s/^port = $vnc\$/port = $vncpw\npassword = \"bench-secret\"/" \
    "$work/p.toml" > "$work/s.toml"
printf '[vnc]\nauth_schemes = ["vnc", "none"]\n' >> "$work/s.toml"
RUST_LOG=warn "$porthole" serve -c "$work/s.toml" & spid=$!; pids+=($spid)
for p in $fport $wsport $pport $sport; do until (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do sleep 0.1; done; done
token=$("$porthole" console url -c "$work/p.toml" bench | sed 's/.*%3Ftoken%3D//')
stoken=$("$porthole" console url -c "$work/s.toml" bench | sed 's/.*%3Ftoken%3D//')
if [ "${BENCH_NOVA:-0}" = 1 ]; then
    if [ -z "${PORTHOLE_NOVA_PYTHON:-}" ] || [ -z "${PORTHOLE_TEST_NOVA_MYSQL_URL:-}" ]; then eval "$(scripts/nova-up.sh)"; fi
    conn=${PORTHOLE_TEST_NOVA_MYSQL_URL#nova+}
    inst=$(python3 -c 'import uuid; print(uuid.uuid4())')
    # Nova's instance row and token: host and port of the fake VNC server, as nova-compute would write them.
    ntoken=$(printf 'instance %s\nmint %s 127.0.0.1 %s http://127.0.0.1/vnc_lite.html --ttl 7200\n' "$inst" "$inst" "$vnc" |
        "$PORTHOLE_NOVA_PYTHON" tests/e2e/nova/nova_console.py --connection "$conn" batch 2>"$work/nova-mint.log" | tail -n 1 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
    nport=$(free_port); nvport=$(free_port)
    printf '[vnc]\nnovncproxy_host = 127.0.0.1\nnovncproxy_port = %s\n[database]\nconnection = %s\n' "$nport" "$conn" > "$work/nova.conf"
    "$PORTHOLE_NOVA_PYTHON" bench/nova_novncproxy.py --config-file "$work/nova.conf" --web "$work" > "$work/nova.log" 2>&1 & npid=$!; pids+=($npid)
    printf '[proxy]\nlisten = "127.0.0.1:%s"\nmax_sessions = 9960\n' "$nvport" > "$work/pn.toml"
    RUST_LOG=error "$porthole" serve -c "$work/pn.toml" --nova-config "$work/nova.conf" & pnpid=$!; pids+=($pnpid)
    for p in $nport $nvport; do
        for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
        (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { tail -n 5 "$work/nova.log" >&2; echo "port $p never opened" >&2; exit 1; }
    done
fi

hz=$(getconf CLK_TCK)
run() { # name url "pid..." (the CPU of every process of the proxy chain counts)
    local before after line
    before=${3:+$(cpu_ticks $3)}
    line=$("$target/release/examples/rfb_throughput" "$2" "$frames" "$pings")
    sleep 0.5
    # A proxy that forks per connection (websockify, nova-novncproxy) counts its child's CPU once reaped.
    if [ -n "$3" ]; then for _ in $(seq 1 50); do pgrep -P "${3// /,}" >/dev/null || break; sleep 0.1; done; fi
    if [ -n "$3" ]; then
        after=$(cpu_ticks $3)
        bytes=$(sed 's/.*bytes=\([0-9]*\).*/\1/' <<<"$line")
        cpu=$(python3 -c "print(f'{($after-$before)/$hz/($bytes/1e9):.2f}')")
    else cpu="-"; fi
    printf '%-11s %s cpu_s_per_gb=%s\n' "$1" "$line" "$cpu"
}
echo "frames=$frames (1920x1080x32bpp raw) pings=$pings (1x1 updates)"
run direct "tcp://127.0.0.1:$vnc" ""
run floor "tcp://127.0.0.1:$fport" "$fpid"
run websockify "ws://127.0.0.1:$wsport/" "$wspid"
run porthole "ws://127.0.0.1:$pport/?token=$token" "$ppid"
run porthole+sp "ws://127.0.0.1:$sport/?token=$stoken" "$spid"
# BENCH_TLS=1: TLS terminated by Porthole itself, against nginx (Debian) terminating TLS in front of
# Porthole; the CPU is that of the whole chain (nginx + Porthole).
if [ "${BENCH_TLS:-0}" = 1 ]; then
    command -v nginx >/dev/null || { echo "BENCH_TLS=1 needs nginx (apt-get install nginx-light)" >&2; exit 1; }
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" -out "$work/ca.pem" \
        -days 1 -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/tls.key" -out "$work/tls.csr" -subj /CN=127.0.0.1 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/tls.ext"
    openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
        -extfile "$work/tls.ext" -out "$work/tls.pem" 2>/dev/null
    tport=$(free_port)
    sed -e "s/127.0.0.1:$pport/127.0.0.1:$tport/" -e "s|$work/p.db|$work/p.db|" "$work/p.toml" \
        | sed "/^\[proxy\]/a cert = \"$work/tls.pem\"\nkey = \"$work/tls.key\"" > "$work/t.toml"
    RUST_LOG=warn "$porthole" serve -c "$work/t.toml" & tpid=$!; pids+=($tpid)
    ngport=$(free_port)
    mkdir -p "$work/nginx"
    cat > "$work/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1; pid $work/nginx.pid; error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    server {
        listen 127.0.0.1:$ngport ssl;
        ssl_certificate $work/tls.pem; ssl_certificate_key $work/tls.key;
        location / {
            proxy_pass http://127.0.0.1:$pport; proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection upgrade;
            proxy_set_header Host \$host; proxy_read_timeout 1h; proxy_buffering off;
        }
    }
}
NGINX
    nginx -c "$work/nginx.conf" -p "$work/nginx" & ngpid=$!; pids+=($ngpid)
    for p in $tport $ngport; do until (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do sleep 0.1; done; done
    RFB_CA="$work/ca.pem" run porthole-tls "wss://127.0.0.1:$tport/?token=$token" "$tpid"
    RFB_CA="$work/ca.pem" run nginx-tls "wss://127.0.0.1:$ngport/?token=$token" "$ngpid $ppid"
fi
if [ "${BENCH_NOVA:-0}" = 1 ]; then
    run nova-novncproxy "ws://127.0.0.1:$nport/?token=$ntoken" "$npid"
    run porthole+nova "ws://127.0.0.1:$nvport/?token=$ntoken" "$pnpid"
fi
if [ "${BENCH_CRATES:-0}" = 1 ]; then
    for crate in tungstenite fastwebsockets; do
        cport=$(free_port)
        "$target/release/ws-crates" "$crate" 127.0.0.1:"$cport" 127.0.0.1:"$vnc" & cpid=$!; pids+=($cpid)
        until (exec 3<>/dev/tcp/127.0.0.1/$cport) 2>/dev/null; do sleep 0.1; done
        run "$crate" "ws://127.0.0.1:$cport/" "$cpid"
    done
fi

# Connection set-up (WebSocket upgrade, token check, RFB handshake) and idle sessions.
sb="$target/release/examples/sessions_bench"
printf '%-11s %s\n' websockify "$("$sb" setup "ws://127.0.0.1:$wsport/" "$n_setup_ws" 8)"
printf '%-11s %s\n' porthole "$("$sb" setup "ws://127.0.0.1:$pport/?token=$token" "$n_setup" 8)"
printf '%-11s %s\n' porthole+sp "$("$sb" setup "ws://127.0.0.1:$sport/?token=$stoken" "$n_setup" 8)"
printf '%-11s %s\n' websockify "$("$sb" idle "ws://127.0.0.1:$wsport/" "$n_idle_ws" "$wspid")"
printf '%-11s %s\n' porthole "$("$sb" idle "ws://127.0.0.1:$pport/?token=$token" "$n_idle" "$ppid")"
printf '%-11s %s\n' porthole+sp "$("$sb" idle "ws://127.0.0.1:$sport/?token=$stoken" "$n_idle" "$spid")"
if [ "${BENCH_NOVA:-0}" = 1 ]; then
    printf '%-11s %s\n' nova-novncproxy "$("$sb" setup "ws://127.0.0.1:$nport/?token=$ntoken" "$n_setup_nova" 8)"
    printf '%-11s %s\n' porthole+nova "$("$sb" setup "ws://127.0.0.1:$nvport/?token=$ntoken" "$n_setup" 8)"
    printf '%-11s %s\n' nova-novncproxy "$("$sb" idle "ws://127.0.0.1:$nport/?token=$ntoken" "$n_idle_nova" "$npid")"
    printf '%-11s %s\n' porthole+nova "$("$sb" idle "ws://127.0.0.1:$nvport/?token=$ntoken" "$n_idle" "$pnpid")"
fi
if [ "$n_big" -gt 0 ]; then
    printf '%-11s %s\n' porthole "$("$sb" idle "ws://127.0.0.1:$pport/?token=$token" "$n_big" "$ppid")"
fi

#!/usr/bin/env bash
# The hotline benchmark (docs/benchmark.md): whole signed bill-enquiry calls against the
# release build on SQLite (twice: every commit flushed to disk, the default, and flushed only
# at checkpoints) and on PostgreSQL, and a minimal signed hyper server as the baseline, each
# pinned to one core with the load generator on another. Prints a Markdown table and writes
# it, the raw JSON and the logs to bench/out/.
#
#   bench/run.sh                      # defaults: DURATION=20 WARMUP=3 CONNECTIONS=64 CUSTOMERS=10000
#   DURATION=10 bench/run.sh
#
# Optional env: DURATION, WARMUP (seconds), CONNECTIONS, CUSTOMERS, SERVER_CPU (default 0),
# LOAD_CPU (default 1), PG_HOST/PG_PORT/PG_USER (default 127.0.0.1/5432/postgres), PG_PARAMS
# (appended to the servers' PostgreSQL URL as its query, e.g. "sslmode=disable"; default none),
# BENCH_PINS=1 (give every customer a PIN: realistic data, but the import hashes 10,000
# argon2 PINs, minutes per store; the measured calls never use the PIN), SQLITE_MODES (the
# SQLite runs, of HOTLINE_SQLITE_SYNCHRONOUS's values; default "full normal"; empty for none),
# PG_INSTANCES (the PostgreSQL runs, by number of instances sharing the database; default
# "1 3": one instance, then three behind one public URL, each call's requests spread over
# them in turn as by a round-robin balancer, all pinned to SERVER_CPU).
# Needs: cargo, taskset (util-linux), curl, jq, psql/pg_isready (PostgreSQL 13+), 2+ cores;
# sqlite3 (optional) to check the SQLite run stored every answered step.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
CUSTOMERS="${CUSTOMERS:-10000}"
SERVER_CPU="${SERVER_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
PG_PARAMS="${PG_PARAMS:-}"
BENCH_PINS="${BENCH_PINS:-0}"
SQLITE_MODES="${SQLITE_MODES-full normal}"
PG_INSTANCES="${PG_INSTANCES:-1 3}"
TOKEN="bench-token"
OUT="bench/out"
BIN="target/release"

die() {
  echo "bench: ERROR: $*" >&2
  exit 1
}
say() { echo "bench: $*" >&2; }

for tool in cargo taskset curl jq; do
  command -v "$tool" >/dev/null || die "$tool is not installed (taskset is in util-linux)"
done
[[ "$(nproc --all)" -ge 2 ]] || die "needs at least 2 cores (server on one, load generator on another)"
taskset -c "$SERVER_CPU" true 2>/dev/null || die "cannot pin to core $SERVER_CPU"
taskset -c "$LOAD_CPU" true 2>/dev/null || die "cannot pin to core $LOAD_CPU"
[[ "$SERVER_CPU" != "$LOAD_CPU" ]] || die "SERVER_CPU and LOAD_CPU must differ"

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/results.md "$OUT"/*.db "$OUT"/*.db-*

# --- cleanup: whatever we started goes when we go ----------------------------------------
# The servers of the current run (several instances in a PostgreSQL run with PG_INSTANCES > 1).
SERVER_PIDS=()
PG_DB=""
# Whether process $1 runs (an exited child stays a zombie until waited for; that is not running).
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ "${stat##*) }" != Z* ]]
}
# Stops the servers we started: SIGTERM (graceful, no drain), SIGKILL after 10 s.
stop_server() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
cleanup() {
  stop_server
  if [[ -n "$PG_DB" ]]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt \
      -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on.
free_port() {
  local p
  for _ in $(seq 1 200); do
    # Below Linux's ephemeral range (32768 up), where a port free of listeners can still be
    # the local end of a connection and refuse the bind.
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port found"
}

# --- build ------------------------------------------------------------------------------
say "building the release binaries"
cargo build --release --bin hotline --example bench_load --example bench_baseline >&2

# --- is the machine quiet? -------------------------------------------------------------
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
b0="$(busy_ticks)"; sleep 2; b1="$(busy_ticks)"
IDLE_BUSY_PCT=$(((b1 - b0) / 2))
if [[ "$IDLE_BUSY_PCT" -gt 20 ]]; then
  say "!!! WARNING: the machine is busy before the benchmark (${IDLE_BUSY_PCT}% of a core in use);"
  say "!!! other programs will share the cores and the figures will be low and noisy."
fi

# --- data -------------------------------------------------------------------------------
CSV="$OUT/customers.csv"
say "writing $CUSTOMERS customers to $CSV"
DUE="$(date -d '+20 days' +%F)"
PAID="$(date -d '-10 days' +%F)"
awk -v n="$CUSTOMERS" -v due="$DUE" -v paid="$PAID" -v pins="$BENCH_PINS" 'BEGIN {
  print "account_no,name,language,pin,lines,amount_due,due_date,balance,last_payment_amount,last_payment_date,charges"
  for (i = 0; i < n; i++) {
    lang = (i % 2 == 0) ? "zh-CN" : "en-US"
    pin = (pins == "1") ? sprintf("%04d", 1000 + i % 9000) : ""
    due_amt = 50 + (i % 500)
    printf "%d,Customer %d,%s,%s,phone:+86139%08d,%d.%02d,%s,-%d.%02d,%d.00,%s,monthly_fee:58.00;data:%d.%02d;long_distance:%d.50\n",
      10000000 + i, i, lang, pin, i, due_amt, i % 100, due, due_amt, i % 100, 30 + i % 70, paid, i % 40, i % 100, i % 20
  }
}' >"$CSV"

# --- helpers ----------------------------------------------------------------------------
wait_ready() { # url pid log
  for _ in $(seq 1 300); do
    alive "$2" || { tail -n 20 "$3" >&2; die "the server exited during start-up (log: $3)"; }
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$3" >&2
  die "the server did not come up at $1 within 30 s (log: $3)"
}

# Runs the load generator against the servers in SERVER_PIDS (at the addresses given after
# the URL, if more than one) and stops them after it.
load_and_stop() { # name mode url [instance address…]
  local name="$1" mode="$2" url="$3" pid
  shift 3
  local extra=()
  for addr in "$@"; do extra+=(--instance "$addr"); done
  for pid in "${SERVER_PIDS[@]}"; do extra+=(--server-pid "$pid"); done
  say "$name: $CONNECTIONS connections, ${WARMUP}s warm-up, ${DURATION}s measured"
  local x0=""
  [[ -n "$PG_DB" ]] && x0="$(pg_xacts)"
  taskset -c "$LOAD_CPU" "$BIN/examples/bench_load" --name "$name" --mode "$mode" --url "$url" \
    --auth-token "$TOKEN" --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" \
    --customers "$CUSTOMERS" "${extra[@]}" \
    >"$OUT/$name.json" 2> >(tee "$OUT/$name.load.log" >&2) ||
    die "$name: the load generator failed (see $OUT/$name.load.log)"
  # Peak and end RSS of the servers together.
  local hwm=0 rss=0
  for pid in "${SERVER_PIDS[@]}"; do
    alive "$pid" || die "$name: a server died under load (see $OUT/$name*.log)"
    hwm=$((hwm + $(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")))
    rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
  done
  stop_server
  if [[ -n "$x0" ]]; then
    # PostgreSQL's transactions over the whole load, warm-up included, per request: a call
    # is three requests, two of them steps.
    jq -c --argjson x "$(($(pg_xacts) - x0))" \
      '. + {pg_xacts_per_request: (if .steps_answered > 0 then $x / (.steps_answered * 1.5) else null end)}' \
      "$OUT/$name.json" >"$OUT/$name.json.tmp"
    mv "$OUT/$name.json.tmp" "$OUT/$name.json"
  fi
  # CPU used by neither the server nor the load generator: the database, or interference.
  local rest
  rest="$(jq '(.machine_cpu_pct // 0) - (.server_cpu_pct // 0) - (.client_cpu_pct // 0) | floor' "$OUT/$name.json")"
  if [[ "$name" != postgres* && "$rest" -gt 15 ]]; then
    say "!!! $name: other programs used ${rest}% of a core during the measurement: the figures are disturbed !!!"
    DISTURBED+=" $name (${rest}% of a core)"
  fi
  jq -c --argjson hwm "$hwm" --argjson rss "$rss" \
    '. + {peak_rss_kib: $hwm, end_rss_kib: $rss}' "$OUT/$name.json" >"$OUT/$name.json.tmp"
  mv "$OUT/$name.json.tmp" "$OUT/$name.json"
  cat "$OUT/$name.json" >&2
}

run_hotline() { # name database_url instances [NAME=value… for the servers]
  local name="$1" db="$2" instances="$3" port public="" i
  shift 3
  say "$name: importing $CUSTOMERS customers"
  local t0=$SECONDS
  # The import is not measured, and SQLite's synchronous is a setting of each connection, not
  # of the file: the data are the same whatever the server runs with.
  HOTLINE_DATABASE_URL="$db" HOTLINE_SQLITE_SYNCHRONOUS=normal HOTLINE_LOG=warn \
    "$BIN/hotline" import accounts "$CSV" \
    >"$OUT/$name.import.log" 2>&1 || { tail -n 20 "$OUT/$name.import.log" >&2; die "$name: import failed"; }
  say "$name: $(head -n 1 "$OUT/$name.import.log") in $((SECONDS - t0)) s"
  # Every instance serves the first one's URL as its public URL: the one address Twilio
  # would know, a balancer's.
  local addrs=()
  for i in $(seq 1 "$instances"); do
    port="$(free_port)"
    public="${public:-http://127.0.0.1:$port}"
    env "$@" HOTLINE_DATABASE_URL="$db" \
      HOTLINE_LISTEN="127.0.0.1:$port" \
      HOTLINE_PUBLIC_URL="$public" \
      HOTLINE_TWILIO_AUTH_TOKEN="$TOKEN" \
      HOTLINE_HTTP_SHUTDOWN_DRAIN_MS=0 \
      HOTLINE_LOG=warn \
      taskset -c "$SERVER_CPU" "$BIN/hotline" serve >"$OUT/$name.$i.log" 2>&1 &
    SERVER_PIDS+=($!)
    wait_ready "http://127.0.0.1:$port/readyz" "$!" "$OUT/$name.$i.log"
    addrs+=("127.0.0.1:$port")
  done
  if [[ "$instances" -gt 1 ]]; then
    load_and_stop "$name" hotline "$public" "${addrs[@]}"
  else
    load_and_stop "$name" hotline "$public"
  fi
}

# Every voice or step webhook answered must be a stored call step: compares the count in the
# store (after the server stopped) with what the load generator saw answered.
STORE_PROBLEMS=""
DISTURBED=""
check_stored() { # name stored_count
  local name="$1" stored="$2" answered
  answered="$(jq .steps_answered "$OUT/$name.json")"
  if [[ -z "$stored" ]]; then
    say "$name: cannot count the stored steps (no sqlite3?); not checked"
    return
  fi
  jq -c --argjson n "$stored" '. + {steps_stored: $n}' "$OUT/$name.json" >"$OUT/$name.json.tmp"
  mv "$OUT/$name.json.tmp" "$OUT/$name.json"
  if [[ "$stored" -lt "$answered" ]]; then
    say "!!! $name: $answered steps were answered but only $stored are in the store !!!"
    STORE_PROBLEMS+=" $name: $answered answered, $stored stored."
  else
    say "$name: $stored call steps stored for $answered answered"
  fi
}

# --- SQLite -----------------------------------------------------------------------------
# One run per synchronous setting, each on a fresh database: "sqlite" flushes every commit
# (the default), "sqlite_normal" only at checkpoints.
SQLITE_RUNS=""
for mode in $SQLITE_MODES; do
  case "$mode" in
    full) name=sqlite ;;
    normal) name=sqlite_normal ;;
    *) die "SQLITE_MODES: $mode is neither full nor normal" ;;
  esac
  rm -f "$OUT/$name.db" "$OUT/$name.db"-*
  run_hotline "$name" "sqlite://$OUT/$name.db" 1 HOTLINE_SQLITE_SYNCHRONOUS="$mode"
  check_stored "$name" "$(sqlite3 "$OUT/$name.db" 'SELECT count(*) FROM call_steps' 2>/dev/null || true)"
  SQLITE_RUNS+=" $name"
done

# --- PostgreSQL -------------------------------------------------------------------------
command -v psql >/dev/null && command -v pg_isready >/dev/null || die "psql/pg_isready not installed"
if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; then
  say "starting PostgreSQL"
  [[ -d /etc/postgresql ]] || die "PostgreSQL is not running and /etc/postgresql does not exist"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start ||
    die "could not start PostgreSQL"
  for _ in $(seq 1 30); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && break; sleep 1; done
fi
pg_isready -h "$PG_HOST" -p "$PG_PORT" -q || die "PostgreSQL at $PG_HOST:$PG_PORT is not ready"
PG_VERSION="$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt -c 'SHOW server_version' | cut -d' ' -f1)"
PG_SYNC="$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt -c 'SHOW synchronous_commit')"
# Transactions committed in the bench database so far.
pg_xacts() {
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt \
    -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$PG_DB'"
}
PG_RUNS=""
for n in $PG_INSTANCES; do
  name=postgres
  [[ "$n" -gt 1 ]] && name="postgres_x$n"
  PG_DB="hotline_bench_$(date +%s)_$$"
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt -c "CREATE DATABASE $PG_DB" >/dev/null ||
    die "cannot create database $PG_DB"
  # Transactions per request: counted over the whole load (warm-up included) after the import.
  run_hotline "$name" "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB${PG_PARAMS:+?$PG_PARAMS}" "$n"
  check_stored "$name" "$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -qAt \
    -c 'SELECT count(*) FROM call_steps' 2>/dev/null || true)"
  psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qAt \
    -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || say "could not drop $PG_DB"
  PG_DB=""
  PG_RUNS+=" $name"
done

# --- baseline ---------------------------------------------------------------------------
port="$(free_port)"
taskset -c "$SERVER_CPU" "$BIN/examples/bench_baseline" --listen "127.0.0.1:$port" \
  --public-url "http://127.0.0.1:$port" --auth-token "$TOKEN" >"$OUT/baseline.log" 2>&1 &
SERVER_PIDS=($!)
# It answers 403 to an unsigned GET: up is up.
wait_ready_any() {
  for _ in $(seq 1 100); do
    alive "${SERVER_PIDS[0]}" || die "the baseline server exited (log: $OUT/baseline.log)"
    curl -sS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "the baseline server did not come up at $1"
}
wait_ready_any "http://127.0.0.1:$port/"
load_and_stop baseline baseline "http://127.0.0.1:$port"

# --- report -----------------------------------------------------------------------------
base_rps="$(jq -r .rps "$OUT/baseline.json")"
row() { # label name
  jq -r --arg server "$1" --argjson base "$base_rps" '
    def f(d): (. * pow(10; d) | round) / pow(10; d);
    def pct: if . == null then "-" else "\(f(0))%" end;
    "| \($server) | \(.rps | f(0)) | \(if $base > 0 then "\(.rps / $base * 100 | f(1))%" else "-" end)"
    + " | \(.calls_per_sec | f(0)) | \(.p50_ms | f(2)) | \(.p99_ms | f(2)) | \(.max_ms | f(1))"
    + " | \(.peak_rss_kib / 1024 | f(1))"
    + " | \(.server_cpu_pct | pct) / \(.client_cpu_pct | pct) / \(if .machine_cpu_pct == null or .server_cpu_pct == null or .client_cpu_pct == null then "-" else (.machine_cpu_pct - .server_cpu_pct - .client_cpu_pct | if . < 0 then 0 else . end | pct) end)"
    + " | \(if .errors + .errors_outside_window > 0 then "**\(.errors) (+\(.errors_outside_window) outside the window)**" else "0" end) |"
  ' "$OUT/$2.json"
}
runs=()
for name in $SQLITE_RUNS $PG_RUNS baseline; do runs+=("$OUT/$name.json"); done
total_errors="$(jq -s 'map(.errors + .errors_outside_window) | add' "${runs[@]}")"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git status --porcelain -- src migrations Cargo.toml Cargo.lock 2>/dev/null | head -c1)"
{
  echo "# hotline benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Whole bill-enquiry calls (voice → press 1 → status), every request signed, $CONNECTIONS connections,"
  echo "${DURATION}s measured after ${WARMUP}s warm-up, $CUSTOMERS customers. Server pinned to core $SERVER_CPU,"
  echo "load generator to core $LOAD_CPU."
  echo
  echo "| server | req/s | % of baseline | calls/s | p50 ms | p99 ms | max ms | peak RSS MiB | CPU server / load / rest | errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in $SQLITE_RUNS; do
    case "$name" in
      sqlite) row "hotline, SQLite, synchronous=FULL (default)" sqlite ;;
      sqlite_normal) row "hotline, SQLite, synchronous=NORMAL" sqlite_normal ;;
    esac
  done
  for name in $PG_RUNS; do
    case "$name" in
      postgres) row "hotline, PostgreSQL $PG_VERSION" postgres ;;
      *) row "hotline ×${name#postgres_x}, one PostgreSQL $PG_VERSION" "$name" ;;
    esac
  done
  row "baseline (hyper + signature)" baseline
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc --all) cores, $(uname -sr)."
  echo "- Build: hotline $commit${dirty:+ (with uncommitted changes)}, $(rustc --version)."
  echo "- Before the runs the idle machine was using ${IDLE_BUSY_PCT}% of a core."
  echo "- SQLite synchronous=FULL flushes the log to disk at every commit (a batch of steps), so"
  echo "  an answered step survives a power loss; NORMAL flushes only at checkpoints"
  echo "  (HOTLINE_SQLITE_SYNCHRONOUS). PostgreSQL: synchronous_commit=$PG_SYNC; connection"
  echo "  parameters: ${PG_PARAMS:-none (TLS when the server offers it, as sslmode=prefer)}."
  echo "- PostgreSQL is not pinned: its backends run wherever the OS puts them, sharing both cores"
  echo "  with the server and the load generator. \"hotline ×n\": n instances on one database, all"
  echo "  pinned to the server's core, each call's requests sent to them in turn (CPU and RSS: all"
  echo "  together)."
  for name in $PG_RUNS; do
    jq -r --arg name "$name" '
      "- \($name): PostgreSQL committed \(.pg_xacts_per_request * 100 | round / 100) transactions"
      + " and used about \(if .machine_cpu_pct == null or .server_cpu_pct == null or .client_cpu_pct == null or .rps == 0 then "-" else ((.machine_cpu_pct - .server_cpu_pct - .client_cpu_pct) / 100 / .rps * 1000000 | round) end) µs of CPU per request"
      + " (the CPU of neither the servers nor the load generator, per request answered in the window)."
    ' "$OUT/$name.json"
  done
  echo "- CPU: share of one core used during the measured window by the server (all its threads),"
  echo "  the load generator, and the rest of the machine (PostgreSQL's backends in the PostgreSQL"
  echo "  run; anything else is interference and makes the figures unreliable)."
  if [[ -n "$STORE_PROBLEMS" ]]; then
    echo "- **STEPS MISSING FROM THE STORE:$STORE_PROBLEMS**"
  else
    echo "- Every answered voice and step webhook was found stored as a call step afterwards."
  fi
  if [[ -n "$DISTURBED" ]]; then
    echo "- **DISTURBED: other programs used the cores during:$DISTURBED. Run again on an idle machine.**"
  fi
  if [[ "$total_errors" != "0" ]]; then
    echo "- **ERRORS: $total_errors requests failed; see error_kinds in bench/out/*.json and bench/out/*.log.**"
  fi
} >"$OUT/results.md"

echo
cat "$OUT/results.md"
if [[ -n "$DISTURBED" ]]; then
  echo >&2
  echo "bench: !!! the measurement was disturbed by other programs:$DISTURBED !!!" >&2
fi
if [[ "$total_errors" != "0" ]]; then
  echo >&2
  echo "bench: !!! $total_errors REQUESTS FAILED — the figures above are not clean; see $OUT/*.json and $OUT/*.log !!!" >&2
fi

#!/usr/bin/env bash
# Two builds of Tessera side by side over HTTP, alternated phase by phase (which goes first
# alternates round by round), so that a change's cost shows as a ratio taken minutes apart on
# one machine (docs/PERFORMANCE.md, "Before and after the replicating core").
#
#   bench/side-by-side.sh <checkout A> <checkout B>
#
# Each checkout needs `npm ci` and `npm run build` (it runs dist/src/main.js).
# Each gets its own redis-server; one signed-in session per build. Per round
# and build: reads (GET /v1/session?parts=cart,prefs) and writes (PUT of a
# cart line, 5 SKUs, quantities 1-5: every write succeeds), each for DURATION
# seconds under wrk (2 threads, CONNECTIONS connections), then the Redis time per
# script call of that phase (INFO commandstats, reset between phases) and the CPU time per
# request of the build's node, its redis-server (/proc, user + system) and wrk (/usr/bin/time).
#
# Environment: ROUNDS (3), DURATION (10), BASE_PORT (7410), CONNECTIONS (32;
# 1 sends one request at a time, so that Redis's time per script is not
# stretched by the load generator and the node taking its core).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <checkout A> <checkout B>" >&2
  exit 2
fi
for tool in wrk redis-server redis-cli curl node /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 2; }
done

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
BASE_PORT=${BASE_PORT:-7410}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=$((CONNECTIONS < 2 ? 1 : 2))
KEY=side-by-side-key-0123456789abcdef
WORK=$(mktemp -d)
declare -A DIR=([A]=$(cd "$1" && pwd) [B]=$(cd "$2" && pwd))
declare -A PORT=([A]=$BASE_PORT [B]=$((BASE_PORT + 10)))
declare -A TOKEN PID REDIS_PID

cleanup() {
  for build in A B; do
    [[ -n "${PID[$build]:-}" ]] && kill "${PID[$build]}" 2>/dev/null || true
    redis-cli -p $((PORT[$build] + 1)) shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/write.lua" <<'LUA'
wrk.headers["content-type"] = "application/json"
math.randomseed(os.time())
request = function()
  return wrk.format("PUT", "/v1/session/cart/items/SKU-" .. math.random(1, 5), nil, '{"quantity":' .. math.random(1, 5) .. '}')
end
LUA

start() {
  local build=$1 port=${PORT[$1]} redis=$((PORT[$1] + 1))
  [[ -f "${DIR[$build]}/dist/src/main.js" ]] || { echo "$0: run npm run build in ${DIR[$build]}" >&2; exit 2; }
  redis-server --port "$redis" --save '' --appendonly no --daemonize yes --logfile "$WORK/redis-$build.log" >/dev/null
  (cd "${DIR[$build]}" && TESSERA_STORE=redis TESSERA_REDIS_URL="redis://127.0.0.1:$redis" TESSERA_PORT="$port" \
    TESSERA_ADMIN_PORT=$((port + 2)) TESSERA_API_KEYS="bench:$KEY" TESSERA_LOG_LEVEL=warn TESSERA_SHUTDOWN_DELAY=0s \
    exec node dist/src/main.js >"$WORK/tessera-$build.log" 2>&1) &
  PID[$build]=$!
  REDIS_PID[$build]=$(redis-cli -p "$redis" info server | awk -F: '/^process_id/ {print $2}' | tr -d '\r')
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  TOKEN[$build]=$(curl -sf -X POST -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"userId":"side-by-side"}' \
    "http://127.0.0.1:$port/v1/sessions" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).token))')
}

# CPU time of a process so far, in clock ticks (user + system).
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# Prints "req/s p99 non-2xx node-µs redis-µs wrk-µs" of one phase: the last three are the CPU
# time per request of the build's node, of its redis-server and of the load generator (which
# shares the cores: a larger answer costs wrk more to read).
phase() {
  local build=$1 kind=$2 url="http://127.0.0.1:${PORT[$1]}" out node0 redis0 requests
  node0=$(cpu_ticks "${PID[$build]}")
  redis0=$(cpu_ticks "${REDIS_PID[$build]}")
  if [[ $kind == reads ]]; then
    out=$(/usr/bin/time -f "%U %S" -o "$WORK/wrk-time" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "authorization: Bearer $KEY" -H "tessera-token: ${TOKEN[$build]}" "$url/v1/session?parts=cart,prefs")
  else
    out=$(/usr/bin/time -f "%U %S" -o "$WORK/wrk-time" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/write.lua" -H "authorization: Bearer $KEY" -H "tessera-token: ${TOKEN[$build]}" "$url/")
  fi
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  local per_request="* 1000000 / $(getconf CLK_TCK) / $requests"
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out") $(awk '/Non-2xx/ {n = $4} END {print n + 0}' <<<"$out") \
$(node -e "console.log((($(cpu_ticks "${PID[$build]}") - $node0) $per_request).toFixed(0))") \
$(node -e "console.log((($(cpu_ticks "${REDIS_PID[$build]}") - $redis0) $per_request).toFixed(0))") \
$(node -e "console.log(($(awk '{print $1 + $2}' "$WORK/wrk-time") * 1000000 / $requests).toFixed(0))")"
}

# Redis µs per script call since the last reset (EVALSHA before the function library, FCALL after), then resets.
script_cost() {
  local redis=$((PORT[$1] + 1))
  redis-cli -p "$redis" info commandstats | grep -oE 'cmdstat_(evalsha|fcall):.*usec_per_call=[0-9.]+' | sed 's/.*usec_per_call=//' | head -1
  redis-cli -p "$redis" config resetstat >/dev/null
}

start A
start B
for build in A B; do script_cost "$build" >/dev/null; done
echo "A = ${DIR[A]} ($(git -C "${DIR[A]}" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "B = ${DIR[B]} ($(git -C "${DIR[B]}" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "| round | phase | A req/s | B req/s | B/A | A p99 | B p99 | A Redis µs/script | B Redis µs/script | A node / Redis / wrk CPU µs/req | B node / Redis / wrk CPU µs/req |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq "$ROUNDS"); do
  for kind in reads writes; do
    # Which build goes first alternates round by round: the second of a pair was measured to
    # gain up to 15 % by its place alone (the same build on both sides).
    if (( round % 2 == 1 )); then
      read -r a_rps a_p99 a_bad a_node a_rcpu a_wrk <<<"$(phase A "$kind")"
      a_redis=$(script_cost A)
      read -r b_rps b_p99 b_bad b_node b_rcpu b_wrk <<<"$(phase B "$kind")"
      b_redis=$(script_cost B)
    else
      read -r b_rps b_p99 b_bad b_node b_rcpu b_wrk <<<"$(phase B "$kind")"
      b_redis=$(script_cost B)
      read -r a_rps a_p99 a_bad a_node a_rcpu a_wrk <<<"$(phase A "$kind")"
      a_redis=$(script_cost A)
    fi
    if [[ $a_bad != 0 || $b_bad != 0 ]]; then echo "non-2xx answers (A $a_bad, B $b_bad): see $WORK" >&2; fi
    ratio=$(node -e "console.log((${b_rps} / ${a_rps}).toFixed(2))")
    echo "| $round | $kind | $a_rps | $b_rps | $ratio | $a_p99 | $b_p99 | $a_redis | $b_redis | $a_node / $a_rcpu / $a_wrk | $b_node / $b_rcpu / $b_wrk |"
  done
done

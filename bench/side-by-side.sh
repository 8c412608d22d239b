#!/usr/bin/env bash
# Two builds of Tessera side by side over HTTP, alternated phase by phase (which goes first
# alternates round by round), so that a change's cost shows as a ratio taken minutes apart on
# one machine (docs/PERFORMANCE.md, "Before and after the replicating core").
#
#   bench/side-by-side.sh <checkout A> <checkout B>
#
# Each checkout needs `npm ci` and `npm run build` (it runs dist/src/main.js).
# Each gets its own redis-server and SESSIONS signed-in sessions. Per round
# and build: reads (GET /v1/session?parts=cart,prefs) and writes (by default PUT
# of a cart line, 5 SKUs, quantities 1-5: every write succeeds), each for DURATION
# seconds under wrk (2 threads, CONNECTIONS connections), then the Redis time per
# script call of that phase (INFO commandstats, reset between phases) and the CPU time per
# request of the build's node, its redis-server (/proc, user + system) and wrk (/usr/bin/time).
# A phase with any answer other than 2xx stops the run: it would have measured failures.
#
# Environment: ROUNDS (3), DURATION (10), BASE_PORT (7410), CONNECTIONS (32;
# 1 sends one request at a time, so that Redis's time per script is not
# stretched by the load generator and the node taking its core); SESSIONS (1:
# every request picks one of that many signed-in sessions at random, so that
# concurrent writes to one cart do not all miss L1's version); WRITE (put: the
# PUT above; add: POST /v1/session/cart/items of one of 12 SKUs per session with
# eight attributes, as the benchmark's cart adds, so carts grow to 12 lines; view: POST
# /v1/session/history of a product never viewed, with return=minimal, after a warm-up that fills
# every history to its 100 views, so that each view pushes the oldest out).
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
SESSIONS=${SESSIONS:-1}
WRITE=${WRITE:-put}
[[ $WRITE == put || $WRITE == add || $WRITE == view ]] || { echo "$0: WRITE is put, add or view" >&2; exit 2; }
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

# Each wrk thread reads the build's session tokens (a file, one per line, passed after --) and sends each request with one at random.
cat > "$WORK/tokens.lua" <<'LUA'
local tokens = {}
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  math.randomseed(os.time() + #tostring({}))
end
-- wrk.format's headers replace wrk.headers (the -H ones): start from a copy of them.
local function headers(extra)
  local h = { ["tessera-token"] = tokens[math.random(1, #tokens)] }
  for k, v in pairs(wrk.headers) do h[k] = v end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end
LUA
cat > "$WORK/reads.lua" <<'LUA'
request = function()
  return wrk.format("GET", "/v1/session?parts=cart,prefs", headers())
end
LUA
cat > "$WORK/write-put.lua" <<'LUA'
request = function()
  return wrk.format("PUT", "/v1/session/cart/items/SKU-" .. math.random(1, 5),
    headers({ ["content-type"] = "application/json" }), '{"quantity":' .. math.random(1, 5) .. '}')
end
LUA
cat > "$WORK/write-add.lua" <<'LUA'
request = function()
  local n = math.random(1, 12)
  local body = '{"sku":"SKU-' .. n .. '","quantity":1,"attributes":{"title":"Northwind Merino Jumper ' .. n ..
    '","brand":"Northwind","priceMinor":' .. (4990 + n) .. ',"currency":"EUR","size":"M","colour":"navy",' ..
    '"image":"https://img.example-shop.com/p/00' .. (10000 + n) .. '/2.webp","seller":"S' .. (100 + n) .. '"}}'
  return wrk.format("POST", "/v1/session/cart/items", headers({ ["content-type"] = "application/json" }), body)
end
LUA
cat > "$WORK/write-view.lua" <<'LUA'
-- A product never viewed before: once a history holds its 100 views, every view pushes the oldest out.
request = function()
  return wrk.format("POST", "/v1/session/history", headers({ ["content-type"] = "application/json", prefer = "return=minimal" }),
    '{"productId":"PROD-' .. math.random(1, 1000000000) .. '"}')
end
LUA
for kind in reads write-put write-add write-view; do cat "$WORK/tokens.lua" "$WORK/$kind.lua" > "$WORK/$kind.wrk.lua"; done

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
  TOKEN[$build]=$WORK/tokens-$build.txt
  node -e '
    const [origin, key, n] = process.argv.slice(1);
    (async () => {
      for (let i = 0; i < Number(n); i++) {
        const res = await fetch(`${origin}/v1/sessions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ userId: `side-by-side-${i}` }) });
        if (res.status !== 201) throw new Error(`sign-in: ${res.status} ${await res.text()}`);
        console.log((await res.json()).token);
      }
    })().catch((e) => { console.error(e.message); process.exit(1); });' "http://127.0.0.1:$port" "$KEY" "$SESSIONS" > "${TOKEN[$build]}"
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
  local script=$WORK/write-$WRITE.wrk.lua
  [[ $kind == reads ]] && script=$WORK/reads.wrk.lua
  out=$(/usr/bin/time -f "%U %S" -o "$WORK/wrk-time" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" -H "authorization: Bearer $KEY" "$url/" -- "${TOKEN[$build]}")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  local per_request="* 1000000 / $(getconf CLK_TCK) / $requests"
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out") $(awk '/Non-2xx/ {n = $NF} END {print n + 0}' <<<"$out") \
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
if [[ $WRITE == view ]]; then
  # Every session's history filled to its limit before anything is measured.
  for build in A B; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$((SESSIONS * 100 / 1500 + 5))s" -s "$WORK/write-view.wrk.lua" -H "authorization: Bearer $KEY" "http://127.0.0.1:${PORT[$build]}/" -- "${TOKEN[$build]}" >/dev/null
    views=$(curl -sf -H "authorization: Bearer $KEY" -H "tessera-token: $(head -1 "${TOKEN[$build]}")" "http://127.0.0.1:${PORT[$build]}/v1/session/history" | node -e 'let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => console.log(JSON.parse(t).items.length))')
    echo "$build: a history holds $views views after the warm-up"
  done
fi
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
    if [[ $a_bad != 0 || $b_bad != 0 ]]; then echo "$0: non-2xx answers in round $round, $kind (A $a_bad, B $b_bad): the phase measured failures" >&2; exit 1; fi
    ratio=$(node -e "console.log((${b_rps} / ${a_rps}).toFixed(2))")
    echo "| $round | $kind | $a_rps | $b_rps | $ratio | $a_p99 | $b_p99 | $a_redis | $b_redis | $a_node / $a_rcpu / $a_wrk | $b_node / $b_rcpu / $b_wrk |"
  done
done

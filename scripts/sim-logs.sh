#!/usr/bin/env bash
# What the simulated nodes logged (warn and above), for a failed CI run:
# per node, its messages by count and its last lines. The simulations keep
# their folders under TESSERA_SIM_DIR when it is set (sim/harness.ts).
#
#   scripts/sim-logs.sh <TESSERA_SIM_DIR>
set -uo pipefail
dir="${1:?usage: scripts/sim-logs.sh <TESSERA_SIM_DIR>}"
[ -d "$dir" ] || exit 0
find "$dir" -name tessera.log -size +0 | sort | while read -r log; do
  echo "=== ${log#"$dir"/} ($(wc -l <"$log") lines)"
  grep -o '"msg":"[^"]*"' "$log" | sort | uniq -c | sort -rn | head -12
  echo "--- last lines, requests answered 503 left out"
  grep -v -e '"msg":"request failed"' -e '"msg":"unavailable: answered 503"' "$log" | tail -n 12 | cut -c1-400
done

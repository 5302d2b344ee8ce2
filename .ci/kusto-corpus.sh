#!/usr/bin/env bash
# Validate every Sentinel query ruleport emits for both corpora with Microsoft's Kusto.Language
# (parser + binder against the table schemas). Fails on any Kusto.Language error.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="$1"
BIN=./target/release/ruleport
CHECK=crates/ruleport-sentinel/kusto-check
if [ ! -d "$CHECK/node_modules" ]; then (cd "$CHECK" && npm ci --no-audit --no-fund --silent); fi
out=$(mktemp -d)
total_errors=0
for set in xdr event asim; do
  for corpus in "$SHARED/corpus/sigma/rules" "$SHARED/corpus/sigma/rules-emerging-threats" "$SHARED/corpus/sigma/rules-threat-hunting" "$SHARED/corpus/elastic/rules" "$SHARED/corpus/elastic/rules_building_block"; do
    name="$set-$(basename "$corpus")"
    # Unsupported ports make convert exit 1; they are counted by the corpus check, not here.
    "$BIN" convert "$corpus" --to sentinel --sentinel-set "$set" --format json -q --on-approximate ignore > "$out/$name.json" 2>/dev/null || true
    node -e '
      const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      for (const r of rows) if (r.text) console.log(JSON.stringify({id: r.rule_id + " " + r.path, query: r.text}));
    ' "$out/$name.json" > "$out/$name.jsonl"
    node "$CHECK/kqlcheck.js" crates/ruleport-sentinel/schemas/*.json < "$out/$name.jsonl" > "$out/$name.result.jsonl"
    n=$(wc -l < "$out/$name.jsonl")
    bad=$(grep -c '"ok":false' "$out/$name.result.jsonl" || true)
    echo "kusto.language $name: $n queries, $bad with errors"
    if [ "$bad" != "0" ]; then grep '"ok":false' "$out/$name.result.jsonl" | head -5; fi
    total_errors=$((total_errors + bad))
  done
done
echo "kusto.language: $total_errors queries with errors in total"
[ "$total_errors" = "0" ]

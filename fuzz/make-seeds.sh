#!/usr/bin/env bash
# Rebuilds the seed corpora in corpus/<target>/ from the project's own text only:
#   - the hand-written inputs in seeds/<target>/ (one per grammar feature),
#   - the bundled rules and fixtures in ../rules/,
#   - what ruleport's own emitters write for those rules and for the hand-written rules.
# Never copy rule text from other projects (SigmaHQ, Elastic detection-rules) into the seeds.
# Usage: fuzz/make-seeds.sh [path to a ruleport binary; default: builds ../target/release/ruleport]
set -euo pipefail
cd "$(dirname "$0")"
RULEPORT="${1:-}"
if [ -z "$RULEPORT" ]; then
  (cd .. && cargo build --release -q -p ruleport-cli)
  RULEPORT="$(cd .. && pwd)/target/release/ruleport"
fi
# Bundled rules that keep an upstream rule id or title (Elastic's Entra ID credential rule): their
# text is not ours to seed with.
excluded() { case "$1" in *azure_application_credential_modification* | *entra_id_application_credential_modified*) return 0 ;; esac; return 1; }

rm -rf corpus
for t in sigma_yaml elastic_toml kuery eql splunk sentinel fixtures roundtrip; do
  mkdir -p "corpus/$t"
  cp seeds/"$t"/* "corpus/$t/"
done
for f in ../rules/*/*.yml ../rules/*/*.toml; do
  if excluded "$f"; then continue; fi
  case "$f" in
    *.fixtures.yml) cp "$f" corpus/fixtures/ ;;
    *.yml) cp "$f" corpus/sigma_yaml/ ;;
    *.toml) cp "$f" corpus/elastic_toml/ ;;
  esac
done

# Emitted text: every target for the bundled rules and the hand-written Sigma and Elastic rules.
inputs=()
for f in ../rules/sigma/*.yml ../rules/elastic/*.toml seeds/sigma_yaml/* seeds/elastic_toml/*; do
  if excluded "$f"; then continue; fi
  case "$f" in *.fixtures.yml) continue ;; esac
  inputs+=("$f")
done
"$RULEPORT" convert -q --format json --on-approximate ignore \
  --to kuery,eql,splunk,sentinel,sigma,elastic "${inputs[@]}" 2>/dev/null >emitted.json || true
python3 - <<'PY'
import hashlib, json, os
dirs = {"kuery": "kuery", "eql": "eql", "splunk": "splunk", "sentinel": "sentinel",
        "sigma": "sigma_yaml", "elastic": "elastic_toml"}
for item in json.load(open("emitted.json")):
    text = item.get("text")
    if not text or item["target"] not in dirs:
        continue
    t = dirs[item["target"]]
    name = "emitted_" + hashlib.sha1(text.encode()).hexdigest()[:12]
    open(os.path.join("corpus", t, name), "w").write(text)
    if t in ("kuery", "eql"):
        prefix = "0" if t == "kuery" else "1"
        open(os.path.join("corpus", "roundtrip", name), "w").write(prefix + text)
PY
rm -f emitted.json
du -sh corpus

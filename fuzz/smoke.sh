#!/usr/bin/env bash
# Fuzz smoke run for CI: every target for about 60 s (FUZZ_SECONDS), starting from the seed
# corpora in corpus/<target> with the dictionaries in dict/. Exits non-zero if any target finds
# a crash (panic, stack overflow, timeout or memory blow-up); the reproducer is printed and kept
# under fuzz/artifacts/<target>/.
#
# Needs only the stable toolchain: cargo-fuzz is installed from crates.io when missing, and
# RUSTC_BOOTSTRAP=1 lets stable rustc accept the -Z flags cargo-fuzz passes (see README.md).
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
SANITIZER="${FUZZ_SANITIZER:-none}"
TARGETS=(${FUZZ_TARGETS:-kuery eql splunk sentinel sigma_yaml elastic_toml fixtures roundtrip})
export RUSTC_BOOTSTRAP=1

# A cargo-fuzz already on PATH is used; otherwise it is installed into fuzz/.tools (ignored by
# git), so a clean clone needs no write access outside the checkout. libfuzzer-sys compiles
# libFuzzer itself, which needs a C++ compiler (c++).
if ! cargo fuzz --version >/dev/null 2>&1; then
  export PATH="$PWD/.tools/bin:$PATH"
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz into fuzz/.tools"
    cargo install cargo-fuzz --locked --version 0.13.2 --root "$PWD/.tools"
  fi
fi

dict_for() {
  case "$1" in
    kuery) echo kuery.dict ;;
    eql | roundtrip) echo eql.dict ;;
    splunk) echo splunk.dict ;;
    sentinel) echo sentinel.dict ;;
    sigma_yaml | fixtures) echo yaml.dict ;;
    elastic_toml) echo toml.dict ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

echo "== building the fuzz targets (sanitizer: $SANITIZER)"
cargo fuzz build --sanitizer "$SANITIZER"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${TARGETS[@]}"; do
  echo "== $t: ${SECONDS_PER_TARGET}s"
  mkdir -p "$work/corpus/$t"
  log="$work/$t.log"
  # The seed corpus is read-only input; new units go to the scratch corpus only.
  if cargo fuzz run --sanitizer "$SANITIZER" "$t" "$work/corpus/$t" "corpus/$t" -- \
      -dict="dict/$(dict_for "$t")" -max_total_time="$SECONDS_PER_TARGET" \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len=4096 \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | tr '\n' ' '
    echo
  else
    echo "!! $t found a crash:"
    tail -n 60 "$log"
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz smoke: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz smoke: ${#TARGETS[@]} targets, no crash"

#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time, one after another.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz if it is missing.
# Each target starts from its committed seeds (fuzz/seeds/<target>), its kept regressions
# (fuzz/regressions/<target>) and the local corpus it grew before (fuzz/corpus/<target>,
# not committed). An input that crashes, exhausts memory or times out is copied into
# fuzz/regressions/<target>/, where `cargo test --all-features --test it -- fuzz_regressions::` replays it on
# stable; the script then goes on with the next target and exits 1 at the end.
# Not part of CI: see docs/FUZZING.md.
set -euo pipefail

seconds="${1:-60}"
shift || true
case "$seconds" in
  '' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Safe Rust: the properties and panics are what is looked for, so no AddressSanitizer
# (it halves the executions); debug assertions on, so integer overflow panics too.
flags=(--sanitizer none --debug-assertions)
# One process, bounded: a single input may take at most 10 s (else a "timeout" finding).
libfuzzer=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

cargo +nightly fuzz build "${flags[@]}"

failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  regressions="fuzz/regressions/$target"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  for extra in "fuzz/seeds/$target" "$regressions"; do
    if [ -d "$extra" ]; then
      dirs+=("$extra")
    fi
  done
  before=$(mktemp)
  ls "$artifacts" >"$before"
  echo "== $target: ${seconds}s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  if cargo +nightly fuzz run "${flags[@]}" "$target" "${dirs[@]}" -- "${libfuzzer[@]}"; then
    echo "== $target: clean"
  else
    failed+=("$target")
    mkdir -p "$regressions"
    for found in $(ls "$artifacts" | grep -vxF -f "$before" || true); do
      cp "$artifacts/$found" "$regressions/$found"
      echo "== $target: kept $regressions/$found"
    done
  fi
  rm -f "$before"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs kept under fuzz/regressions/)" >&2
  exit 1
fi
echo "fuzz.sh: all targets clean"

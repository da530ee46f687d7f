#!/usr/bin/env bash
# The Flink version matrix: for every Flink version of tests/version_matrix.yml but the default one (whose bed
# runs the whole integration suite, this subset included), a real cluster of that version (tests/bed/bed.py,
# CDCOPS_BED_FLINK) and the focused subset tests/integration/test_flink_versions.py on it. Every version runs on
# one bed directory, $CDCOPS_BED_DIR-flink-matrix (tests/output/bed-flink-matrix), brought up fresh once: its
# PostgreSQL clusters and Maven repository stay up from one version to the next, and each version's run makes
# the Flink homes anew from that version's distribution and starts its processes (bed.py up on a bed of another
# version). The bed goes down at the end, also when a version fails, unless CDCOPS_BED_KEEP=1. Each
# distribution is assembled once and cached in ~/.cache/cdcops-flink-cdc. The bed's ports are the
# $CDCOPS_BED_*_PORT ones, as for every bed. Prints the time each version took.
# Usage: scripts/flink_matrix.sh [VERSION ...]   (default: every non-default version of the matrix)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
cd "$ROOT"

if [ $# -gt 0 ]; then
    versions=("$@")
else
    mapfile -t versions < <("$PY" - <<'EOF'
import yaml
with open("tests/version_matrix.yml") as f:
    matrix = yaml.safe_load(f)
for version in matrix["flink"]:
    if str(version) != str(matrix["flink_default"]):
        print(version)
EOF
)
fi

export CDCOPS_BED_DIR="${CDCOPS_BED_DIR:-$ROOT/tests/output/bed}-flink-matrix"
keep="${CDCOPS_BED_KEEP:-}"
bed_down() {
    [ "$keep" = 1 ] || "$PY" tests/bed/bed.py down || true
}
trap bed_down EXIT
timings=()
printf '\n==== the bed for every version (%s), fresh, first as Flink %s\n' "$CDCOPS_BED_DIR" "${versions[0]}"
start=$SECONDS
CDCOPS_BED_FLINK="${versions[0]}" "$PY" tests/bed/bed.py up --fresh --no-ha
timings+=("$(printf '%-14s %4ds' "bed up" $((SECONDS - start)))")
for version in "${versions[@]}"; do
    printf '\n==== Flink %s: a real cluster of that version, tests/integration/test_flink_versions.py\n' "$version"
    start=$SECONDS
    CDCOPS_BED_FLINK="$version" CDCOPS_BED_KEEP=1 \
        "$PY" -m pytest -q -p no:cacheprovider tests/integration/test_flink_versions.py || {
        printf '==== Flink %s FAILED after %ds\n' "$version" $((SECONDS - start)) >&2
        exit 1
    }
    timings+=("$(printf 'Flink %-8s %4ds' "$version" $((SECONDS - start)))")
    printf '==== Flink %s took %ds\n' "$version" $((SECONDS - start))
done
printf '\n==== Flink matrix\n'
printf '  %s\n' "${timings[@]}"
# scripts/test.sh repeats them in its final timings.
if [ -n "${CDCOPS_TIMINGS_FILE:-}" ]; then
    printf '  %s\n' "${timings[@]}" >>"$CDCOPS_TIMINGS_FILE"
fi

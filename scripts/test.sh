#!/usr/bin/env bash
# The whole test suite: changelog lint, unit tests, ansible-test sanity,
# ansible-lint (production profile) and integration tests on the real bed.
# Usage: scripts/test.sh [all|changelog|unit|sanity|lint|integration]...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$VENV/collections"
cd "$ROOT"

step() { printf '\n==== %s\n' "$*"; }

run_changelog() {
    step "antsibull-changelog lint"
    antsibull-changelog lint
}

run_unit() {
    step "unit tests"
    python -m pytest -q tests/unit
}

# ansible-test must run from an ansible_collections/<ns>/<name> tree: copy the
# collection (not its venv or test output) into one.
collection_tree() {
    local base dest
    base="$(mktemp -d "${TMPDIR:-/tmp}/cdcops-sanity.XXXXXX")"
    dest="$base/ansible_collections/cdcops/flink_cdc"
    mkdir -p "$dest"
    tar -C "$ROOT" --exclude=./.venv --exclude=./tests/output --exclude=./.git \
        --exclude=__pycache__ --exclude=./.pytest_cache --exclude=./.ansible -cf - . | tar -C "$dest" -xf -
    echo "$dest"
}

run_sanity() {
    step "ansible-test sanity"
    local tree
    tree="$(collection_tree)"
    # Ignore files must stay empty: fix the code instead.
    if cat tests/sanity/ignore-*.txt 2>/dev/null | grep -v '^\s*#' | grep -q .; then
        echo "tests/sanity/ignore-*.txt has entries; fix the code instead" >&2
        return 1
    fi
    # SANITY_TARGETS (paths) narrows the run while developing.
    # shellcheck disable=SC2086
    (cd "$tree" && ansible-test sanity --venv --python 3.11 --color no ${SANITY_TARGETS:-})
    rm -rf "$(dirname "$(dirname "$(dirname "$tree")")")"
}

run_lint() {
    step "ansible-lint --profile production"
    ansible-lint --profile production --offline
}

run_integration() {
    step "integration tests (real Flink, PostgreSQL and Maven repository)"
    python -m pytest -q -p no:cacheprovider tests/integration
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
    case "$t" in
        all) run_changelog; run_unit; run_sanity; run_lint; run_integration ;;
        changelog|unit|sanity|lint|integration) "run_$t" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
done
step "all requested checks passed"

#!/usr/bin/env bash
# The whole test suite: changelog lint, unit tests, ansible-test sanity,
# ansible-lint (production profile), the docs lint, the packaging tests (built
# tarball, execution-environment metadata) and integration tests on the real bed.
# Usage: scripts/test.sh [all|changelog|unit|sanity|lint|docs|packaging|integration]...
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
    tar -C "$ROOT" --exclude=./.venv --exclude=./tests/output --exclude=./.git --exclude=./bench/out \
        --exclude=__pycache__ --exclude=./.pytest_cache --exclude=./.ansible -cf - . | tar -C "$dest" -xf -
    echo "$dest"
}

find_python38() {
    local candidate
    for candidate in "$HOME"/.pyenv/versions/3.8*/bin/python3.8 "$(command -v python3.8 2>/dev/null || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -V >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

run_sanity() {
    step "ansible-test sanity"
    # Ignore files must stay empty: fix the code instead.
    if cat tests/sanity/ignore-*.txt 2>/dev/null | grep -v '^\s*#' | grep -q .; then
        echo "tests/sanity/ignore-*.txt has entries; fix the code instead" >&2
        return 1
    fi
    local tree py38
    tree="$(collection_tree)"
    # SANITY_TARGETS (paths) narrows the run while developing.
    # shellcheck disable=SC2086
    (cd "$tree" && ansible-test sanity --venv --python 3.11 --color no ${SANITY_TARGETS:-})
    # Modules run on managed hosts with Python 3.8+: compile and import them on 3.8 too.
    if ! py38="$(find_python38)"; then
        echo "no working python3.8 (~/.pyenv/versions/3.8*/bin or PATH): cannot check Python 3.8 compatibility" >&2
        return 1
    fi
    # shellcheck disable=SC2086
    (cd "$tree" && PATH="$(dirname "$py38"):$PATH" ansible-test sanity --test compile --test import \
        --python 3.8 --venv --color no ${SANITY_TARGETS:-})
    rm -rf "$(dirname "$(dirname "$(dirname "$tree")")")"
}

run_lint() {
    step "ansible-lint --profile production"
    ansible-lint --profile production --offline
}

# The docs lint the Ansible docsite and antsibull-nox run on collections: every plugin's and
# the role's documentation against antsibull-docs' schema, its markup (O(), M(), RV(), ...)
# and its references to this collection and ansible.builtin, then rstcheck on the RST it renders.
run_docs() {
    step "antsibull-docs lint-collection-docs --plugin-docs"
    antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs dependent .
}

# The collection as users get it (tests/packaging): the tarball ansible-galaxy builds holds what
# users need and nothing else, works installed alone into an empty collections path (ansible-doc,
# a check-mode play), and ansible-builder computes exactly requirements.txt for an execution
# environment. Needs no cluster and no network.
run_packaging() {
    step "packaging tests (built tarball, installed alone; execution environment)"
    python -m pytest -q -p no:cacheprovider tests/packaging
}

run_integration() {
    step "integration tests (real Flink, PostgreSQL and Maven repository)"
    python -m pytest -q -p no:cacheprovider tests/integration
}

# Each stage prints how long it took, and the end repeats them all.
timings=()
timed() {
    local start=$SECONDS
    "run_$1"
    timings+=("$(printf '%-12s %4ds' "$1" $((SECONDS - start)))")
    printf '==== %s took %ds\n' "$1" $((SECONDS - start))
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
    case "$t" in
        all) for stage in changelog unit sanity lint docs packaging integration; do timed "$stage"; done ;;
        changelog|unit|sanity|lint|docs|packaging|integration) timed "$t" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
done
step "all requested checks passed"
printf '  %s\n' "${timings[@]}"

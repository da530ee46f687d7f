#!/usr/bin/env bash
# The whole test suite: changelog lint, unit tests, ansible-test sanity,
# ansible-lint (production profile), the docs lint, the packaging tests (built
# tarball, execution-environment metadata), integration tests on the real bed, the Flink matrix (a real
# cluster of every other Flink version of tests/version_matrix.yml, the focused subset on each) and the
# ansible-core matrix (the unit tests and the role subset under each older ansible-core, sanity under the oldest).
# Usage: scripts/test.sh [all|changelog|unit|sanity|lint|docs|packaging|integration|flink-matrix|core-matrix]...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CDCOPS_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
# CDCOPS_COLLECTIONS_PATH: for a second checkout (a git worktree) that the venv's link does not point at.
export ANSIBLE_COLLECTIONS_PATH="${CDCOPS_COLLECTIONS_PATH:-$VENV/collections}"
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

# ansible-test sanity with the ansible-test of the venv whose bin/ is $1 (first on PATH, so its
# --venv venvs are made from that venv's Python), on Python 3.11, and then the compile and import
# tests on Python 3.8.
sanity_with() {
    local bin="$1" tree py38 rc=0
    # Ignore files must stay empty: fix the code instead.
    if cat tests/sanity/ignore-*.txt 2>/dev/null | grep -v '^\s*#' | grep -q .; then
        echo "tests/sanity/ignore-*.txt has entries; fix the code instead" >&2
        return 1
    fi
    # Modules run on managed hosts with Python 3.8+: compile and import them on 3.8 too.
    if ! py38="$(find_python38)"; then
        echo "no working python3.8 (~/.pyenv/versions/3.8*/bin or PATH): cannot check Python 3.8 compatibility" >&2
        return 1
    fi
    tree="$(collection_tree)"
    # SANITY_TARGETS (paths) narrows the run while developing.
    # shellcheck disable=SC2086
    (cd "$tree" && PATH="$bin:$PATH" ansible-test sanity --venv --python 3.11 --color no ${SANITY_TARGETS:-}) || rc=1
    # shellcheck disable=SC2086
    (cd "$tree" && PATH="$bin:$(dirname "$py38"):$PATH" ansible-test sanity --test compile --test import \
        --python 3.8 --venv --color no ${SANITY_TARGETS:-}) || rc=1
    rm -rf "$(dirname "$(dirname "$(dirname "$tree")")")"
    return $rc
}

run_sanity() {
    step "ansible-test sanity (ansible-core $(ansible_core_version "$VENV/bin"))"
    sanity_with "$VENV/bin"
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

# scripts/flink_matrix.sh: each version's bed, the subset, the time each version took.
run_flink_matrix() {
    step "Flink matrix: a real cluster of each other Flink version, tests/integration/test_flink_versions.py"
    local file line
    file="$(mktemp)"
    CDCOPS_TIMINGS_FILE="$file" scripts/flink_matrix.sh || { rm -f "$file"; return 1; }
    while IFS= read -r line; do subtimings+=("$line"); done <"$file"
    rm -f "$file"
}

ansible_core_version() {
    "$1/python" -c 'from ansible.release import __version__; print(__version__)'
}

# The role subset of the integration tests that core-matrix runs under each older ansible-core: the
# role end to end on the real bed in check mode, a deploy (preflight, deploy, verify, report) and its
# idempotent rerun, a preflight failure that stops the play before anything is written, and the smoke
# job after the role's own rolling restart of the TaskManagers and the JobManager. (The two role test
# files whole take about 3 and 5 minutes per ansible-core; this takes 2 to 3 on an idle machine.)
CORE_MATRIX_ROLE_TESTS=(
    tests/integration/test_role_flink_cdc.py::test_check_mode_writes_nothing
    tests/integration/test_role_flink_cdc.py::test_deploy_installs_then_rerun_changes_nothing
    tests/integration/test_role_flink_cdc.py::test_preflight_fails_on_wal_level_replica
    tests/integration/test_role_smoke.py::test_smoke_job_finishes_after_the_roles_own_restart
)

# pytest under the ansible-core venv $1 (rest: pytest arguments), its output kept in $core_log; the
# last line of it, pytest's summary, goes to $core_summary.
core_pytest() {
    local venv="$1" rc=0
    shift
    PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$venv/collections" \
        "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$core_log" || rc=$?
    core_summary="$(grep -E '^=*[ ]*[0-9]+ (passed|failed|error|skipped|deselected)' "$core_log" | tail -n1 \
        | sed -e 's/^=* *//' -e 's/ *=*$//')"
    [ -n "$core_summary" ] || core_summary="no pytest summary (rc $rc)"
    return $rc
}

# The bed core-matrix brought up; the exit handler takes it down if the stage stops early.
core_bed=
core_bed_down() {
    [ -n "$core_bed" ] || return 0
    "$VENV/bin/python" tests/bed/bed.py down || true
    core_bed=
}

# Every older ansible-core of requirements-core-matrix.txt, each in its cached venv
# (scripts/ansible_core_matrix.sh): the unit tests and the role subset on one bed brought up for all
# of them, then ansible-test sanity under the oldest. The newest, .venv's, is the unit, sanity and
# integration stages. Every part runs even when one fails; the stage fails if any did.
run_core_matrix() {
    step "ansible-core matrix: venvs"
    local lines version venv start unit role logs="$ROOT/tests/output/core-matrix" core_log core_summary
    local -a results=() failed=()
    lines="$(scripts/ansible_core_matrix.sh)"
    mkdir -p "$logs"
    results+=("$(printf '%-8s %s' "$(ansible_core_version "$VENV/bin")" \
        "(.venv) runs in the unit, sanity and integration stages")")

    step "ansible-core matrix: the bed, once for every ansible-core"
    core_bed=1
    "$VENV/bin/python" tests/bed/bed.py up --fresh
    while read -r version venv; do
        start=$SECONDS unit=fail role=fail
        step "ansible-core $version: unit tests ($venv)"
        core_log="$logs/unit-$version.log"
        if core_pytest "$venv" tests/unit; then unit=ok; else failed+=("$version unit"); fi
        unit="$unit: $core_summary"
        step "ansible-core $version: role subset on the bed"
        core_log="$logs/role-$version.log"
        if CDCOPS_BED_KEEP=1 core_pytest "$venv" "${CORE_MATRIX_ROLE_TESTS[@]}"; then
            role=ok
        else
            failed+=("$version role subset")
        fi
        role="$role: $core_summary"
        results+=("$(printf '%-8s unit %s; role subset %s; %ds' "$version" "$unit" "$role" $((SECONDS - start)))")
        subtimings+=("$(printf '  %-20s %4ds' "ansible-core $version" $((SECONDS - start)))")
        printf '==== ansible-core %s took %ds\n' "$version" $((SECONDS - start))
    done <<<"$lines"
    core_bed_down

    read -r version venv <<<"$lines"
    step "ansible-test sanity (ansible-core $version, the oldest)"
    start=$SECONDS
    if sanity_with "$venv/bin"; then
        results+=("$(printf '%-8s sanity ok; %ds' "$version" $((SECONDS - start)))")
    else
        failed+=("$version sanity")
        results+=("$(printf '%-8s sanity FAILED; %ds' "$version" $((SECONDS - start)))")
    fi
    subtimings+=("$(printf '  %-20s %4ds' "sanity $version" $((SECONDS - start)))")

    step "ansible-core matrix (logs: tests/output/core-matrix)"
    printf '  %s\n' "${results[@]}"
    if [ ${#failed[@]} -gt 0 ]; then
        printf 'failed under an older ansible-core: %s\n' "$(printf '%s, ' "${failed[@]}" | sed 's/, $//')" >&2
        return 1
    fi
}

# Each stage prints how long it took, and the end repeats them all (with the parts a stage timed
# in subtimings: core-matrix's per ansible-core), also when a stage fails.
timings=()
subtimings=()
current=
timed() {
    local start=$SECONDS
    current="$1" current_start=$SECONDS subtimings=()
    "run_${1//-/_}"
    timings+=("$(printf '%-12s %4ds' "$1" $((SECONDS - start)))" ${subtimings[@]+"${subtimings[@]}"})
    printf '==== %s took %ds\n' "$1" $((SECONDS - start))
    current=
}

on_exit() {
    local rc=$?
    core_bed_down
    if [ "$rc" -ne 0 ] && [ -n "$current" ]; then
        timings+=("$(printf '%-12s %4ds FAILED' "$current" $((SECONDS - current_start)))" \
            ${subtimings[@]+"${subtimings[@]}"})
        step "$current failed"
        printf '  %s\n' "${timings[@]}"
    fi
}
trap on_exit EXIT

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
    case "$t" in
        all) for stage in changelog unit sanity lint docs packaging integration flink-matrix core-matrix; do
                 timed "$stage"
             done ;;
        changelog|unit|sanity|lint|docs|packaging|integration|flink-matrix|core-matrix) timed "$t" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
done
step "all requested checks passed"
printf '  %s\n' "${timings[@]}"

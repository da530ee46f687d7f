#!/usr/bin/env bash
# The whole test suite: changelog lint, unit tests, ansible-test sanity,
# ansible-lint (production profile), the docs lint, the packaging tests (built
# tarball, execution-environment metadata), integration tests on the real bed, the Flink matrix (a real
# cluster of every other Flink version of tests/version_matrix.yml, the focused subset on each) and the
# ansible-core matrix (the unit tests and the role subset under each other ansible-core, sanity under the oldest
# and the newest); "all" runs those two matrices side by side ("matrices").
# Usage: scripts/test.sh [all|changelog|unit|sanity|lint|docs|packaging|integration|flink-matrix|core-matrix|matrices]...
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

# find_python X.Y: a working python<X.Y>, pyenv's (~/.pyenv/versions/X.Y*), else one on PATH.
# shellcheck source=scripts/find_python.sh
. "$ROOT/scripts/find_python.sh"

# The oldest Python the ansible-test of the venv whose bin/ is $1 supports for managed hosts that the modules
# also support (tests/config.yml python_requires >=3.8): 3.8 up to ansible-core 2.19, 3.9 from 2.20, whose
# ansible-test dropped 3.8 (ansible_test/_util/target/common/constants.py, REMOTE_ONLY_PYTHON_VERSIONS).
oldest_target_python() {
    "$1/python" - <<'EOF'
from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS, REMOTE_ONLY_PYTHON_VERSIONS

key = lambda v: tuple(int(p) for p in v.split("."))
print(min((v for v in REMOTE_ONLY_PYTHON_VERSIONS + CONTROLLER_PYTHON_VERSIONS if key(v) >= (3, 8)), key=key))
EOF
}

# ansible-test sanity with the ansible-test of the venv whose bin/ is $1 (first on PATH, so its
# --venv venvs are made from that venv's Python), on that venv's Python (the controller: 3.11 for
# ansible-core up to 2.19, 3.12 from 2.20), and then the compile and import tests on the oldest
# managed-host Python that ansible-test supports (oldest_target_python: 3.8, or 3.9 from 2.20).
sanity_with() {
    local bin="$1" tree controller target target_python rc=0
    # Ignore files must stay empty: fix the code instead.
    if cat tests/sanity/ignore-*.txt 2>/dev/null | grep -v '^\s*#' | grep -q .; then
        echo "tests/sanity/ignore-*.txt has entries; fix the code instead" >&2
        return 1
    fi
    controller="$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    target="$(oldest_target_python "$bin")"
    # Modules run on managed hosts with Python 3.8+: compile and import them on the oldest Python too.
    if ! target_python="$(find_python "$target")"; then
        echo "no working python$target (~/.pyenv/versions/$target*/bin or PATH): cannot check Python $target compatibility" >&2
        return 1
    fi
    tree="$(collection_tree)"
    # SANITY_TARGETS (paths) narrows the run while developing.
    # shellcheck disable=SC2086
    (cd "$tree" && PATH="$bin:$PATH" ansible-test sanity --venv --python "$controller" --color no ${SANITY_TARGETS:-}) || rc=1
    # shellcheck disable=SC2086
    (cd "$tree" && PATH="$bin:$(dirname "$target_python"):$PATH" ansible-test sanity --test compile --test import \
        --python "$target" --venv --color no ${SANITY_TARGETS:-}) || rc=1
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
# and its references to this collection and ansible.builtin, then rstcheck on the RST it renders; and the guides
# of docs/docsite (extra-docs.yml, links.yml, their RST and their :ansplugin: references).
run_docs() {
    step "antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs"
    antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs --validate-collection-refs dependent .
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

# Every other ansible-core of requirements-core-matrix.txt, each in its cached venv
# (scripts/ansible_core_matrix.sh; Python 3.12 from ansible-core 2.20): the unit tests and the role subset
# on one bed brought up for all of them, then ansible-test sanity under the oldest and the newest. .venv's
# (requirements-dev.txt) is the unit, sanity and integration stages. Every part runs even when one fails;
# the stage fails if any did.
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

    # The oldest and the newest ansible-core (its ansible-test has rules and Python versions the older ones lack).
    local which
    for which in oldest newest; do
        if [ "$which" = oldest ]; then read -r version venv <<<"$lines"; else read -r version venv <<<"$(tail -n1 <<<"$lines")"; fi
        step "ansible-test sanity (ansible-core $version, the $which)"
        start=$SECONDS
        if sanity_with "$venv/bin"; then
            results+=("$(printf '%-8s sanity ok; %ds' "$version" $((SECONDS - start)))")
        else
            failed+=("$version sanity")
            results+=("$(printf '%-8s sanity FAILED; %ds' "$version" $((SECONDS - start)))")
        fi
        subtimings+=("$(printf '  %-20s %4ds' "sanity $version" $((SECONDS - start)))")
    done

    step "ansible-core matrix (logs: tests/output/core-matrix)"
    printf '  %s\n' "${results[@]}"
    if [ ${#failed[@]} -gt 0 ]; then
        printf 'failed under another ansible-core: %s\n' "$(printf '%s, ' "${failed[@]}" | sed 's/, $//')" >&2
        return 1
    fi
}

# The bed ports for a stage that runs beside another one: each port of bed.py's PORTS ($CDCOPS_BED_*_PORT or
# its default) plus $CDCOPS_SIDE_BY_SIDE_PORT_OFFSET (10), as export lines.
side_by_side_ports() {
    "$VENV/bin/python" - <<'EOF'
import os
import sys

sys.path.insert(0, os.path.join("tests", "bed"))
import bed  # noqa: E402

offset = int(os.environ.get("CDCOPS_SIDE_BY_SIDE_PORT_OFFSET", "10"))
names = {"rest": "REST", "jm_rpc": "JM_RPC", "pg_logical": "PG", "pg_replica": "PG_REPLICA", "maven": "MAVEN",
         "zookeeper": "ZK"}
for key, port in sorted(bed.PORTS.items()):
    print("export CDCOPS_BED_%s_PORT=%d" % (names[key], port + offset))
EOF
}

# flink-matrix and core-matrix side by side (the target "matrices", which "all" runs): the two slowest stages
# spend much of their time waiting (JVMs and daemons starting, jobs finishing, pip), so on two cores they end
# sooner together than one after the other. Each has a bed of its own: core-matrix $CDCOPS_BED_DIR
# (tests/output/bed) on the bed's ports, flink-matrix $CDCOPS_BED_DIR-flink-matrix on those ports plus an
# offset (side_by_side_ports). Each writes its output to tests/output/<stage>.log, printed here when both have
# ended, with its time and its parts' times. CDCOPS_SIDE_BY_SIDE=0 runs them one after the other instead.
side_pids=()
# One stage of the matrices in a subshell of its own, its timings written to tests/output/<stage>.timings.
matrix_stage() {
    local stage="$1" ports
    (
        # This subshell's own: its timings, no sibling stages to stop, where its exit handler writes the timings.
        # shellcheck disable=SC2030
        timings=() side_pids=() timings_out="$ROOT/tests/output/$stage.timings"
        trap on_exit EXIT
        if [ "$stage" = flink-matrix ] && [ "${CDCOPS_SIDE_BY_SIDE:-1}" != 0 ]; then
            ports="$(side_by_side_ports)"
            eval "$ports"
        fi
        timed "$stage"
    )
}

run_matrices() {
    local stage logs="$ROOT/tests/output" i rc line
    local -a stages=(flink-matrix core-matrix) failed=()
    mkdir -p "$logs"
    for stage in "${stages[@]}"; do rm -f "$logs/$stage.timings"; done
    if [ "${CDCOPS_SIDE_BY_SIDE:-1}" = 0 ]; then
        for stage in "${stages[@]}"; do
            # In the background and waited for: a subshell tested with || would run without set -e.
            matrix_stage "$stage" &
            side_pids=($!)
            wait "${side_pids[0]}" || failed+=("$stage")
            side_pids=()
        done
    else
        step "flink-matrix and core-matrix side by side (output: tests/output/flink-matrix.log, tests/output/core-matrix.log)"
        for stage in "${stages[@]}"; do
            matrix_stage "$stage" >"$logs/$stage.log" 2>&1 &
            # shellcheck disable=SC2031
            side_pids+=($!)
        done
        for i in "${!stages[@]}"; do
            rc=0
            wait "${side_pids[$i]}" || rc=$?
            [ "$rc" -eq 0 ] || failed+=("${stages[$i]}")
        done
        side_pids=()
        for stage in "${stages[@]}"; do
            step "$stage (tests/output/$stage.log)"
            cat "$logs/$stage.log"
        done
    fi
    for stage in "${stages[@]}"; do
        if [ -f "$logs/$stage.timings" ]; then
            while IFS= read -r line; do subtimings+=("$line"); done <"$logs/$stage.timings"
        else
            subtimings+=("$(printf '%-12s (no timings: it stopped early)' "$stage")")
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        printf 'failed: %s\n' "$(printf '%s, ' "${failed[@]}" | sed 's/, $//')" >&2
        return 1
    fi
}

# Each stage prints how long it took, and the end repeats them all (with the parts a stage timed
# in subtimings: core-matrix's per ansible-core, the Flink matrix's per version, the matrices' per stage),
# also when a stage fails. A stage that runs side by side writes its timings to $timings_out.
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

timings_out=
on_exit() {
    local rc=$? pid
    core_bed_down
    # Stages still running side by side when this shell ends early stop too (their own exit handlers take
    # their beds down).
    for pid in ${side_pids[@]+"${side_pids[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] && [ -n "$current" ]; then
        timings+=("$(printf '%-12s %4ds FAILED' "$current" $((SECONDS - current_start)))" \
            ${subtimings[@]+"${subtimings[@]}"})
        step "$current failed"
        printf '  %s\n' "${timings[@]}"
    fi
    if [ -n "$timings_out" ]; then
        printf '%s\n' ${timings[@]+"${timings[@]}"} >"$timings_out"
    fi
}
trap on_exit EXIT

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
for t in "${targets[@]}"; do
    case "$t" in
        all) for stage in changelog unit sanity lint docs packaging integration matrices; do
                 timed "$stage"
             done ;;
        changelog|unit|sanity|lint|docs|packaging|integration|flink-matrix|core-matrix|matrices) timed "$t" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
done
step "all requested checks passed"
printf '  %s\n' "${timings[@]}"

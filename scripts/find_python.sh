# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/ansible_core_matrix.sh.
#
# find_python X.Y [CANDIDATE...]: print a working pythonX.Y and return 0, else return 1. The candidates given come
# first (for example "$PYTHON312", a user's choice; empty ones are skipped), then pyenv's
# (~/.pyenv/versions/X.Y*), then one on PATH.
find_python() {
    local version="$1" candidate
    shift
    for candidate in "$@" "$HOME"/.pyenv/versions/"$version"*/bin/python"$version" \
            "$(command -v python"$version" 2>/dev/null || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -V >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

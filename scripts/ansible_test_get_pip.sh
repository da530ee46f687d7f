#!/usr/bin/env bash
# The ansible-test pip stand-ins for one ansible-core: ansible-test bootstraps pip in each of its
# --venv venvs with a get-pip script it downloads from a host this machine cannot reach, and first
# looks for it in ~/.ansible/test/cache/get_pip_<pip version, dots as _>.py. Each ansible-core
# names its own pip versions (ansible_test/_internal/python_requirements.py, get_venv_packages:
# a default and per-Python overrides; ansible_test/_util/target/setup/requirements.py, bootstrap,
# reads the cache file), so this writes a stand-in for every pip version the ansible-test of the
# given Python names. The stand-in uses ensurepip, then the machine's own pip configuration.
# Usage: scripts/ansible_test_get_pip.sh PYTHON (a Python with ansible-core installed)
set -euo pipefail

python="${1:?usage: $0 PYTHON}"
log() { printf '[get-pip] %s\n' "$*" >&2; }

pip_versions="$("$python" - <<'EOF'
import os
import re

import ansible_test

base = os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")
loader = os.path.join(os.path.dirname(ansible_test.__file__), "_util", "target", "setup", "requirements.py")
with open(loader) as f:
    # The cache file name the bootstrap reads; a release that reads another one needs this script changed.
    assert "~/.ansible/test/cache/get_pip_%s.py" in f.read(), "%s reads another get-pip cache file" % loader
with open(base) as f:
    versions = sorted(set(re.findall(r"pip='([0-9.]+)'", f.read())))
assert versions, "no pip version named in %s" % base
print("\n".join(v.replace(".", "_") for v in versions))
EOF
)"

for ver in $pip_versions; do
    get_pip="$HOME/.ansible/test/cache/get_pip_${ver}.py"
    [ -f "$get_pip" ] && continue
    log "writing ansible-test pip stand-in $get_pip"
    mkdir -p "$(dirname "$get_pip")"
    cat >"$get_pip.tmp" <<'EOF'
"""Stand-in for get-pip.py: ensurepip, then pip with the machine's config."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip sets these in-process; they would hide the machine's pip config.
os.environ.pop("PIP_CONFIG_FILE", None)
os.environ.pop("ENSUREPIP_OPTIONS", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
EOF
    mv "$get_pip.tmp" "$get_pip"
done

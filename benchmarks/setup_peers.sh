#!/usr/bin/env bash
# Create the virtual environment that holds the peer libraries the benchmarks compare
# against (MiniGrid). It is separate from the main environment because minigrid needs
# pygame-ce, which clashes with the pygame palaestra uses.
#
# Usage: benchmarks/setup_peers.sh [VENV_DIR]     (default: .venv-bench at the repo root)
#   PYTHON=python3.11 benchmarks/setup_peers.sh   base interpreter (default: python3)
#
# The venv is built from the same base interpreter as the main environment and pins
# gymnasium and numpy to that interpreter's versions, so the peer runs the same wrapper
# and array code and only the environment differs. Running it again is a no-op when the
# venv already matches. The last line printed is the venv's python.
set -euo pipefail

MINIGRID_VERSION="3.2.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.venv-bench}"
base_python="${PYTHON:-python3}"

if ! command -v "$base_python" >/dev/null 2>&1; then
    echo "setup_peers.sh: base interpreter '$base_python' not found (set PYTHON=...)" >&2
    exit 2
fi

# Versions of the base interpreter's gymnasium and numpy ("" when it has none).
base_version() {
    "$base_python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true
}
gymnasium_version="$(base_version gymnasium)"
numpy_version="$(base_version numpy)"
requirements=("minigrid==$MINIGRID_VERSION")
requirements+=("gymnasium${gymnasium_version:+==$gymnasium_version}")
requirements+=("numpy${numpy_version:+==$numpy_version}")

peer_python="$venv/bin/python"

# Up to date when every requirement is installed at the pinned version.
up_to_date() {
    [[ -x "$peer_python" ]] || return 1
    "$peer_python" - "${requirements[@]}" <<'EOF' >/dev/null 2>&1
import importlib.metadata as m
import sys

for req in sys.argv[1:]:
    name, _, version = req.partition("==")
    installed = m.version(name)
    if version and installed != version:
        sys.exit(1)
import minigrid  # noqa: F401  (imports pygame-ce: proves the install works)
EOF
}

if up_to_date; then
    echo "peer venv up to date: $venv (${requirements[*]})" >&2
else
    if [[ ! -x "$peer_python" ]]; then
        echo "creating $venv with $("$base_python" --version 2>&1)" >&2
        "$base_python" -m venv "$venv"
    fi
    echo "installing ${requirements[*]}" >&2
    "$peer_python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    if ! up_to_date; then
        echo "setup_peers.sh: install finished but minigrid does not import from $venv" >&2
        exit 1
    fi
fi

"$peer_python" -c "import sys; print(sys.executable)"

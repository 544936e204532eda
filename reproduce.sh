#!/usr/bin/env bash
# The DataDAM reproducibility kit's one entry point.
#
#   ./reproduce.sh quickstart      DataDAM vs Random on digits (IPC 1 and 10), a few minutes on a CPU
#   ./reproduce.sh test            the whole test suite (what CI runs)
#   ./reproduce.sh setup           create .venv with the pinned dependencies (done automatically)
#   ./reproduce.sh help
#
# With no virtual environment active, the first call creates .venv and installs
# the pins of constraints.txt into it; later calls reuse it (it is refreshed
# when pyproject.toml or constraints.txt change). With one active (venv or a
# conda env other than base), that environment is used as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$PWD

python_for_venv() {
    for p in python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1; then echo "$p"; return; fi
    done
    echo "error: no python3 found; install Python 3.11" >&2
    exit 2
}

ensure_env() {
    if [[ -n "${VIRTUAL_ENV:-}" ]] || [[ -n "${CONDA_PREFIX:-}" && "${CONDA_DEFAULT_ENV:-base}" != "base" ]]; then
        PY=python
        return
    fi
    local stamp
    stamp=$(cat pyproject.toml constraints.txt | sha1sum | cut -c1-16)
    if [[ ! -x .venv/bin/python ]]; then
        echo "creating .venv (once) ..." >&2
        "$(python_for_venv)" -m venv .venv
    fi
    if [[ "$(cat .venv/.datadam-stamp 2>/dev/null)" != "$stamp" ]]; then
        echo "installing pinned dependencies into .venv (once; a few minutes) ..." >&2
        .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]" \
            2> >(grep -v "^WARNING: Location" >&2)
        echo "$stamp" > .venv/.datadam-stamp
    fi
    PY=$ROOT/.venv/bin/python
}

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

verb=${1:-help}
[[ $# -gt 0 ]] && shift
case "$verb" in
    help|-h|--help) usage ;;
    setup) ensure_env; "$PY" -c "import datadam_lib, torch; print('datadam_lib', datadam_lib.__version__, 'torch', torch.__version__)" ;;
    test)
        ensure_env
        export DATADAM_SCALE=smoke PYTHONHASHSEED=0 MPLBACKEND=Agg
        "$PY" -m pytest -q "$@" tests ;;
    quickstart)
        ensure_env
        "$PY" -m datadam_lib quickstart --dataset digits --scale quick "$@" ;;
    *) echo "error: unknown verb '$verb'" >&2; usage >&2; exit 2 ;;
esac

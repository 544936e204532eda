#!/usr/bin/env bash
# The DataDAM reproducibility kit's one entry point.
#
#   ./reproduce.sh list            every paper artefact (target): what it reproduces, its notebook,
#                                  whether it is implemented, whether its data is here, rough cost
#   ./reproduce.sh TARGET [--scale smoke|quick|paper] [--dataset NAME] [--preset paper|table2|released] [--force]
#                                  run a target's notebook (quickstart, fig1, ...) with papermill:
#                                  out/figures/SCALE/TARGET.png/.pdf, out/results/SCALE/TARGET.{ipynb,csv,md}, manifests
#                                  (also --executor inline|local|slurm, --executor-config FILE, --root DATA,
#                                  --seeds N.., --verbose; distilled sets are cached, --force recomputes)
#                                  --publish: write into the committed figures/ and results/ instead of out/
#                                  (to refresh the kit's own outputs; $DATADAM_OUT=DIR writes under DIR)
#                                  --param NAME=VALUE changes one of the target's parameters, e.g. --param powers=[1,4]
#   ./reproduce.sh params TARGET [--scale S]   the target's parameters at that scale and what each means
#   ./reproduce.sh all [--scale smoke] [--dataset digits]   every implemented target
#   ./reproduce.sh quickstart      DataDAM explained on digits: attention maps, learned images, vs Random
#   ./reproduce.sh lab             JupyterLab on the kit (notebooks/, figures/, results/) with its kernel
#                                  (installs jupyterlab and jupytext once; --allow-root added when run as root)
#   ./reproduce.sh test            the whole test suite: unit tests + every notebook at smoke scale (CI)
#   ./reproduce.sh site [--check]  a static HTML site of the committed outputs in site/ (open site/index.html);
#                                  --check opens every page in headless Chromium (every image shows, no broken
#                                  link) and writes screenshots (apt-get install chromium; pip extra [site])
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

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# Register the environment's python as the Jupyter kernel "python3" (papermill,
# nbval and JupyterLab use it).
ensure_kernel() {
    "$PY" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (datadam kit)" >/dev/null 2>&1 \
        || echo "warning: could not register the python3 kernel; notebooks use the default one" >&2
}

verb=${1:-help}
[[ $# -gt 0 ]] && shift
# --publish (any position): outputs go into the kit's committed figures/ and results/ (kit/paths.py)
args=()
for a in "$@"; do
    if [[ "$a" == --publish ]]; then
        if [[ -n "${DATADAM_OUT:-}" ]]; then
            echo "error: --publish writes into the kit's figures/ and results/, but DATADAM_OUT=$DATADAM_OUT says elsewhere: drop one of them" >&2
            exit 2
        fi
        export DATADAM_PUBLISH=1
    else
        args+=("$a")
    fi
done
set -- ${args[@]+"${args[@]}"}
case "$verb" in
    help|-h|--help) usage ;;
    setup) ensure_env; "$PY" -c "import datadam_lib, torch; print('datadam_lib', datadam_lib.__version__, 'torch', torch.__version__)" ;;
    test)
        ensure_env
        ensure_kernel
        export DATADAM_SCALE=smoke PYTHONHASHSEED=0 MPLBACKEND=Agg
        rc=0
        "$PY" -m pytest -q "$@" tests || rc=$?
        # every notebook at smoke scale on digits, outputs in a temporary directory (notebooks/conftest.py)
        DATADAM_DATASET=digits "$PY" -m pytest -q --nbval-lax --nbval-current-env notebooks/ || rc=$((rc ? rc : $?))
        exit "$rc" ;;
    list)
        ensure_env
        "$PY" -m datadam_lib.runner list "$@" ;;
    params)
        ensure_env
        "$PY" -m datadam_lib.runner params "$@" ;;
    all)
        ensure_env
        ensure_kernel
        "$PY" -m datadam_lib.runner all "$@" ;;
    site)
        ensure_env
        if ! "$PY" -c "import nbconvert" >/dev/null 2>&1; then
            echo "installing nbconvert into the environment (once) ..." >&2
            "$PY" -m pip install -q --disable-pip-version-check -c constraints.txt nbconvert \
                2> >(grep -v "^WARNING: Location" >&2)
        fi
        if [[ " $* " == *" --check "* ]] && ! "$PY" -c "import playwright" >/dev/null 2>&1; then
            echo "installing playwright (the python driver only; the browser is Debian's chromium) ..." >&2
            "$PY" -m pip install -q --disable-pip-version-check -c constraints.txt playwright \
                2> >(grep -v "^WARNING: Location" >&2)
        fi
        "$PY" -m datadam_lib.site "$@" ;;
    lab)
        ensure_env
        if ! "$PY" -c "import jupyterlab, jupytext" >/dev/null 2>&1; then
            echo "installing jupyterlab and jupytext into the environment (once) ..." >&2
            "$PY" -m pip install -q --disable-pip-version-check -c constraints.txt jupyterlab jupytext \
                2> >(grep -v "^WARNING: Location" >&2)
        fi
        ensure_kernel
        extra=()
        [[ $(id -u) -eq 0 ]] && extra+=(--allow-root)   # Docker and cloud VMs run as root
        # the kit's root: notebooks/ to run, figures/ and results/<scale>/ (executed notebooks) to browse
        exec "$PY" -m jupyterlab --notebook-dir="$ROOT" "${extra[@]}" "$@" ;;
    -*) echo "error: unknown option '$verb'" >&2; usage >&2; exit 2 ;;
    *)  # a target: quickstart, fig1, ... (python -m datadam_lib.runner list says which exist)
        ensure_env
        ensure_kernel
        "$PY" -m datadam_lib.runner run "$verb" "$@" ;;
esac

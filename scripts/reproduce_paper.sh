#!/usr/bin/env bash
# Reproduce the paper: every config of experiments/paper/ into results/<table>, then the
# reports (results/<table>/report: Markdown, CSV, LaTeX, PNG) and the figures.
# Resumable: run it again after an interruption and only the missing runs are done.
# Needs the benchmark files: DTC_DATA=/path/to/data (see `dtc datasets`).
# Usage: scripts/reproduce_paper.sh [JOBS]   (JOBS parallel processes, default 2)
set -euo pipefail
case "${1:-}" in
  -h | --help)
    cat <<'EOF'
usage: scripts/reproduce_paper.sh [JOBS]

Reproduce the paper: run every config of experiments/paper/ (table1, table2, table3) into
results/<table>, write their reports (results/<table>/report: Markdown, CSV, LaTeX, PNG)
and the figures (results/figures). Resumable: run it again after an interruption and only
the missing runs are done.

  JOBS      parallel processes of `dtc run` (default 2)

Environment:
  DTC_DATA  the benchmark data directory (required; see `dtc datasets`)
  DTC       the dtc command (default .venv/bin/dtc)
  PYTHON    the Python of scripts/figures.py (default .venv/bin/python)
EOF
    exit 0
    ;;
esac
# Relative paths are read from where the script was started, as dtc reads them (the README's
# DTC_DATA=../shared/data named another folder once the script had moved to the repository
# root). A quoted ~ in DTC_DATA is left to dtc, which expands ~ and ~user as a shell would; in
# DTC and PYTHON, which this script runs itself, a leading ~/ is the home folder (bash expands
# none in a value). DTC and PYTHON without a slash are commands on PATH.
for var in DTC_DATA DTC PYTHON; do
  value="${!var:-}"
  if [[ "$var" != DTC_DATA && "$value" == "~/"* && -n "${HOME:-}" ]]; then
    export "$var=$HOME/${value#"~/"}"
  elif [[ -n "$value" && "$value" != /* && "$value" != "~"* ]] \
    && [[ "$var" == DTC_DATA || "$value" == */* ]]; then
    export "$var=$PWD/$value"
  fi
done
cd "$(dirname "$0")/.."
jobs="${1:-2}"
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || [ $# -gt 1 ]; then
  # before any run: `dtc run --jobs abc` failed in a boxed error, --jobs 0 was taken
  echo "scripts/reproduce_paper.sh: JOBS: expected one number of parallel processes >= 1, got '$*'" >&2
  exit 2
fi
dtc="${DTC:-.venv/bin/dtc}"
py="${PYTHON:-.venv/bin/python}"
if [ -z "${DTC_DATA:-}" ]; then
  echo "scripts/reproduce_paper.sh: set DTC_DATA to the benchmark data directory (see \`dtc datasets\`)" >&2
  exit 2
fi
for tool in "$dtc" "$py"; do
  if ! command -v "$tool" > /dev/null; then
    echo "scripts/reproduce_paper.sh: $tool not found: run \`make venv\` first, or set DTC and PYTHON" >&2
    exit 2
  fi
done
stamp=$(mktemp)
trap 'rm -f "$stamp"' EXIT
failed=()
for table in table1 table2 table3; do
  # A failed run (exit 1) does not stop the others: its table is reported (the cell marked
  # n=k/m), the next tables run, and the script exits 1 at the end. An interrupt (130) or
  # a usage error (2) stops here.
  status=0
  errors="results/${table}/errors.jsonl"
  touch "$stamp"
  "$dtc" run "experiments/paper/${table}.yaml" --out "results/${table}" --jobs "$jobs" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    exit "$status"
  fi
  # errors.jsonl written by this run (newer than the stamp: a run takes longer than a file
  # time's tick): it recorded failed runs. (Its line count missed a retried failure: dtc
  # keeps the last failure of each unfinished run, so a run failing again left the count as
  # it was, and a rerun read as a refusal and stopped here.)
  if [ "$status" -eq 1 ] && ! { [ -f "$errors" ] && [ "$errors" -nt "$stamp" ]; }; then
    # exit 1 with no failed run recorded: the config was refused before any run (a data
    # file not found under DTC_DATA, say); the next tables and the figures would be too
    echo "scripts/reproduce_paper.sh: dtc run refused experiments/paper/${table}.yaml before" \
      "running anything (its error is above)" >&2
    exit 1
  fi
  [ "$status" -eq 0 ] || failed+=("$table")
  # --config: the tables hold the config's current runs only, not those of rows or seeds an
  # earlier version of it had (a sweep keeps them in results.jsonl). After failed runs, a
  # report that fails too (every run failed: no results file) does not stop the script.
  "$dtc" report "results/${table}/results.jsonl" --out "results/${table}/report" \
    --config "experiments/paper/${table}.yaml" > /dev/null || [ "$status" -eq 1 ]
done
status=0
"$py" scripts/figures.py --out results/figures || status=$?
if [ "$status" -eq 130 ] || [ "$status" -eq 143 ]; then
  # figures.py's own line says its two fits were not kept: the tables' runs are
  echo "scripts/reproduce_paper.sh: interrupted in the figures; the tables' runs are kept in" \
    "results/table{1,2,3}: run the script again to resume (they are not run again)" >&2
fi
[ "$status" -eq 0 ] || exit "$status"
echo "reports in results/table{1,2,3}/report, figures in results/figures" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  echo "scripts/reproduce_paper.sh: runs failed in ${failed[*]} (see results/<table>/errors.jsonl);" \
    "run the script again to retry them" >&2
  exit 1
fi

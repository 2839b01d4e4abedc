#!/usr/bin/env bash
# The check step of the capq-check action (action.yml), a file of its own so
# that .ci/run runs it too. Inputs come from the environment: IMPL (required),
# LEVEL, PROBES, SEED, TIMEOUT; capq must be on PATH. It writes the report
# card as Markdown, JSON and JUnit XML under $RUNNER_TEMP/capq-conformance/, appends
# the Markdown to $GITHUB_STEP_SUMMARY, sets the outputs report, json and
# passed in $GITHUB_OUTPUT, and exits with capq check's status (1: a
# requirement of the claimed level failed; 2: bad inputs).
set -uo pipefail
: "${IMPL:?IMPL, the command of the implementation, is required}"
out="$RUNNER_TEMP/capq-conformance"
mkdir -p "$out/scratch"
args=(check --impl "$IMPL" --seed "${SEED:-0}" --timeout "${TIMEOUT:-30s}" --json --report "$out/report.md" --junit "$out/junit.xml")
if [ -n "${LEVEL:-}" ]; then args+=(--level "$LEVEL"); fi
if [ -n "${PROBES:-}" ]; then args+=(--probe "$PROBES"); fi
rc=0
# The scratch directories and failure transcripts go under $out, so that the
# action's upload finds them.
TMPDIR="$out/scratch" capq "${args[@]}" >"$out/report.json" || rc=$?
{
  echo "report=$out/report.md"
  echo "json=$out/report.json"
  echo "junit=$out/junit.xml"
  if [ "$rc" -eq 0 ]; then echo "passed=true"; else echo "passed=false"; fi
} >>"$GITHUB_OUTPUT"
if [ -s "$out/report.md" ]; then
  cat "$out/report.md" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$rc"

#!/usr/bin/env bash
# The check step of the capq-check action (action.yml), a file of its own so
# that .ci/run and capq's tests run it too. Inputs come from the environment:
# IMPL (required), LEVEL, PROBES, SEED, TIMEOUT (the longest wait for one
# reply) and DEADLINE (the longest the whole check may take, default 15m: an
# implementation that answers hello and then hangs costs TIMEOUT per probe,
# far beyond a CI job's limit otherwise); capq must be on PATH.
#
# It writes the report card as Markdown, JSON and JUnit XML under
# $RUNNER_TEMP/capq-conformance/, appends the Markdown to
# $GITHUB_STEP_SUMMARY, and sets the outputs report, json, junit and passed
# in $GITHUB_OUTPUT. Every run removes the files of an earlier one first, and
# always leaves a report.md and a junit.xml that say what happened, even when
# capq could not run, so the outputs never name a missing or stale file.
#
# Exit status: 0 passed; 1 a requirement of the claimed level failed, or the
# implementation did not start or answer; 2 bad inputs, or capq is missing
# or failed as a tool; 3 DEADLINE ran out (the reports say interrupted).
set -uo pipefail
out="$RUNNER_TEMP/capq-conformance"
rm -rf "$out"
mkdir -p "$out/scratch"
: >"$out/report.json"

# fallback writes report.md and junit.xml for a run that produced none.
fallback() { # status message
  local msg="$2" xml
  if [ ! -s "$out/report.md" ]; then
    printf '### capq check --impl: ERROR (exit %s)\n\n%s\n' "$1" "$msg" >"$out/report.md"
    if [ -s "$out/stderr.log" ]; then
      fence='```'
      printf '\n%s\n%s\n%s\n' "$fence" "$(tail -n 20 "$out/stderr.log")" "$fence" >>"$out/report.md"
    fi
  fi
  if [ ! -s "$out/junit.xml" ]; then
    # XML-escape the message; control characters are dropped.
    xml=$(printf '%s' "$msg" | tr -d '\000-\010\013\014\016-\037' | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')
    cat >"$out/junit.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="capq check --impl" tests="1" failures="0" errors="1" skipped="0">
  <testsuite name="capq check --impl" tests="1" failures="0" errors="1" skipped="0">
    <testcase classname="capq check --impl" name="setup"><error message="$xml"></error></testcase>
  </testsuite>
</testsuites>
XML
  fi
}

rc=0
msg=""
if [ -z "${IMPL:-}" ]; then
  rc=2 msg="IMPL, the command of the implementation, is required"
elif ! command -v capq >/dev/null 2>&1; then
  rc=2 msg="capq is not on PATH (the action's build step failed?)"
elif ! command -v timeout >/dev/null 2>&1; then
  rc=2 msg="timeout(1) is not installed: it enforces DEADLINE"
else
  args=(check --impl "$IMPL" --seed "${SEED:-0}" --timeout "${TIMEOUT:-30s}" --json --quiet
    --report "$out/report.md" --junit "$out/junit.xml")
  if [ -n "${LEVEL:-}" ]; then args+=(--level "$LEVEL"); fi
  if [ -n "${PROBES:-}" ]; then args+=(--probe "$PROBES"); fi
  # The scratch directories and failure transcripts go under $out, so that
  # the action's upload finds them. SIGTERM at the deadline makes capq stop
  # and write its reports, marked interrupted; SIGKILL 30s later if not.
  TMPDIR="$out/scratch" timeout --signal=TERM --kill-after=30s "${DEADLINE:-15m}" \
    capq "${args[@]}" >"$out/report.json" 2>"$out/stderr.log" || rc=$?
  cat "$out/stderr.log" >&2
  case "$rc" in
  0 | 1 | 2) ;;
  124 | 137) rc=3 msg="the check ran out of its DEADLINE (${DEADLINE:-15m}) and was stopped: incomplete, not a pass" ;;
  *) msg="capq exited with status $rc" rc=2 ;;
  esac
  if [ "$rc" -ne 0 ] && [ -z "$msg" ]; then
    msg="capq check exited with status $rc"
  fi
fi
if [ "$rc" -ne 0 ]; then
  echo "capq-check: $msg" >&2
  fallback "$rc" "$msg"
  if [ "$rc" -eq 3 ]; then
    printf '\n**DEADLINE**: %s.\n' "$msg" >>"$out/report.md"
  fi
fi
{
  echo "report=$out/report.md"
  echo "json=$out/report.json"
  echo "junit=$out/junit.xml"
  if [ "$rc" -eq 0 ]; then echo "passed=true"; else echo "passed=false"; fi
} >>"$GITHUB_OUTPUT"
cat "$out/report.md" >>"$GITHUB_STEP_SUMMARY"
exit "$rc"

# shellcheck shell=bash
# Helpers shared by .ci/run and scripts/ci/node24.sh (sourced, not executed).
#
# - loud section headers with timing, so a CI log can be skimmed;
# - run_vitest: `npm test` with a JSON report next to the normal output, so the
#   final summary line can give real test counts instead of "exit code 0".

# 75s -> "1m15s"
ci_fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# A header that stands out in a long log: the title, the wall clock and the
# time since the CI run started (CI_T0, epoch seconds, is exported by .ci/run).
ci_banner() {
  local now
  now=$(date +%s)
  local since=$((now - ${CI_T0:-$now}))
  echo
  echo "=============================================================================="
  echo "== $*"
  echo "==   $(date '+%H:%M:%S'), +$(ci_fmt_secs "$since") since CI start"
  echo "=============================================================================="
}

# A smaller header for the sub-steps of one step.
ci_sub() { echo "--- $* ($(date '+%H:%M:%S'))"; }

ci_die() {
  echo "!! $*" >&2
  return 1
}

# ci_run_child CMD...: runs CMD in the background and waits for it. Bash runs a
# trap only once the foreground command is over; with `wait`, a signal to the
# script is handled at once, and the INT/TERM traps pass it on to CMD with
# ci_kill_child. Returns CMD's exit status.
CI_CHILD_PID=""
ci_run_child() {
  "$@" &
  CI_CHILD_PID=$!
  local rc=0
  wait "$CI_CHILD_PID" || rc=$?
  CI_CHILD_PID=""
  return "$rc"
}

ci_kill_child() {
  if [[ -n ${CI_CHILD_PID:-} ]]; then kill -TERM "$CI_CHILD_PID" 2>/dev/null || true; fi
}

# run_vitest LABEL: runs `npm test` in the current directory (vitest run), with
# the default reporter on the terminal and a JSON report in
# $CI_REPORT_DIR/LABEL.json that the final summary adds up. The caller sets or
# unsets KEYWARD_TEST_DATABASE_URL. Fails when vitest fails or times out
# (KEYWARD_CI_TEST_TIMEOUT seconds, default 30 minutes).
run_vitest() {
  local label=$1
  local report=${CI_REPORT_DIR:-/tmp}/$label.json
  rm -f "$report"
  # A cap far above the suite's normal time, so that a hung run fails with a
  # summary instead of eating CI's whole 90 minutes. timeout signals its whole
  # process group (npm, vitest and its workers): npm alone does not pass a
  # SIGTERM on to vitest.
  local limit=${KEYWARD_CI_TEST_TIMEOUT:-1800} rc=0
  ci_run_child timeout -k 30 "$limit" \
    npm test -- --reporter=default --reporter=json --outputFile.json="$report" || rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "!! $label: npm test did not finish within ${limit}s and was stopped" >&2
  fi
  ci_count_line "$label" "$report"
  return "$rc"
}

# Prints "LABEL -> N passed, N failed, N skipped" from a vitest JSON report (an
# arrow, not a colon: only the final summary line should read as the closing line).
ci_count_line() {
  [[ -f $2 ]] || return 0
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
    const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
    console.log(`${process.argv[1]} -> ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  ' "$1" "$2"
}

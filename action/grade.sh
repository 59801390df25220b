#!/usr/bin/env bash
# Step 2 of action.yml: grades the receiver. Inputs come as INPUT_* variables (url,
# secret, start, strict, probe, scheme, junit); the Markdown summary is appended to
# $GITHUB_STEP_SUMMARY, the JUnit report written to $INPUT_JUNIT, and `result` and
# `junit` set in $GITHUB_OUTPUT. Exit status: grade's (0 passed, 1 a case failed, 2 could
# not run).
set -uo pipefail
harness=${MENON_HARNESS:-menon-harness}
junit=${INPUT_JUNIT:-menon-grade.xml}
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT

args=(grade --scheme "${INPUT_SCHEME:-menon}" --junit "$junit" --markdown "$summary")
if [[ ${INPUT_STRICT:-false} == true ]]; then
    args+=(--strict)
fi
if [[ -n ${INPUT_PROBE:-} ]]; then
    args+=(--probe "$INPUT_PROBE")
fi
if [[ -n ${INPUT_SECRET:-} ]]; then
    # Given to grade through its environment, not its command line (no secret in `ps`).
    export MENON_WEBHOOK_SECRET=$INPUT_SECRET
fi
args+=(--url "${INPUT_URL:-/webhooks/menon}")
if [[ -n ${INPUT_START:-} ]]; then
    args+=(-- bash -c "$INPUT_START")
elif [[ -z ${INPUT_SECRET:-} ]]; then
    echo "::error::give the action either \`start\` (a command that starts the receiver) or \`secret\` with a full \`url\`" >&2
    exit 2
fi

"$harness" "${args[@]}"
status=$?
if [[ -s $summary ]]; then
    cat "$summary" >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"
fi
if ((status == 0)); then result=passed; else result=failed; fi
{
    echo "result=$result"
    echo "junit=$junit"
} >>"${GITHUB_OUTPUT:-/dev/null}"
if ((status == 1)); then
    echo "::error::the receiver failed menon-harness grade: see the job summary" >&2
fi
exit "$status"

#!/usr/bin/env bash
# The project's test command (`npm test`): install the server packages that
# are missing, build the CLI the integration tests run, type-check everything (tests and benchmarks included), then run vitest.
# Extra arguments go to vitest, e.g. `bash test/run-all.sh test/unit` or
# `bash test/run-all.sh -t mariadb`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "server packages (installed where missing)"
bash test/install-servers.sh

step "build (tsc -p tsconfig.build.json -> dist/)"
npx tsc -p tsconfig.build.json

step "type-check (tsc -p tsconfig.json --noEmit)"
npx tsc -p tsconfig.json --noEmit

step "tests (vitest run $*)"
# The default reporter prints the "Tests  N passed" summary even without a TTY;
# vitest exits non-zero when any test fails, and set -e passes that on.
npx vitest run --reporter=default "$@"

#!/usr/bin/env bash
# The test command (README, CI): install what the tests need, then run them.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

# System packages the tests drive for real: mosquitto (MQTT broker with TLS) and
# chromium (the web UI's browser tests, driven by the playwright package: no browser download).
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: please install: ${need[*]} (tests needing them will be skipped)" >&2
  fi
fi

ruff check actors sim ven_sim tests
# Two pytest processes (pytest-xdist), each given whole test files, so that a module's
# fixtures (a fleet run, a broker) stay in one process: the suite takes about 55 % of the
# time it takes in one. VEN_SIM_TEST_PROCESSES=0 runs it in this process alone.
exec python3 -m pytest -n "${VEN_SIM_TEST_PROCESSES:-2}" --dist loadfile "$@"

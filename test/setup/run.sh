#!/usr/bin/env bash
# Installs what the tests need (Debian packages, built guests), idempotently: runs every
# test/setup/install-*.sh in name order. Each script must be safe to run again and fast when done.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for s in "$here"/install-*.sh; do
  [ -e "$s" ] || continue
  echo "test setup: $(basename "$s")"
  bash "$s"
done

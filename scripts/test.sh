#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what the tests need (Debian
# packages), checks formatting and lints, builds everything, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

"$(dirname "$0")/install-deps.sh" test

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked

#!/usr/bin/env bash
# Builds the Go pgx client suite (test/clients-go, pgx pinned in its go.mod/go.sum, fetched through
# the Go module proxy) into .cache/go-clients. Module and build caches live under .cache. Idempotent;
# .ci/run calls it. Prints the binary's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
export GOMODCACHE="$root/.cache/gomod" GOPATH="$root/.cache/gopath" GOCACHE="$root/.cache/gobuild" GOFLAGS=-mod=readonly
bin="$root/.cache/go-clients"
if [[ ! -x "$bin" || test/clients-go/main.go -nt "$bin" || test/clients-go/go.sum -nt "$bin" ]]; then
  (cd test/clients-go && go build -o "$bin" .)
fi
echo "$bin"

#!/usr/bin/env bash
# The scale tier's servers for `make test`: PostgreSQL at 127.0.0.1:5432 (trust auth, database
# `test`) and Redis at 127.0.0.1:6379, started from the machine's Debian packages when they are
# installed but not running. Exits non-zero, naming what is missing, when either cannot be reached.
set -uo pipefail

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi

status=0
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "make test: PostgreSQL is not answering at 127.0.0.1:5432 (the scale tier's tests need it)" >&2
  status=1
fi
for _ in $(seq 1 10); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "make test: Redis is not answering at 127.0.0.1:6379 (the scale tier's tests need it)" >&2
  status=1
fi
exit $status

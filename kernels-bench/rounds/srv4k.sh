#!/usr/bin/env bash
# The server at batch 1 on 4K prompts only (8 requests, 1 connection): its TPOT against generate's at 4K, to check
# that pipelining the scheduler's decode steps (session 5) left no host gap between them.
set -uo pipefail
SRV_LENS=4096 SRV_LEVELS=1:8 SRV_TIMEOUT=60 bash "$(dirname "$0")/srv.sh"

#!/usr/bin/env bash
# Session 15 (issue 13): pool13.sh's parts with this session's build (the prefill tail now also where a pooled
# prompt's K/V stream to the ranks): batch (a) single, one in-process rank, one worker process; batch (b) single and
# in process; tokens checked against the single device; TTFT and the K/V stream's wait in the JSON.
exec bash "$(dirname "$0")/pool13.sh"

#!/usr/bin/env bash
# Session 24, call 3: issue 13 with this build (attend replies recognised by their bytes, e96b43a; requests prepared during the
# read-back; --pool-device shared): four processes of pool-bench batch (a), each single, pool (own device),
# pool-shared, pool-worker and static-tp2 (issue 19: a layer is two all-reduces), --repeat 2 — as session 23's s23a
# (medians: worker 1.48, in process 0.906, shared 0.482 on a slower machine). Call 2's A/B on this machine: worker median
# 1.254 -> 1.119. Prediction: worker median 1.05-1.25, in process 0.75-0.90, shared 0.33-0.50; tokens the same.
# The runs and the medians are s23a.sh's (four processes of pool-bench batch (a) on this build).
exec bash kernels-bench/rounds/s23a.sh

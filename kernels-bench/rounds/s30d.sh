#!/usr/bin/env bash
# Session 30, issue 13: the pool's figures on the build without robust buffer access (Node's default since session 29;
# no pool run since). Four processes of pool-bench batch (a), as s23a/s24c (session 24, call 3: worker 1.212 / 1.072 /
# 1.099 / 1.308, median 1.156; in process median 0.671; over sessions 22–24's 17 worker processes median 1.26). Without
# robustness the rank's attention and the base's kernels are no slower (decode attention −3 to −5 % at 32K, s26a), and
# the hop's host side is unchanged. Prediction: worker median 1.10–1.25, in process 0.62–0.75, shared 0.25–0.40;
# tokens the same in every run.
exec bash kernels-bench/rounds/s23a.sh

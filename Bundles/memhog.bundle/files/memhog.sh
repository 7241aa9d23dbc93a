#!/bin/sh
# Doubles a string until the memory cgroup's limit stops it: the OOM killer ends
# the workload with SIGKILL, so the expected exit status is 137.
exec awk 'BEGIN { s = "0123456789abcdef"; while (1) { s = s s; printf "%d MiB\n", length(s) / 1048576 } }'

#!/bin/bash
# Runs Bundles/hello.bundle once per mode and shows what the workload saw in each,
# then a side-by-side summary with the time each run took.
set -u
isorun=${1:-.build/release/isorun}
bundle=Bundles/hello.bundle
modes=(bare sandbox vm)
declare -A elapsed status

for mode in "${modes[@]}"; do
    echo "── isorun --mode $mode $bundle"
    start=$(date +%s%N)
    "$isorun" --mode "$mode" "$bundle"
    status[$mode]=$?
    elapsed[$mode]=$(( ($(date +%s%N) - start) / 1000 ))
    echo
done

echo "── summary ('make bench' compares startup with bwrap, runc and plain QEMU)"
printf '%-10s %-8s %s\n' mode status "time (one run, incl. setup and teardown)"
for mode in "${modes[@]}"; do
    printf '%-10s %-8s %d.%03d ms\n' "$mode" "${status[$mode]}" $(( elapsed[$mode] / 1000 )) $(( elapsed[$mode] % 1000 ))
done
for mode in "${modes[@]}"; do [ "${status[$mode]}" = 0 ] || exit 1; done

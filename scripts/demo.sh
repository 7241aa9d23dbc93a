#!/bin/bash
# Runs Bundles/hello.bundle once per mode and shows what the workload saw in each,
# then a side-by-side summary with the time each run took.
set -u
isorun=${1:-.build/release/isorun}
bundle=Bundles/hello.bundle
modes=(bare sandbox vm)
declare -A elapsed status

log=$(mktemp)
trap 'rm -f "$log"' EXIT
accelerator=unknown

for mode in "${modes[@]}"; do
    echo "── isorun --mode $mode $bundle"
    start=$(date +%s%N)
    if [ "$mode" = vm ]; then
        # --debug names the accelerator isorun chose (KVM, or TCG where the CPU has no
        # vmx/svm); the debug lines are kept out of sight, anything else is shown.
        "$isorun" --debug --mode vm "$bundle" 2>"$log"
        status[$mode]=$?
        elapsed[$mode]=$(( ($(date +%s%N) - start) / 1000 ))
        grep -v ' debug isorun: ' "$log" >&2
        accelerator=$(sed -n 's/.* vm: accelerator \([a-z]*\),.*/\1/p' "$log" | head -1)
    else
        "$isorun" --mode "$mode" "$bundle"
        status[$mode]=$?
        elapsed[$mode]=$(( ($(date +%s%N) - start) / 1000 ))
    fi
    echo
done

echo "── summary ('make bench' compares startup with bwrap, runc and plain QEMU)"
printf '%-10s %-8s %s\n' mode status "time (one run, incl. setup and teardown)"
for mode in "${modes[@]}"; do
    note=""
    [ "$mode" = vm ] && note=" (accelerator: ${accelerator:-unknown})"
    printf '%-10s %-8s %d.%03d ms%s\n' "$mode" "${status[$mode]}" $(( elapsed[$mode] / 1000 )) $(( elapsed[$mode] % 1000 )) "$note"
done
for mode in "${modes[@]}"; do [ "${status[$mode]}" = 0 ] || exit 1; done

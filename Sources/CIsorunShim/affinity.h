// Where a helper (the network namespace's process, a waiting container child) should run
// so that it does not take turns with the thread that started it: private to the shim.
#ifndef ISORUN_AFFINITY_H
#define ISORUN_AFFINITY_H

#include <sched.h>

/// The CPUs the caller may run on (`allowed`) and those same CPUs but the one it runs on
/// now (`elsewhere`). Returns 1 when `elsewhere` has any; 0 (both left unspecified) on a
/// single allowed CPU or when the caller's CPU or affinity cannot be read.
static inline int isorun_cpus_elsewhere(cpu_set_t *allowed, cpu_set_t *elsewhere) {
    int here = sched_getcpu();
    if (here < 0 || here >= CPU_SETSIZE || sched_getaffinity(0, sizeof *allowed, allowed) < 0) return 0;
    *elsewhere = *allowed;
    CPU_CLR(here, elsewhere);
    return CPU_COUNT(elsewhere) > 0;
}

#endif

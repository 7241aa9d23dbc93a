// The cgroup job the network namespace's helper carries out for a container's child:
// private to the shim (the plan's side, the step kinds and the limits are in
// isorun_shim.h; the job's bytes are made by IsorunSys' CgroupJob).
//
// A job is one SOCK_SEQPACKET message of steps, each: a kind byte, a count byte, a
// NUL-terminated path, then `count` NUL-terminated values (writes only). The helper
// carries them out in order and answers with one isorun_cgroup_job_reply, carrying the
// opened `tasks` files (SCM_RIGHTS, in step order) when every step succeeded.
#ifndef ISORUN_CGROUP_JOB_H
#define ISORUN_CGROUP_JOB_H

#include "isorun_shim.h"

#include <stdint.h>

struct isorun_cgroup_job_reply {
    /// The step that failed (from 0), or -1.
    int32_t failed_step;
    /// Its errno; 0 when every step succeeded.
    int32_t error;
};

/// In the helper: waits for a job on `sock`, carries it out and answers. Returns at once
/// when isorun closes its end without sending one.
void isorun_cgroup_job_serve(int sock);

/// In the child: the helper's answer and the `tasks` descriptors it passed (close-on-exec).
/// 0, or -errno when no answer came (-EPIPE: the helper ended first).
int isorun_cgroup_job_collect(int sock, struct isorun_cgroup_job_reply *reply, int *fds, int *fd_count);

#endif

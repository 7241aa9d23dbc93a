// The report a container's process leaves when it could not start: sent to its parent
// over the error pipe, or written into the start gate for `start` to read. Its own header
// because isorun-oci (Sources/isorun-oci, built without the shim) reads it too.
#ifndef ISORUN_CHILD_ERROR_H
#define ISORUN_CHILD_ERROR_H

/// The child's first failure: errno (0 when `what` says it all) and the failed step.
struct isorun_child_error {
    int err;
    char what[480];
};

#endif

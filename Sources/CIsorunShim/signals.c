// Signal forwarding for the supervisor: handlers only write the signal number
// to a pipe; the Swift supervisor reads it in its poll loop and decides what to do.
#include "isorun_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int signal_pipe_write_end = -1;

static void forward_to_pipe(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    if (signal_pipe_write_end >= 0) (void)!write(signal_pipe_write_end, &byte, 1);
    errno = saved;
}

int isorun_signal_pipe_install(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
    signal_pipe_write_end = fds[1];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward_to_pipe;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) < 0) {
            int saved = errno;
            close(fds[0]);
            close(fds[1]);
            signal_pipe_write_end = -1;
            return -saved;
        }
    }
    // A parent may have started us with these signals blocked (test runners do).
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int i = 0; i < count; i++) sigaddset(&wanted, signals[i]);
    sigprocmask(SIG_UNBLOCK, &wanted, NULL);
    return fds[0];
}

void isorun_signal_pipe_uninstall(const int *signals, int count) {
    for (int i = 0; i < count; i++) signal(signals[i], SIG_DFL);
    if (signal_pipe_write_end >= 0) close(signal_pipe_write_end);
    signal_pipe_write_end = -1;
}

int isorun_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int isorun_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int isorun_become_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

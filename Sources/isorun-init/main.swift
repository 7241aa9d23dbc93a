// isorun-init: PID 1 of an isorun VM.
//
// It mounts what a workload needs, finds the virtio ports the host attached,
// receives the process to run over the control port, runs it with its stdout and
// stderr on their own ports, forwards signals from the host, reaps every process,
// reports the workload's status and powers the VM off. PID 1 must never exit
// (the kernel would panic), so every failure ends in `GuestInit.fail`, which
// reports and powers off.
//
// Embedded Swift, linked static: no runtime metadata, demangler or conformance tables.
// Under TCG every instruction the guest runs for the first time is translated first,
// so the code isorun-init touches, and its size in the initramfs, are boot time.
import CIsorunInit

GuestInit.run()

#!/bin/sh
exec qemu-system-x86_64 -M pc -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot -serial none -kernel /var/cache/isorun/debian-kernel/boot/vmlinuz-6.1.0-57-cloud-amd64 -initrd /tmp/isorun-vmbench.jFYRW7/stock.cpio -append "console=ttyS0 quiet panic=-1 rdinit=/init"

# isorun: `make demo` and `make test` work on a fresh Debian 12 machine, as root.
SHELL := /bin/bash
APT_PACKAGES := libseccomp-dev libcap-dev busybox-static runc bubblewrap hyperfine python3 python3-pip iproute2 musl-tools uidmap
# VM mode: QEMU alone (without the GUI and firmware packages it recommends), mkfs.erofs for
# large rootfs images, cpio for the VM benchmark's stock-boot reference.
VM_PACKAGES := qemu-system-x86 erofs-utils e2fsprogs cpio
BUNDLES := $(wildcard Bundles/*.bundle)
RELEASE := .build/release/isorun

.PHONY: deps build release bundles kernel qemu demo test conformance bench clean

## Install the system packages isorun builds and runs with (skips what is already there).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@dpkg -s $(VM_PACKAGES) >/dev/null 2>&1 || { echo "installing: $(VM_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(VM_PACKAGES) >/dev/null; }

build: deps
	swift build
	@$(MAKE) --no-print-directory .build/debug/isorun-oci

## isorun-oci, the binary containerd runs (Sources/isorun-oci/main.c): C linked statically
## against musl, whose start-up reads no CPU features (glibc's runs 43 cpuid instructions,
## trapped on a virtualized host), so `start`, `kill` and `delete` cost ~0.2 ms of process instead of ~0.9.
.build/%/isorun-oci: Sources/isorun-oci/main.c Sources/CIsorunShim/include/isorun_child_error.h
	@mkdir -p $(@D)
	musl-gcc -static -O2 -Wall -Wextra -Werror -o $@ $<

## Release build, fully static and not position-independent: no dynamic loader and no
## relocations to apply at start (CPU per command 3.7 -> 1.5 ms; containerd starts isorun
## three times per container). Debian's runc is a non-PIE executable too.
## Generic types get direct metadata accessors and prespecialized metadata instead of
## mangled names the runtime demangles on first use (-0.4 ms per command, 150 interleaved runs).
## isorun-init (Embedded Swift, static by its own linker settings) is a product of its
## own: the global -static-executable would point its compiler at the wrong standard library.
FAST_METADATA := -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
	-Xswiftc -Xfrontend -Xswiftc -prespecialize-generic-metadata
## The functions a start runs, laid out together (scripts/release/order-hot-functions.sh
## lists them): each function gets a section of its own and gold puts the listed ones
## first, in the order they first run. Spread over 15 MB of code they cost a page fault
## and TLB misses each (-0.4 to -1.3 ms per command, 200 interleaved runs).
HOT_TEXT := -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
	-Xlinker --section-ordering-file=$(CURDIR)/scripts/release/hot-functions.order
## Then the binary's page cache is reloaded in 2 MiB folios, so that its code is mapped
## 2 MiB at a time: ~50 fewer page faults per run (206 -> 158 for a bare run of /bin/true;
## scripts/release/cache-in-huge-folios.py).
release: deps
	@# SwiftPM does not know the order file: relink when it changed. (Nor does it rebuild
	@# what it built when the flags above change: remove .build/*/release after editing them.)
	@[ ! scripts/release/hot-functions.order -nt $(RELEASE) ] || rm -f $(RELEASE)
	swift build -c release --static-swift-stdlib -Xswiftc -static-executable $(FAST_METADATA) $(HOT_TEXT) --product isorun
	swift build -c release --product isorun-init
	@$(MAKE) --no-print-directory .build/release/isorun-oci
	@python3 scripts/release/cache-in-huge-folios.py $(RELEASE)

bundles: deps
	@Bundles/build-rootfs.sh $(BUNDLES)

## The VM mode's guest kernel, built once from Guest/kernel and cached (about 4 minutes on 2 cores);
## Debian's stock cloud kernel (slower boots) when that build fails.
kernel:
	@Guest/kernel/build.sh >/dev/null || Guest/kernel/stock-fallback.sh >/dev/null

## The QEMU the VM mode runs: Debian's source of the installed qemu-system-x86, built for
## the microvm machine alone with a few patches (Guest/qemu; about 5 minutes on 2 cores,
## cached). When the build fails, VMs use the system's qemu-system-x86_64 (~30 MiB more each).
qemu:
	@Guest/qemu/build.sh >/dev/null || echo "isorun: the QEMU build failed (see above); VMs will use the system's qemu-system-x86_64"

demo: release bundles kernel qemu
	@scripts/demo.sh $(RELEASE)

test: build release bundles kernel qemu
	swift build --build-tests
	swift test --skip-build
	@$(MAKE) --no-print-directory conformance

## isorun as a drop-in OCI runtime, proved with the tools its users trust: the OCI
## runtime-tools validation suite against isorun and runc side by side (fails when isorun
## passes fewer assertions or fails more), then containerd (ctr and a CRI RuntimeClass
## handler) and podman driving isorun, each with runc as the control.
## The release binary is what containerd and podman would run, so it is what is tested.
conformance: release bundles kernel qemu
	Tests/Conformance/oci-validation.sh --isorun $(RELEASE) --out /tmp/isorun-oci-validation
	Tests/Conformance/containerd.sh $(RELEASE)
	Tests/Conformance/podman.sh $(RELEASE)

bench: release bundles kernel qemu
	@Benchmarks/startup/run.sh
	@Benchmarks/startup/vm.sh

clean:
	rm -rf .build $(addsuffix /rootfs,$(BUNDLES))

# The devices of isorun's QEMU build: the microvm machine (which brings its serial
# port, RTC, interrupt controllers and virtio-mmio transports) and what
# Sources/IsorunVM/QemuCommandLine.swift attaches. Nothing on PCI.
CONFIG_PCI_DEVICES=n
CONFIG_MICROVM=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_VIRTIO_9P=y
CONFIG_VIRTIO_NET=y

#!/usr/bin/env python3
"""Drive containerd's CRI plugin as the kubelet would, for one runtime handler.

    cri_check.py --socket SOCK --handler NAME --image REF --logdir DIR --gen DIR

Runs a pod sandbox with `runtime_handler=NAME` (what a Kubernetes RuntimeClass with
`handler: NAME` asks for; host network, so no CNI is needed), then in it
  c-exit:  sh -c 'echo hello-cri; exit 3'  -> EXITED, exit code 3, "hello-cri" in its CRI log
  c-sleep: sleep 1000                      -> RUNNING, then StopContainer(timeout=1) -> EXITED
and removes both containers and the sandbox. With --vm-probe ADDRESS:PORT (isorun), a second
pod on the pod network (CNI's bridge), with
  c-vmnet: a micro-VM (annotation io.isorun.mode=vm) that fetches /probe from ADDRESS:PORT
           -> EXITED 0, a guest kernel and the probe's text in its CRI log
Prints one PASS/FAIL line per step and, last,
`IDS <sandbox> <container>...` for the caller's leftover checks. Exit status 0 when every step
passed. The gRPC stubs are generated from cri_v1_subset.proto (beside this file) into --gen.
"""
import argparse
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def load_stubs(gen_dir):
    """Compile cri_v1_subset.proto with grpc_tools and import the generated modules."""
    from grpc_tools import protoc
    import grpc_tools
    os.makedirs(gen_dir, exist_ok=True)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{HERE}", f"-I{include}", f"--python_out={gen_dir}",
                      f"--grpc_python_out={gen_dir}", os.path.join(HERE, "cri_v1_subset.proto")])
    if rc != 0:
        sys.exit(f"protoc failed ({rc})")
    sys.path.insert(0, gen_dir)
    import cri_v1_subset_pb2 as pb
    import cri_v1_subset_pb2_grpc as pbg
    return pb, pbg


class Checker:
    def __init__(self, stub, pb, args):
        self.stub, self.pb, self.args = stub, pb, args
        self.failed = 0
        self.ids = []

    def report(self, ok, step, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {step:<12} {detail}", flush=True)
        if not ok:
            self.failed += 1
        return ok

    def call(self, name, request):
        return getattr(self.stub, name)(request, timeout=self.args.timeout)

    def wait_state(self, cid, want, seconds):
        deadline = time.time() + seconds
        while True:
            st = self.call("ContainerStatus", self.pb.ContainerStatusRequest(container_id=cid)).status
            if st.state == want or time.time() > deadline:
                return st
            time.sleep(0.1)

    def run(self):
        pb, a = self.pb, self.args
        v = self.call("Version", pb.VersionRequest(version="v1"))
        print(f"CRI runtime {v.runtime_name} {v.runtime_version}, API {v.runtime_api_version}")

        sandbox_config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"isorun-cri-{a.handler}", uid=str(uuid.uuid4()),
                                           namespace="isorun-conformance", attempt=0),
            log_directory=a.logdir,
            labels={"io.isorun.test": "cri"},
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE))))
        try:
            sid = self.call("RunPodSandbox", pb.RunPodSandboxRequest(
                config=sandbox_config, runtime_handler=a.handler)).pod_sandbox_id
        except Exception as e:  # grpc.RpcError: its details() is the runtime's error
            self.report(False, "sandbox", f"RunPodSandbox: {getattr(e, 'details', lambda: e)()}")
            return
        self.ids.append(sid)
        try:
            st = self.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=sid)).status
            self.report(st.state == pb.SANDBOX_READY and st.runtime_handler == a.handler, "sandbox",
                        f"{sid[:12]} state={pb.PodSandboxState.Name(st.state)} handler={st.runtime_handler}")
            self.exit_container(sid, sandbox_config)
            self.sleep_container(sid, sandbox_config)
        finally:
            for step, rpc, req in (("sandbox-stop", "StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sid)),
                                   ("sandbox-rm", "RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sid))):
                try:
                    self.call(rpc, req)
                    self.report(True, step, rpc)
                except Exception as e:
                    self.report(False, step, f"{rpc}: {getattr(e, 'details', lambda: e)()}")

    def create(self, sid, sandbox_config, name, command, annotations=None):
        pb = self.pb
        cid = self.call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=sid, sandbox_config=sandbox_config,
            config=pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                      image=pb.ImageSpec(image=self.args.image),
                                      command=command, annotations=annotations or {},
                                      log_path=f"{name}.log"))).container_id
        self.ids.append(cid)
        self.call("StartContainer", pb.StartContainerRequest(container_id=cid))
        return cid

    def exit_container(self, sid, sandbox_config):
        pb = self.pb
        try:
            cid = self.create(sid, sandbox_config, "c-exit", ["sh", "-c", "echo hello-cri; exit 3"])
            st = self.wait_state(cid, pb.CONTAINER_EXITED, 30)
            log = os.path.join(self.args.logdir, "c-exit.log")
            text = open(log).read() if os.path.exists(log) else ""
            # CRI log lines: "<RFC3339Nano time> stdout F hello-cri"
            logged = any(l.split(" ", 3)[1:] == ["stdout", "F", "hello-cri"] for l in text.splitlines())
            self.report(st.state == pb.CONTAINER_EXITED and st.exit_code == 3 and logged, "c-exit",
                        f"state={pb.ContainerState.Name(st.state)} exit={st.exit_code} log={text.strip()!r}"
                        + (f" reason={st.reason} message={st.message}" if st.message else ""))
            self.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
        except Exception as e:
            self.report(False, "c-exit", f"{getattr(e, 'details', lambda: e)()}")

    def vm_network_pod(self):
        """A pod on CNI's network whose container is a VM: the guest takes over the pod's eth0."""
        pb, a = self.pb, self.args
        address, port = a.vm_probe.rsplit(":", 1)
        logdir = a.logdir + "-vmnet"
        os.makedirs(logdir, exist_ok=True)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=f"isorun-cri-vmnet-{a.handler}", uid=str(uuid.uuid4()),
                                           namespace="isorun-conformance", attempt=0),
            log_directory=logdir, labels={"io.isorun.test": "cri-vmnet"},
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.POD))))
        try:
            sid = self.call("RunPodSandbox", pb.RunPodSandboxRequest(config=config, runtime_handler=a.handler)).pod_sandbox_id
        except Exception as e:
            self.report(False, "vmnet-pod", f"RunPodSandbox: {getattr(e, 'details', lambda: e)()}")
            return
        self.ids.append(sid)
        try:
            probe = f"uname -r; printf 'GET /probe HTTP/1.0\\r\\n\\r\\n' | nc -w 20 {address} {port} | tail -n 1"
            cid = self.create(sid, config, "c-vmnet", ["sh", "-c", probe], {"io.isorun.mode": "vm"})
            st = self.wait_state(cid, pb.CONTAINER_EXITED, 60)
            log = os.path.join(logdir, "c-vmnet.log")
            lines = [l.split(" ", 3)[3] for l in (open(log).read() if os.path.exists(log) else "").splitlines()
                     if l.split(" ", 3)[1:2] == ["stdout"]]
            ok = (st.state == pb.CONTAINER_EXITED and st.exit_code == 0 and len(lines) == 2
                  and lines[0] != os.uname().release and lines[1] == a.probe_text)
            self.report(ok, "c-vmnet", f"state={pb.ContainerState.Name(st.state)} exit={st.exit_code} stdout={lines!r}"
                        + (f" reason={st.reason} message={st.message}" if st.message else ""))
            self.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
        except Exception as e:
            self.report(False, "c-vmnet", f"{getattr(e, 'details', lambda: e)()}")
        finally:
            for rpc, req in (("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sid)),
                             ("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sid))):
                try:
                    self.call(rpc, req)
                except Exception as e:
                    self.report(False, "vmnet-pod-rm", f"{rpc}: {getattr(e, 'details', lambda: e)()}")

    def sleep_container(self, sid, sandbox_config):
        pb = self.pb
        try:
            cid = self.create(sid, sandbox_config, "c-sleep", ["sleep", "1000"])
            st = self.wait_state(cid, pb.CONTAINER_RUNNING, 10)
            self.report(st.state == pb.CONTAINER_RUNNING, "c-sleep-run", f"state={pb.ContainerState.Name(st.state)}")
            self.call("StopContainer", pb.StopContainerRequest(container_id=cid, timeout=1))
            st = self.wait_state(cid, pb.CONTAINER_EXITED, 10)
            self.report(st.state == pb.CONTAINER_EXITED, "c-sleep-stop",
                        f"state={pb.ContainerState.Name(st.state)} exit={st.exit_code} reason={st.reason}")
            self.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
        except Exception as e:
            self.report(False, "c-sleep", f"{getattr(e, 'details', lambda: e)()}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--socket", required=True)
    p.add_argument("--handler", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--logdir", required=True)
    p.add_argument("--gen", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--vm-probe", help="ADDRESS:PORT of an HTTP server with /probe, for the VM pod")
    p.add_argument("--probe-text", help="what /probe holds")
    a = p.parse_args()
    pb, pbg = load_stubs(a.gen)
    import grpc
    os.makedirs(a.logdir, exist_ok=True)
    with grpc.insecure_channel(f"unix://{a.socket}") as channel:
        c = Checker(pbg.RuntimeServiceStub(channel), pb, a)
        try:
            c.run()
            if a.vm_probe:
                c.vm_network_pod()
        except Exception as e:
            c.report(False, "cri", f"{getattr(e, 'details', lambda: e)()}")
        print("IDS " + " ".join(c.ids))
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Kernel benchmarks: hellodl against ipykernel, on the same machine, in the
same run. Prints figures; asserts nothing.

  start-up      process start -> first kernel_info_reply (median of --starts)
  round trip    execute_request -> execute_reply for a trivial cell
                (p50 and p99 over --rounds, after a warm-up)
  pipelined     --pipelined execute_requests sent at once, then all replies
                collected: executes per second
  idle RSS      VmRSS of the kernel process after start-up (median)

With --startup-only, only the start-up is measured: --starts starts of each
kernel, reported as median, p90 and min.

The client is a minimal raw-ZeroMQ one (no jupyter_client on the hot path),
so that its own overhead is small next to what is measured; it is the same
client for both kernels. See bench/README.md.
"""

import argparse
import hashlib
import hmac
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import zmq
from jupyter_client.connect import write_connection_file

DELIM = b"<IDS|MSG>"
TARGETS = {"startup_ms": 20.0, "p50_ms": 0.3, "rss_mb": 8.0, "better": 10.0}


# --- a minimal client ------------------------------------------------------------

class Client:
    def __init__(self, ctx, info, key):
        self.key = key
        self.session = uuid.uuid4().hex

        def endpoint(port):
            if info["transport"] == "tcp":
                return f"tcp://{info['ip']}:{port}"
            return f"ipc://{info['ip']}-{port}"

        def sock(kind, port):
            s = ctx.socket(kind)
            s.linger = 0
            s.setsockopt(zmq.RECONNECT_IVL, 1)   # find the kernel as soon as it binds
            if kind == zmq.SUB:
                s.setsockopt(zmq.SUBSCRIBE, b"")
                s.setsockopt(zmq.RCVHWM, 0)
            s.connect(endpoint(port))
            return s

        self.shell = sock(zmq.DEALER, info["shell_port"])
        self.control = sock(zmq.DEALER, info["control_port"])
        self.iopub = sock(zmq.SUB, info["iopub_port"])

    def frames(self, msg_type, content):
        msg_id = uuid.uuid4().hex
        hdr = {"msg_id": msg_id, "msg_type": msg_type, "session": self.session,
               "username": "bench", "date": "2024-01-01T00:00:00.000000Z",
               "version": "5.3"}
        parts = [json.dumps(hdr).encode(), b"{}", b"{}", json.dumps(content).encode()]
        mac = hmac.new(self.key, digestmod=hashlib.sha256)
        for p in parts:
            mac.update(p)
        return msg_id, [DELIM, mac.hexdigest().encode()] + parts

    def send(self, sock, msg_type, content=None):
        msg_id, frames = self.frames(msg_type, content or {})
        sock.send_multipart(frames)
        return msg_id

    @staticmethod
    def parent_and_type(frames):
        """(parent msg_id, msg_type, content frame) without verifying."""
        i = frames.index(DELIM)
        parent = json.loads(frames[i + 3]).get("msg_id")
        msg_type = json.loads(frames[i + 2])["msg_type"]
        return parent, msg_type, frames[i + 5]

    def recv_reply(self, sock, msg_id, timeout):
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0 or not sock.poll(max(1, int(left * 1000))):
                raise TimeoutError(f"no reply to {msg_id}")
            parent, _, _ = self.parent_and_type(sock.recv_multipart())
            if parent == msg_id:
                return

    def drain_until_idle(self, msg_id, timeout=10):
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.iopub.poll(100):
                continue
            parent, msg_type, content = self.parent_and_type(self.iopub.recv_multipart())
            if parent == msg_id and msg_type == "status" and b'"idle"' in content:
                return
        raise TimeoutError("no idle on iopub")


# --- kernels ---------------------------------------------------------------------------

class KernelProcess:
    def __init__(self, name, argv_template, env):
        self.name = name
        self.argv_template = argv_template
        self.env = env

    def start(self, ctx, workdir):
        """Start one process; returns (client, process, start-up seconds)."""
        key = uuid.uuid4().hex.encode()
        cf, info = write_connection_file(os.path.join(workdir, f"{uuid.uuid4().hex}.json"),
                                         ip="127.0.0.1", key=key)
        client = Client(ctx, info, key)
        argv = [a.replace("{connection_file}", cf) for a in self.argv_template]
        msg_id, frames = client.frames("kernel_info_request", {})
        client.shell.send_multipart(frames)          # queued until the kernel binds
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client.recv_reply(client.shell, msg_id, timeout=60)
        return client, proc, time.perf_counter() - t0

    @staticmethod
    def stop(client, proc):
        try:
            msg_id = client.send(client.control, "shutdown_request", {"restart": False})
            client.recv_reply(client.control, msg_id, timeout=5)
            proc.wait(timeout=5)
        except (TimeoutError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        for s in (client.shell, client.control, client.iopub):
            s.close(0)


def rss_mb(pid, field="VmRSS"):
    """A memory figure from /proc/PID/status, in MB: VmRSS (everything
    resident, shared library pages included) or RssAnon (the process's own
    heap, stacks and anonymous mappings)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100.0 * (len(s) - 1))))]


def measure_startups(kernel, ctx, workdir, args):
    """Seconds from Popen to the first kernel_info_reply, for --starts starts
    after one uncounted warm-up start; each kernel is shut down at once."""
    KernelProcess.stop(*kernel.start(ctx, workdir)[:2])
    starts = []
    for _ in range(args.starts):
        client, proc, took = kernel.start(ctx, workdir)
        starts.append(took)
        KernelProcess.stop(client, proc)
    return starts


def print_startups(results):
    print(f"{'start-up to kernel_info_reply (ms)':38}{'median':>10}{'p90':>10}{'min':>10}")
    for name, starts in results.items():
        ms = [t * 1e3 for t in starts]
        print(f"{name:38}{statistics.median(ms):>10.1f}{percentile(ms, 90):>10.1f}"
              f"{min(ms):>10.1f}")


def measure(kernel, ctx, workdir, args, cell):
    res = {}
    # Warm-up start (page cache, bytecode, profile directories), not counted.
    KernelProcess.stop(*kernel.start(ctx, workdir)[:2])
    starts, rss, anon = [], [], []
    for _ in range(args.starts):
        client, proc, took = kernel.start(ctx, workdir)
        starts.append(took)
        time.sleep(args.settle)
        rss.append(rss_mb(proc.pid))
        anon.append(rss_mb(proc.pid, "RssAnon"))
        KernelProcess.stop(client, proc)
    print("  start-ups done", file=sys.stderr, flush=True)
    res["startup_ms"] = statistics.median(starts) * 1e3
    res["rss_mb"] = statistics.median(rss)
    res["anon_mb"] = statistics.median(anon)

    client, proc, _ = kernel.start(ctx, workdir)
    try:
        time.sleep(args.settle)
        content = {"code": cell, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        rtts = []
        for i in range(args.warmup + args.rounds):
            msg_id, frames = client.frames("execute_request", content)
            t = time.perf_counter()
            client.shell.send_multipart(frames)
            client.recv_reply(client.shell, msg_id, timeout=30)
            dt = time.perf_counter() - t
            client.drain_until_idle(msg_id)
            if i >= args.warmup:
                rtts.append(dt)
        res["p50_ms"] = percentile(rtts, 50) * 1e3
        res["p99_ms"] = percentile(rtts, 99) * 1e3
        print("  round trips done", file=sys.stderr, flush=True)

        # Pipelined: everything sent first, then every reply collected; IOPub
        # is read as it comes, as a frontend would.
        batch = [client.frames("execute_request", content) for _ in range(args.pipelined)]
        pending = {m for m, _ in batch}
        last = batch[-1][0]
        t = time.perf_counter()
        for _, frames in batch:
            client.shell.send_multipart(frames)
        poller = zmq.Poller()
        poller.register(client.shell, zmq.POLLIN)
        poller.register(client.iopub, zmq.POLLIN)
        deadline = t + 300
        while pending and time.perf_counter() < deadline:
            for sock, _ in poller.poll(1000):
                frames = sock.recv_multipart()
                if sock is client.shell:
                    pending.discard(Client.parent_and_type(frames)[0])
        took = time.perf_counter() - t
        if pending:
            raise TimeoutError(f"{len(pending)} pipelined replies missing")
        res["exec_per_s"] = args.pipelined / took
        try:
            # ipykernel's IOPub drops messages past its high-water mark when a
            # batch floods it; the last idle may be one of them.
            client.drain_until_idle(last, timeout=10)
        except TimeoutError:
            pass
    finally:
        KernelProcess.stop(client, proc)
    return res


# --- finding the kernels --------------------------------------------------------------

def ipykernel_argv(prefix):
    """The 'python3' kernelspec's argv (ipykernel), installed into prefix if
    Jupyter does not know one."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        return KernelSpecManager().get_kernel_spec("python3").argv
    except NoSuchKernel:
        pass
    subprocess.run(["/usr/bin/python3", "-m", "ipykernel", "install", "--prefix", prefix],
                   check=True, capture_output=True)
    with open(os.path.join(prefix, "share", "jupyter", "kernels", "python3",
                           "kernel.json")) as f:
        return json.load(f)["argv"]


def version_of(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hellodl", default="build/kernel/hellodl", help="the hellodl binary")
    ap.add_argument("--starts", type=int, default=10, help="start-ups per kernel (median)")
    ap.add_argument("--startup-only", action="store_true",
                    help="measure start-up only: median, p90 and min of --starts starts")
    ap.add_argument("--rounds", type=int, default=1000, help="timed execute round trips")
    ap.add_argument("--warmup", type=int, default=50, help="untimed round trips first")
    ap.add_argument("--pipelined", type=int, default=2000, help="executes sent at once")
    ap.add_argument("--settle", type=float, default=0.3,
                    help="seconds idle after start-up before RSS is read")
    ap.add_argument("--only", choices=("hellodl", "ipykernel"), help="run one kernel only")
    args = ap.parse_args()
    if args.starts < 1:
        ap.error("--starts must be at least 1")

    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"   # quiet ipykernel's debugger
    hellodl = os.path.abspath(args.hellodl)
    if not os.access(hellodl, os.X_OK):
        sys.exit(f"kernel_bench: no executable at {hellodl} (build first, or pass --hellodl)")
    workdir = tempfile.mkdtemp(prefix="hellodl-bench-")
    env = dict(os.environ, IPYTHONDIR=os.path.join(workdir, "ipython"),
               JUPYTER_RUNTIME_DIR=os.path.join(workdir, "runtime"))
    ctx = zmq.Context()
    try:
        kernels = []
        if args.only != "ipykernel":
            kernels.append(KernelProcess("hellodl", [hellodl, "kernel", "-f",
                                                     "{connection_file}"], env))
        if args.only != "hellodl":
            kernels.append(KernelProcess("ipykernel", ipykernel_argv(workdir), env))
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; "
              f"{version_of([hellodl, '--version'])}; python {sys.version.split()[0]}; "
              f"pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}")
        for k in kernels:
            print(f"{k.name}: {' '.join(k.argv_template)}")
        if args.startup_only:
            print(f"start-ups: {args.starts} per kernel, after one uncounted warm-up "
                  f"start\n", flush=True)
        else:
            print(f"start-ups: {args.starts} (median); round trips: {args.rounds} of '1;'; "
                  f"pipelined: {args.pipelined}\n", flush=True)
        results = {}
        for k in kernels:
            print(f"measuring {k.name} ...", file=sys.stderr, flush=True)
            if args.startup_only:
                results[k.name] = measure_startups(k, ctx, workdir, args)
            else:
                results[k.name] = measure(k, ctx, workdir, args, "1;")
        if args.startup_only:
            print_startups(results)
        else:
            print_table(results)
    finally:
        ctx.term()
        shutil.rmtree(workdir, ignore_errors=True)


def print_table(results):
    rows = [
        ("start-up to kernel_info_reply", "startup_ms", "ms", False, "< 20 ms"),
        ("execute round trip p50", "p50_ms", "ms", False, "< 0.3 ms"),
        ("execute round trip p99", "p99_ms", "ms", False, ""),
        ("executes/s, pipelined", "exec_per_s", "/s", True, ""),
        ("idle RSS", "rss_mb", "MB", False, "< 8 MB"),
        ("  of which anonymous (RssAnon)", "anon_mb", "MB", False, ""),
    ]
    h, p = results.get("hellodl"), results.get("ipykernel")
    print(f"{'':38}{'hellodl':>10}{'ipykernel':>11}{'ratio':>9}   target")
    for label, key, unit, higher_better, target in rows:
        hv = h[key] if h else None
        pv = p[key] if p else None
        fmt = (lambda v: f"{v:.0f}") if key == "exec_per_s" else \
              (lambda v: f"{v:.3f}" if v < 1 else f"{v:.1f}")
        ratio = None
        if hv and pv:
            ratio = hv / pv if higher_better else pv / hv
        verdict = []
        if target and hv is not None:
            limit = {"startup_ms": 20.0, "p50_ms": 0.3, "rss_mb": 8.0}[key]
            verdict.append(f"{target}: {'met' if hv < limit else 'MISSED'}")
        if ratio is not None and key not in ("p99_ms", "anon_mb"):
            verdict.append(f">= 10x: {'met' if ratio >= TARGETS['better'] else 'MISSED'}")
        print(f"{label + ' (' + unit + ')':38}"
              f"{fmt(hv) if hv is not None else '-':>10}"
              f"{fmt(pv) if pv is not None else '-':>11}"
              f"{(f'{ratio:.1f}x') if ratio else '-':>9}   {', '.join(verdict)}")
    print("\nratio: how many times better hellodl is (ipykernel/hellodl for times and "
          "memory, hellodl/ipykernel for executes/s)")


if __name__ == "__main__":
    main()

"""Shared helpers for the hellodl protocol and notebook tests.

The kernel under test is the binary named by $HELLODL_BIN (ctest passes the
one it just built). Its kernelspec is installed into a fresh temporary
prefix, and JUPYTER_PATH, JUPYTER_DATA_DIR and JUPYTER_RUNTIME_DIR point
into that prefix, so the user's real kernelspecs and runtime directory are
never read or written. Everything is removed when the test process exits.

Two ways to run a kernel:
  - through jupyter_client's KernelManager and the installed kernelspec
    (what Jupyter itself does): install_kernelspec() + KERNEL_NAME;
  - directly, with Kernel(): the test writes the connection file and starts
    the process itself, so that it controls the environment, the parent
    process and the exit.

Timeouts are generous where only liveness matters (a loaded 2-core machine
can take seconds to schedule a start-up); the few figures the issue demands
(interrupt within ~1 s, heartbeat within 100 ms, exit within 1 s of
shutdown) are asserted where they are measured.
"""

import atexit
import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

KERNEL_NAME = "hellodl-test"
STARTUP_TIMEOUT = 60      # seconds; start-up on a busy machine
REPLY_TIMEOUT = 30        # seconds; any reply we expect to come
DELIM = b"<IDS|MSG>"

HERE = os.path.dirname(os.path.abspath(__file__))


def source_dir():
    return os.path.abspath(os.environ.get("HELLODL_SOURCE_DIR",
                                          os.path.join(HERE, "..", "..")))


def binary():
    """Absolute path of the hellodl executable under test."""
    path = os.environ.get("HELLODL_BIN")
    if not path:
        path = os.path.join(source_dir(), "build", "kernel", "hellodl")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"hellodl binary not found at {path}; set HELLODL_BIN")
    return path


_prefix = None


def install_kernelspec():
    """Install the kernelspec KERNEL_NAME into a temporary prefix (once per
    process) and point Jupyter's search paths there. Returns the prefix."""
    global _prefix
    if _prefix:
        return _prefix
    tmp = tempfile.mkdtemp(prefix="hellodl-spec-")
    atexit.register(shutil.rmtree, tmp, True)
    r = subprocess.run([binary(), "install", "--prefix", tmp, "--name", KERNEL_NAME],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"hellodl install failed ({r.returncode}): {r.stderr}")
    os.environ["JUPYTER_PATH"] = os.path.join(tmp, "share", "jupyter")
    os.environ["JUPYTER_DATA_DIR"] = os.path.join(tmp, "data")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(tmp, "runtime")
    os.makedirs(os.environ["JUPYTER_RUNTIME_DIR"], exist_ok=True)
    _prefix = tmp
    return tmp


def spec_dir(prefix=None, name=KERNEL_NAME):
    return os.path.join(prefix or install_kernelspec(), "share", "jupyter", "kernels", name)


# --- signing and raw frames ------------------------------------------------

def sign(key, parts):
    """HMAC-SHA256 hex signature of the four JSON frames, as bytes."""
    if not key:
        return b""
    h = hmac.new(key, digestmod=hashlib.sha256)
    for p in parts:
        h.update(p)
    return h.hexdigest().encode()


def header(msg_type, session="test-session"):
    return {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session,
            "username": "test", "date": "2024-01-01T00:00:00.000000Z",
            "version": "5.3"}


def raw_frames(key, msg_type, content=None, hdr=None):
    """A signed message as the frames a DEALER sends (no identities)."""
    hdr = hdr or header(msg_type)
    parts = [json.dumps(hdr).encode(), b"{}", b"{}", json.dumps(content or {}).encode()]
    return hdr["msg_id"], [DELIM, sign(key, parts)] + parts


def parse_frames(frames):
    """(header, parent_header, content) of a received message; no checks."""
    i = frames.index(DELIM)
    return (json.loads(frames[i + 2]), json.loads(frames[i + 3]),
            json.loads(frames[i + 5]))


# --- a kernel process started directly ---------------------------------------

class Kernel:
    """One hellodl process started by the test from its own connection file."""

    def __init__(self, transport="tcp", env=None, key=None, start=True):
        self.dir = tempfile.mkdtemp(prefix="hellodl-kernel-")
        ip = "127.0.0.1" if transport == "tcp" else os.path.join(self.dir, "k")
        self.key = uuid.uuid4().hex.encode() if key is None else key
        self.transport = transport
        self.connection_file, self.info = write_connection_file(
            os.path.join(self.dir, "kernel.json"), ip=ip, key=self.key, transport=transport)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.log_path = os.path.join(self.dir, "kernel.log")
        self.proc = None
        self._sockets = []
        self.ctx = zmq.Context()
        if start:
            self.start()

    @property
    def argv(self):
        return [binary(), "kernel", "-f", self.connection_file]

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def endpoint(self, channel):
        port = self.info[f"{channel}_port"]
        if self.transport == "tcp":
            return f"tcp://{self.info['ip']}:{port}"
        return f"ipc://{self.info['ip']}-{port}"

    def socket(self, sock_type, channel):
        """A raw ZeroMQ socket connected to one of the kernel's channels."""
        s = self.ctx.socket(sock_type)
        s.linger = 0
        if sock_type == zmq.SUB:
            s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(self.endpoint(channel))
        self._sockets.append(s)
        return s

    def session(self):
        return Session(key=self.key, signature_scheme="hmac-sha256")

    def client(self):
        """A started BlockingKernelClient that has seen kernel_info."""
        kc = BlockingKernelClient()
        kc.load_connection_info(self.info)
        kc.session.key = self.key
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        except RuntimeError:
            kc.stop_channels()
            raise AssertionError("kernel did not answer kernel_info:\n" + self.log())
        self._clients = getattr(self, "_clients", []) + [kc]
        return kc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """True if the process exits within `timeout` seconds."""
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def close(self):
        for kc in getattr(self, "_clients", []):
            kc.stop_channels()
        for s in self._sockets:
            s.close(0)
        self.ctx.term()
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- conversations -----------------------------------------------------------

def shell_reply(kc, msg_id, timeout=REPLY_TIMEOUT):
    """The shell reply to msg_id (other replies are dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no shell reply to {msg_id} within {timeout} s")
        try:
            msg = kc.get_shell_msg(timeout=left)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def control_reply(kc, msg_id, timeout=REPLY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no control reply to {msg_id} within {timeout} s")
        try:
            msg = kc.get_control_msg(timeout=left)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def send_control(kc, msg_type, content=None):
    msg = kc.session.msg(msg_type, content or {})
    kc.control_channel.send(msg)
    return msg["header"]["msg_id"]


def send_shell(kc, msg_type, content=None):
    msg = kc.session.msg(msg_type, content or {})
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def iopub_for(kc, msg_id, timeout=REPLY_TIMEOUT):
    """IOPub messages whose parent is msg_id, up to and including its idle."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no idle for {msg_id} within {timeout} s; saw "
                                 f"{[m['msg_type'] for m in got]}")
        try:
            msg = kc.get_iopub_msg(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        got.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return got


def wait_iopub(kc, msg_id, msg_type, timeout=REPLY_TIMEOUT):
    """Wait for one IOPub message of msg_type from request msg_id; returns it
    and keeps nothing else (use it to know that a cell has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=0.5)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == msg_type:
            return msg
    raise AssertionError(f"no {msg_type} for {msg_id} within {timeout} s")


def quiet_for(kc, msg_id, seconds):
    """IOPub messages from msg_id that arrive within `seconds` (expected: none)."""
    got = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except queue.Empty:
            return got
        if msg["parent_header"].get("msg_id") == msg_id:
            got.append(msg)


def drain(kc):
    """Drop whatever is queued on shell, iopub and stdin."""
    for get in (kc.get_shell_msg, kc.get_iopub_msg, kc.get_stdin_msg):
        while True:
            try:
                get(timeout=0.05)
            except queue.Empty:
                break


def execute(kc, code, timeout=REPLY_TIMEOUT, **kw):
    """Run a cell; returns (execute_reply, its IOPub messages up to idle)."""
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id, timeout)
    return reply, iopub_for(kc, msg_id, timeout)


def stream_text(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def of_type(msgs, msg_type):
    return [m for m in msgs if m["msg_type"] == msg_type]


def result_text(msgs):
    """text/plain of the execute_result, or None."""
    r = of_type(msgs, "execute_result")
    return r[0]["content"]["data"].get("text/plain") if r else None


def process_exists(pid):
    """A pid that is gone or a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def processes_in_group(pgid):
    """Live pids whose process group is pgid (children a kernel left)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def run_main():
    """unittest.main with verbose output, for running a file directly."""
    import unittest
    unittest.main(verbosity=2, buffer=False)


if __name__ == "__main__":
    print(binary(), install_kernelspec())
    sys.exit(0)

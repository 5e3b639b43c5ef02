"""Kernel process lifecycle: shutdown (restart false and true, on control and
shell, idle or while a cell runs), SIGTERM, exit when the parent dies, and
jupyter_client's KernelManager over tcp and ipc (start, interrupt, restart,
shutdown). Each test starts its own kernel.
"""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from jupyter_client import KernelManager

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kerneltest as kt  # noqa: E402
from kerneltest import execute, iopub_for, result_text, shell_reply  # noqa: E402

EXIT_WITHIN = 1.0     # seconds after the shutdown reply (the figure)


class Shutdown(unittest.TestCase):
    def setUp(self):
        self.kernel = kt.Kernel()
        self.kc = self.kernel.client()

    def tearDown(self):
        self.kernel.close()

    def shutdown(self, channel, restart):
        """Send shutdown_request; check the reply, busy/idle, a clean exit
        within EXIT_WITHIN of the reply, and that no child is left."""
        pid = self.kernel.pid
        if channel == "control":
            msg_id = kt.send_control(self.kc, "shutdown_request", {"restart": restart})
            reply = kt.control_reply(self.kc, msg_id, timeout=10)
        else:
            msg_id = kt.send_shell(self.kc, "shutdown_request", {"restart": restart})
            reply = shell_reply(self.kc, msg_id, timeout=10)
        t_reply = time.monotonic()
        self.assertEqual(reply["msg_type"], "shutdown_reply")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertIs(reply["content"]["restart"], restart)
        exited = self.kernel.wait_exit(10)
        took = time.monotonic() - t_reply
        self.assertTrue(exited, "the kernel did not exit after shutdown_request")
        self.assertLess(took, EXIT_WITHIN, f"exit took {took:.3f} s after the reply")
        self.assertEqual(self.kernel.proc.returncode, 0, self.kernel.log())
        self.assertEqual(kt.processes_in_group(pid), [], "the kernel left a child behind")
        states = [m["content"]["execution_state"] for m in iopub_for(self.kc, msg_id, 5)
                  if m["msg_type"] == "status"]
        self.assertEqual(states, ["busy", "idle"])

    def test_shutdown_on_control(self):
        self.shutdown("control", restart=False)

    def test_shutdown_with_restart_true(self):
        self.shutdown("control", restart=True)

    def test_shutdown_on_shell(self):
        self.shutdown("shell", restart=False)

    def test_shutdown_while_a_cell_runs(self):
        msg_id = self.kc.execute("while (true) {}")
        kt.wait_iopub(self.kc, msg_id, "execute_input")
        time.sleep(0.2)
        self.shutdown("control", restart=False)

    def test_restart_true_while_a_cell_runs(self):
        msg_id = self.kc.execute("int n = 0; while (true) { n = n + 1; }")
        kt.wait_iopub(self.kc, msg_id, "execute_input")
        time.sleep(0.2)
        self.shutdown("control", restart=True)

    def test_sigterm_exits_cleanly(self):
        msg_id = self.kc.execute("while (true) {}")
        kt.wait_iopub(self.kc, msg_id, "execute_input")
        os.kill(self.kernel.pid, signal.SIGTERM)
        self.assertTrue(self.kernel.wait_exit(EXIT_WITHIN + 1), "SIGTERM did not end it")
        self.assertEqual(self.kernel.proc.returncode, 0, self.kernel.log())


class ParentDeath(unittest.TestCase):
    # The intermediate parent: starts the kernel, prints its pid, waits.
    PARENT = ("import subprocess, sys\n"
              "p = subprocess.Popen(sys.argv[1:])\n"
              "print(p.pid, flush=True)\n"
              "p.wait()\n")

    def test_exits_when_its_parent_is_killed(self):
        kernel = kt.Kernel(start=False)
        with open(kernel.log_path, "wb") as log:
            parent = subprocess.Popen([sys.executable, "-c", self.PARENT] + kernel.argv,
                                      stdout=subprocess.PIPE, stderr=log, env=kernel.env)
        kpid = None
        try:
            kpid = int(parent.stdout.readline())
            kernel.client()          # it is up and serving
            parent.kill()
            parent.wait()
            t0 = time.monotonic()
            while kt.process_exists(kpid) and time.monotonic() - t0 < 5:
                time.sleep(0.02)
            took = time.monotonic() - t0
            self.assertFalse(kt.process_exists(kpid), "the kernel outlived its parent")
            self.assertLess(took, 2.0, f"the kernel took {took:.2f} s to notice")
        finally:
            if parent.poll() is None:
                parent.kill()
                parent.wait()
            parent.stdout.close()
            if kpid and kt.process_exists(kpid):
                os.kill(kpid, signal.SIGKILL)
            kernel.close()


class WithKernelManager(unittest.TestCase):
    """The kernel as Jupyter starts it: from the installed kernelspec."""

    @classmethod
    def setUpClass(cls):
        kt.install_kernelspec()

    def run_session(self, **traits):
        km = KernelManager(kernel_name=kt.KERNEL_NAME, **traits)
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=kt.STARTUP_TIMEOUT)
            pid = km.provisioner.process.pid
            reply, msgs = execute(kc, 'int v = 20; print("transport", v + 1);')
            self.assertEqual(reply["content"]["status"], "ok")
            self.assertEqual(kt.stream_text(msgs), "transport 21\n")

            # Interrupt the way the kernelspec says (interrupt_mode).
            msg_id = kc.execute("while (true) {}")
            kt.wait_iopub(kc, msg_id, "execute_input")
            time.sleep(0.2)
            km.interrupt_kernel()
            reply = shell_reply(kc, msg_id, timeout=10)
            self.assertIn("KeyboardInterrupt", reply["content"]["ename"])
            iopub_for(kc, msg_id)

            # Restart: a new process, a fresh session, the same connection.
            km.restart_kernel(now=False)
            self.assertFalse(kt.process_exists(pid), "restart left the old process")
            self.assertNotEqual(km.provisioner.process.pid, pid)
            kc.wait_for_ready(timeout=kt.STARTUP_TIMEOUT)
            reply, _ = execute(kc, "v")
            self.assertEqual(reply["content"]["status"], "error")   # state is gone
            reply, msgs = execute(kc, "1 + 1")
            self.assertEqual(result_text(msgs), "2")
            self.assertEqual(reply["content"]["execution_count"], 2)

            pid = km.provisioner.process.pid
            km.shutdown_kernel(now=False)
            self.assertFalse(km.is_alive())
            self.assertFalse(kt.process_exists(pid))
        finally:
            kc.stop_channels()
            if km.has_kernel:
                km.shutdown_kernel(now=True)
        return km

    def test_tcp(self):
        self.run_session(transport="tcp")

    def test_ipc(self):
        with tempfile.TemporaryDirectory(prefix="hellodl-ipc-") as tmp:
            ip = os.path.join(tmp, "kernel")
            km = KernelManager(kernel_name=kt.KERNEL_NAME, transport="ipc", ip=ip)
            km.start_kernel()
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=kt.STARTUP_TIMEOUT)
                self.assertEqual(len(glob.glob(ip + "-*")), 5, "not five ipc endpoints")
                reply, msgs = execute(kc, 'print("over ipc");')
                self.assertEqual(kt.stream_text(msgs), "over ipc\n")
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=False)
            self.run_session(transport="ipc", ip=os.path.join(tmp, "again"))

    def test_thirty_ipc_kernels_at_once(self):
        """What ipc is for: many kernels starting together without port races."""
        kernels = [kt.Kernel(transport="ipc") for _ in range(30)]
        try:
            for k in kernels:
                kc = k.client()
                reply, msgs = execute(kc, "6 * 7")
                self.assertEqual(result_text(msgs), "42")
                kc.stop_channels()
        finally:
            for k in kernels:
                k.close()


if __name__ == "__main__":
    kt.run_main()

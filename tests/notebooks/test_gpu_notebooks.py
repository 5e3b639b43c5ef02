"""The module notebooks on the GPU: test_module_notebooks.py's notebooks and
every one of its checks (they run end to end, the lesson is learnt, the
pictures decode), with the kernel computing on the GPU, plus:
  - the session really is on the GPU: %gpu says "Device in use: GPU";
  - the line "Training on the GPU: <name> ..." is printed exactly once per
    notebook, no later than its first training cell ("fit"), and names the
    GPU that nvidia-smi lists;
  - how long the training cells took is printed (compare with the CPU run
    of test_module_notebooks).

Skipped (exit status 77, with the reason) when `nvidia-smi -L` lists no
GPU, when the kernel's %gpu says it has none (a CPU-only build, a driver
problem), or for test_module_notebooks' own reasons (data missing,
HELLODL_SLOW_TESTS=0). With HELLODL_GPU_EMULATE=1 the same checks run
against the emulated GPU (nvidia-smi is then not consulted): slow, for
checking this file on a machine without a GPU."""

import os
import subprocess
import sys
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_module_notebooks as tmn  # noqa: E402
from test_module_notebooks import kt  # noqa: E402

GPU_LINE = "Training on the GPU: "
# HELLODL_TEST_ENV keeps tests on the CPU; this one is about the GPU.
os.environ.pop("HELLODL_DEVICE", None)
EMULATED = os.environ.get("HELLODL_GPU_EMULATE") == "1"


def nvidia_gpus():
    """GPU names from nvidia-smi, or (None, why)."""
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=60)
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                                timeout=60)
    except FileNotFoundError:
        return None, "nvidia-smi is not installed (no NVIDIA driver on this machine)"
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"nvidia-smi cannot run ({e})"
    if listed.returncode != 0 or not listed.stdout.strip().startswith("GPU "):
        return None, "nvidia-smi -L lists no GPU"
    return [n.strip() for n in r.stdout.splitlines() if n.strip()], None


def kernel_gpu_text():
    """What %gpu prints in a fresh kernel with this environment."""
    k = kt.Kernel()
    try:
        kc = k.client()
        reply, msgs = kt.execute(kc, "%gpu", timeout=120)
        return kt.stream_text(msgs)
    finally:
        k.close()


def skip_reason():
    why = tmn.skip_reason()
    if why:
        return why
    if not EMULATED:
        names, why = nvidia_gpus()
        if why:
            return why
    said = kernel_gpu_text()
    for line in said.splitlines():
        if line.startswith("No GPU:"):
            return f"the kernel's %gpu says: {line}"
    if "Device in use: GPU" not in said:
        return f"the kernel's %gpu does not show a GPU in use:\n{said}"
    return None


def cell_seconds(cell):
    """Wall time of an executed cell from nbclient's timing metadata."""
    t = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.fromisoformat(t["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(t["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


class GpuNotebooks(tmn.ModuleNotebooks):
    """Every check of the CPU run, on the GPU, and the GPU's own."""

    def gpu_lines(self, name):
        found = []
        for index, c in enumerate(self.nbs[name].cells):
            for o in c.get("outputs", []):
                if o.output_type == "stream" and o.name == "stdout":
                    found += [(index, c.get("id"), line) for line in o.text.splitlines()
                              if line.startswith(GPU_LINE)]
        return found

    def test_gpu_line_once_before_training(self):
        names = None if EMULATED else nvidia_gpus()[0]
        for name in ("hello-world-deep-learning", "hello-world-cpu"):
            lines = self.gpu_lines(name)
            self.assertEqual(len(lines), 1, f"{name}: the GPU line {lines}")
            index, cell_id, line = lines[0]
            fit = [i for i, c in enumerate(self.nbs[name].cells) if c.get("id") == "fit"]
            self.assertTrue(fit and index <= fit[0],
                            f"{name}: the GPU line came in cell {cell_id}, after 'fit'")
            print(f"{name}/{cell_id}: {line}", file=sys.stderr)
            if names:
                self.assertTrue(any(n in line for n in names), f"{line} vs {names}")

    def test_training_seconds(self):
        for name in ("hello-world-deep-learning", "hello-world-cpu"):
            for cell_id in ("fit", "fine-tune", "predict"):
                s = cell_seconds(self.cell(name, cell_id))
                self.assertIsNotNone(s, f"{name}/{cell_id}: no timing")
                print(f"{name}/{cell_id}: {s:.1f} s on the GPU", file=sys.stderr)


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print(f"skipped: {why}")
        sys.exit(77)
    kt.run_main()

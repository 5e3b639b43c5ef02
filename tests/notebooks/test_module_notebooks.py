"""The module notebooks (hello-world-deep-learning, hello-world-cpu,
your-own-data) executed headless by nbclient on the real data, with the
kernelspec installed into a temporary prefix; their outputs are checked:
every PNG decodes, the groups are printed, the CPU notebook reaches
validation accuracy >= 0.9 and gets both test images right.

Skipped (exit status 77, with the reason) when HELLODL_DATA_PATH lacks the
module's images or the MobileNet weights, or when HELLODL_SLOW_TESTS=0.
The InceptionV3 notebook trains the full network on the CPU: this file takes
a few minutes (its ctest TIMEOUT allows 15)."""

import base64
import os
import re
import struct
import sys
import time
import unittest
import zlib

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "protocol"))
import kerneltest as kt  # noqa: E402

NEEDS = ["hello-world-deep-learning-siim/data/train",
         "keras-pretrained-models/mobilenet_2_5_224_tf_no_top.h5"]
NOTEBOOKS = ["hello-world-cpu", "your-own-data", "hello-world-deep-learning"]
EPOCH = re.compile(r"^Epoch (\d+)/(\d+) .*val_acc: ([0-9.]+)", re.M)
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}   # PNG colour type -> samples per pixel


def skip_reason():
    if os.environ.get("HELLODL_SLOW_TESTS") == "0":
        return "HELLODL_SLOW_TESTS=0"
    dirs = [d for d in os.environ.get("HELLODL_DATA_PATH", "").split(":") if d]
    for need in NEEDS:
        if not any(os.path.exists(os.path.join(d, need)) for d in dirs):
            return f"{need} is not in any folder of HELLODL_DATA_PATH ({':'.join(dirs) or 'unset'})"
    return None


def png_decode_size(data):
    """Checks a PNG's chunks (CRCs), inflates its image data and checks that
    it holds exactly the rows IHDR promises. Returns (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    assert ihdr, "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = ihdr
    raw = zlib.decompress(idat)
    if interlace == 0 and colour in CHANNELS:
        row = 1 + (width * CHANNELS[colour] * depth + 7) // 8
        assert len(raw) == row * height, f"{len(raw)} bytes of pixels, expected {row * height}"
    return width, height


class ModuleNotebooks(unittest.TestCase):
    nbs, seconds = {}, {}

    @classmethod
    def setUpClass(cls):
        kt.install_kernelspec()
        folder = os.path.join(kt.source_dir(), "notebooks")
        for name in NOTEBOOKS:
            nb = nbformat.read(os.path.join(folder, name + ".ipynb"), as_version=4)
            nb.metadata.kernelspec.name = kt.KERNEL_NAME
            client = NotebookClient(nb, kernel_name=kt.KERNEL_NAME, timeout=600,
                                    startup_timeout=kt.STARTUP_TIMEOUT,
                                    resources={"metadata": {"path": folder}})
            start = time.monotonic()
            client.execute()
            cls.seconds[name] = time.monotonic() - start
            cls.nbs[name] = nb
            print(f"{name}.ipynb executed in {cls.seconds[name]:.0f} s", file=sys.stderr)

    def cell(self, name, cell_id):
        for c in self.nbs[name].cells:
            if c.get("id") == cell_id:
                return c
        self.fail(f"{name}: no cell {cell_id}")

    def stdout(self, name, cell_id):
        return "".join(o.text for o in self.cell(name, cell_id).outputs
                       if o.output_type == "stream" and o.name == "stdout")

    def pngs(self, name, cell_id):
        return [base64.b64decode(o.data["image/png"]) for o in self.cell(name, cell_id).outputs
                if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]

    def val_acc(self, name, cell_id):
        epochs = EPOCH.findall(self.stdout(name, cell_id))
        self.assertTrue(epochs, f"{name}/{cell_id}: no epoch lines")
        return epochs

    def test_saved_without_outputs(self):
        folder = os.path.join(kt.source_dir(), "notebooks")
        for name in NOTEBOOKS:
            nb = nbformat.read(os.path.join(folder, name + ".ipynb"), as_version=4)
            nbformat.validate(nb)
            self.assertEqual(nb.metadata.kernelspec.name, "hellodl")
            for c in nb.cells:
                if c.cell_type == "code":
                    self.assertEqual(c.outputs, [], f"{name}/{c.id} was saved with outputs")
                    self.assertIsNone(c.execution_count)

    def test_no_errors(self):
        for name, nb in self.nbs.items():
            for c in nb.cells:
                for o in c.get("outputs", []):
                    self.assertNotEqual(o.output_type, "error",
                                        f"{name}/{c.id}: {o.get('ename')}: {o.get('evalue')}")

    def test_every_png_decodes(self):
        expected = {"hello-world-cpu": {"examples": 2, "show-batch": 1, "plot": 1,
                                        "plot-all": 1, "predict": 2},
                    "hello-world-deep-learning": {"examples": 2, "show-batch": 1, "plot": 1,
                                                  "plot-all": 1, "predict": 2},
                    "your-own-data": {"counts": 1, "fit": 1, "confusion": 1, "gallery": 1,
                                      "predict": 1}}
        for name, cells in expected.items():
            for cell_id, n in cells.items():
                pngs = self.pngs(name, cell_id)
                self.assertEqual(len(pngs), n, f"{name}/{cell_id}: images")
                for png in pngs:
                    w, h = png_decode_size(png)
                    self.assertTrue(w >= 64 and h >= 64, f"{name}/{cell_id}: {w}x{h}")

    def test_groups_printed(self):
        for name in ("hello-world-cpu", "hello-world-deep-learning"):
            self.assertRegex(self.stdout(name, "group-augmentation"),
                             r"You have been assigned to Group [12]\n")
            self.assertRegex(self.stdout(name, "group-dropout"),
                             r"You have been assigned to Subgroup [AB]\n")
            self.assertIn("Record: factor augmentation", self.stdout(name, "group-augmentation"))

    def test_cpu_notebook_learns_the_lesson(self):
        for cell_id, epochs in (("fit", "5"), ("fine-tune", "3")):
            last = self.val_acc("hello-world-cpu", cell_id)[-1]
            self.assertEqual(last[:2], (epochs, epochs))
            self.assertGreaterEqual(float(last[2]), 0.9, f"{cell_id}: validation accuracy")
        out = self.stdout("hello-world-cpu", "predict")
        self.assertIn("chest_test.png -> Chest radiograph", out)
        self.assertIn("abd_test.png -> Abdominal radiograph", out)

    def test_module_notebook_runs_the_lesson(self):
        name = "hello-world-deep-learning"
        self.assertEqual(self.val_acc(name, "fit")[-1][:2], ("5", "5"))
        self.assertEqual(self.val_acc(name, "fine-tune")[-1][:2], ("3", "3"))
        out = self.stdout(name, "predict")
        self.assertRegex(out, r"chest_test\.png -> (Chest|Abdominal) radiograph")
        self.assertRegex(out, r"abd_test\.png -> (Chest|Abdominal) radiograph")
        said = self.stdout(name, "weights-check")
        mounted = "inception_weights is null" not in self.stdout(name, "mount-weights")
        self.assertIn("starts from its ImageNet weights" if mounted else "random weights", said)

    def test_live_training_display(self):
        for cell_id, epochs in (("fit", 5), ("fine-tune", 3)):
            shown = [o for o in self.cell("hello-world-cpu", cell_id).outputs
                     if o.output_type == "display_data" and "text/html" in o.data]
            self.assertEqual(len(shown), 1, f"{cell_id}: one live display")
            self.assertTrue(shown[0].data["text/plain"].startswith(
                f"Training finished: {epochs}/{epochs} epochs"), shown[0].data["text/plain"])

    def test_own_data_notebook(self):
        name = "your-own-data"
        out = self.stdout(name, "generators")
        self.assertIn("Found 65 images belonging to 2 classes.", out)
        self.assertIn("Number of classes: 2", out)
        self.assertIn("train/chst: 33 images", self.stdout(name, "counts"))
        self.assertEqual(self.val_acc(name, "fit")[-1][:2], ("5", "5"))
        self.assertIn("Sensitivity", self.stdout(name, "confusion"))


if __name__ == "__main__":
    why = skip_reason()
    if why:
        print(f"skipped: {why}")
        sys.exit(77)
    kt.run_main()

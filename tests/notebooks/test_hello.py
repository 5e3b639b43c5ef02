"""notebooks/hello.ipynb executed headless by nbclient with the kernelspec
installed into a temporary prefix; its outputs are checked cell by cell."""

import base64
import os
import sys
import unittest

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "protocol"))
import kerneltest as kt  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class HelloNotebook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        kt.install_kernelspec()
        notebooks = os.path.join(kt.source_dir(), "notebooks")
        cls.nb = nbformat.read(os.path.join(notebooks, "hello.ipynb"), as_version=4)
        cls.nb.metadata.kernelspec.name = kt.KERNEL_NAME
        client = NotebookClient(cls.nb, kernel_name=kt.KERNEL_NAME, timeout=60,
                                startup_timeout=kt.STARTUP_TIMEOUT,
                                resources={"metadata": {"path": notebooks}})
        client.execute()
        cls.cells = {c.get("id"): c for c in cls.nb.cells}

    def outputs(self, cell_id, output_type=None):
        outs = self.cells[cell_id].outputs
        return [o for o in outs if output_type is None or o.output_type == output_type]

    def stdout(self, cell_id):
        return "".join(o.text for o in self.outputs(cell_id, "stream") if o.name == "stdout")

    def result(self, cell_id):
        results = self.outputs(cell_id, "execute_result")
        self.assertEqual(len(results), 1, f"{cell_id}: expected one execute_result")
        return results[0].data["text/plain"]

    def test_execution_counts(self):
        counts = [c.execution_count for c in self.nb.cells if c.cell_type == "code"]
        self.assertEqual(counts, list(range(1, len(counts) + 1)))

    def test_hello_world(self):
        self.assertEqual(self.stdout("cell-01"), "Hello, world!\n")

    def test_typed_values_print(self):
        self.assertEqual(self.stdout("cell-03"), "We will train InceptionV3 for 5 epochs "
                                                 "at a learning rate of 0.0001\n")

    def test_execute_results(self):
        self.assertEqual(self.result("cell-05"), "13")
        self.assertEqual(self.result("cell-06"), '"Chest radiograph"')   # a string's repr
        for cell_id in ("cell-05", "cell-06"):
            r = self.outputs(cell_id, "execute_result")[0]
            self.assertEqual(r.execution_count, self.cells[cell_id].execution_count)

    def test_image(self):
        displays = self.outputs("cell-08", "display_data")
        self.assertEqual(len(displays), 1)
        self.assertEqual(len(self.outputs("cell-08")), 1)
        png = base64.b64decode(displays[0].data["image/png"])
        self.assertEqual(png[:8], PNG_SIGNATURE)
        self.assertEqual(png[12:16], b"IHDR")
        self.assertEqual(int.from_bytes(png[16:20], "big"), 64)   # the 64x64 logo
        self.assertEqual(int.from_bytes(png[20:24], "big"), 64)

    def test_loop(self):
        self.assertEqual(self.stdout("cell-10"), "1 + 2 + ... + 100 = 5050\n")

    def test_name_error(self):
        errors = self.outputs("cell-12", "error")
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0].ename, "NameError")
        self.assertIn("epoch", errors[0].evalue)
        self.assertTrue(errors[0].traceback)
        self.assertEqual(self.stdout("cell-12"), "")

    def test_state_survives_the_error(self):
        self.assertEqual(self.stdout("cell-13"), "Epochs: 5\n")


if __name__ == "__main__":
    kt.run_main()

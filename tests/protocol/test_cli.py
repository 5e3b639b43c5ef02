"""The hellodl command line: --version, --help, bad arguments, bad
connection files, install/uninstall of the kernelspec into a prefix."""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kerneltest as kt  # noqa: E402


def run(*args, timeout=20, **kw):
    return subprocess.run([kt.binary(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


class Cli(unittest.TestCase):
    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^hellodl \d+\.\d+\.\d+")

    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage", r.stdout)
        for word in ("kernel -f", "install", "uninstall", "--prefix", "--env"):
            self.assertIn(word, r.stdout)

    def test_bad_arguments_exit_2_with_usage(self):
        for args in ([], ["--bogus"], ["frobnicate"], ["kernel"], ["kernel", "-f"],
                     ["kernel", "-x", "y"], ["kernel", "-f", "a.json", "extra"],
                     ["install", "--bogus"], ["install", "--prefix"],
                     ["install", "--env", "NOEQUALS"], ["install", "--name", "a/b"],
                     ["uninstall", "--what"], ["run"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage", r.stderr)
                self.assertEqual(r.stdout, "")


class ConnectionFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hellodl-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def good(self):
        return {"transport": "tcp", "ip": "127.0.0.1", "shell_port": 50001,
                "iopub_port": 50002, "stdin_port": 50003, "control_port": 50004,
                "hb_port": 50005, "key": "abc", "signature_scheme": "hmac-sha256",
                "kernel_name": "hellodl"}

    def check_rejected(self, path, *words):
        r = run("kernel", "-f", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(path, r.stderr, "the message does not name the file")
        for w in words:
            self.assertIn(w, r.stderr)
        self.assertEqual(r.stdout, "")
        return r

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_missing_file(self):
        r = self.check_rejected(os.path.join(self.tmp, "nope.json"))
        self.assertRegex(r.stderr.lower(), r"no such file|cannot|not found|missing")

    def test_a_directory(self):
        self.check_rejected(self.tmp)

    def test_malformed_files(self):
        good = self.good()
        cases = {
            "empty": "",
            "not json": "{transport: tcp",
            "an array": "[1, 2]",
            "no ports": json.dumps({k: v for k, v in good.items() if not k.endswith("_port")}),
            "port out of range": json.dumps(dict(good, shell_port=70000)),
            "port not a number": json.dumps(dict(good, hb_port="five")),
            "unknown transport": json.dumps(dict(good, transport="udp")),
            "key not a string": json.dumps(dict(good, key=12)),
            "no ip": json.dumps({k: v for k, v in good.items() if k != "ip"}),
        }
        for what, text in cases.items():
            with self.subTest(what):
                self.check_rejected(self.write(what.replace(" ", "_") + ".json", text))

    def test_unknown_signature_scheme(self):
        path = self.write("md5.json", json.dumps(dict(self.good(), signature_scheme="hmac-md5")))
        self.check_rejected(path, "hmac-md5")


class Install(unittest.TestCase):
    def setUp(self):
        self.prefix = tempfile.mkdtemp(prefix="hellodl-install-")

    def tearDown(self):
        shutil.rmtree(self.prefix, ignore_errors=True)

    def spec(self, name="hellodl"):
        with open(os.path.join(kt.spec_dir(self.prefix, name), "kernel.json")) as f:
            return json.load(f)

    def test_install_writes_a_complete_kernelspec(self):
        r = run("install", "--prefix", self.prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = kt.spec_dir(self.prefix, "hellodl")
        spec = self.spec()
        self.assertTrue(os.path.isabs(spec["argv"][0]))
        self.assertEqual(os.path.realpath(spec["argv"][0]), os.path.realpath(kt.binary()))
        self.assertEqual(spec["argv"][1:], ["kernel", "-f", "{connection_file}"])
        self.assertEqual(spec["language"], "hellodl")
        self.assertIn(spec["interrupt_mode"], ("signal", "message"))
        self.assertIsInstance(spec["metadata"], dict)
        self.assertEqual(spec["display_name"], "Hello DL (C)")
        self.assertEqual(png_size(os.path.join(d, "logo-32x32.png")), (32, 32))
        self.assertEqual(png_size(os.path.join(d, "logo-64x64.png")), (64, 64))

    def test_jupyter_finds_it(self):
        run("install", "--prefix", self.prefix, "--name", "hellodl-found")
        env = dict(os.environ, JUPYTER_PATH=os.path.join(self.prefix, "share", "jupyter"))
        code = ("from jupyter_client.kernelspec import KernelSpecManager as M; "
                "s = M().get_kernel_spec('hellodl-found'); print(s.language, s.display_name)")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "hellodl Hello DL (C)")
        # `jupyter kernelspec list` too, where that subcommand is installed.
        if shutil.which("jupyter-kernelspec"):
            r = subprocess.run(["jupyter-kernelspec", "list"], env=env, capture_output=True,
                               text=True, timeout=60)
            self.assertIn("hellodl-found", r.stdout)

    def test_env_display_name_and_name(self):
        r = run("install", "--prefix", self.prefix, "--name", "dl2", "--display-name",
                "My DL", "--env", "HELLODL_MAX_OUTPUT_MB=3", "--env", "WITH_EQ=a=b")
        self.assertEqual(r.returncode, 0, r.stderr)
        spec = self.spec("dl2")
        self.assertEqual(spec["display_name"], "My DL")
        self.assertEqual(spec["env"]["HELLODL_MAX_OUTPUT_MB"], "3")
        self.assertEqual(spec["env"]["WITH_EQ"], "a=b")   # split at the first '='
        self.assertFalse(os.path.exists(kt.spec_dir(self.prefix, "hellodl")))
        run("install", "--prefix", self.prefix)
        self.assertNotIn("WITH_EQ", self.spec().get("env", {}))

    def test_install_twice_then_uninstall(self):
        for _ in range(2):
            self.assertEqual(run("install", "--prefix", self.prefix).returncode, 0)
        d = kt.spec_dir(self.prefix, "hellodl")
        r = run("uninstall", "--prefix", self.prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(d))
        r = run("uninstall", "--prefix", self.prefix)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("hellodl", r.stderr)

    def test_unwritable_prefix_is_a_clear_error(self):
        blocker = os.path.join(self.prefix, "a-file")
        open(blocker, "w").close()
        r = run("install", "--prefix", blocker)
        self.assertEqual(r.returncode, 1)
        self.assertIn(blocker, r.stderr)

    def test_user_install_honours_jupyter_data_dir(self):
        data = os.path.join(self.prefix, "data")
        env = dict(os.environ, JUPYTER_DATA_DIR=data)
        r = run("install", "--user", "--name", "hellodl-user", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(data, "kernels", "hellodl-user",
                                                    "kernel.json")))
        r = run("uninstall", "--user", "--name", "hellodl-user", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    kt.run_main()

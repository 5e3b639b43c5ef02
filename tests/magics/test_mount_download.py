"""%mount downloading from a local HTTP server, and %group --balanced under
concurrent kernels, driven through `hellodl run` on temporary cell files.

A generated dataset (small PNGs, one duplicate) is served as a .tar.gz from
127.0.0.1 with a temporary catalog (HELLODL_CATALOG_PATH) and cache
(XDG_CACHE_HOME). Checked: download + unpack + verify + mount; mounting
again downloads nothing; a corrupted file is refused by name; a "zip slip"
archive is refused and writes nothing; a partial .part download resumes
with an HTTP Range request; a stalled download is stopped at its time
limit; six concurrent kernels drawing from one
--balanced folder get both arms twice in the first block of four.
"""
import hashlib
import http.server
import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zlib

BIN = os.environ.get("HELLODL_BIN")
FAILURES = []


def check(cond, what, detail=""):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        FAILURES.append(what)
        if detail:
            print("      " + detail.replace("\n", "\n      "))


def png(width, height, shade):
    """A gray 8-bit PNG of the given size."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\0" + bytes([(shade + x) % 256 for x in range(width)])
                    for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def toy_files():
    """Relative path -> bytes: train/val with two classes, a duplicate in val."""
    files = {}
    for split, n in (("train", 3), ("val", 2)):
        for k, cls in enumerate(("cat", "dog")):
            for i in range(n):
                files["data/%s/%s/%s%d.png" % (split, cls, cls, i)] = png(8 + i, 6 + k, 40 * i + k + len(split))
    files["data/val/dog/dog1.png"] = files["data/val/dog/dog0.png"]
    return files


def tar_gz(entries):
    """entries: (name, bytes or None for a symlink, link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
            else:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves self.server.files, honouring "Range: bytes=N-"."""

    def do_GET(self):
        name = self.path.lstrip("/")
        rng = self.headers.get("Range")
        self.server.log.append((name, rng))
        if name == "slow.bin":
            self.trickle()
            return
        data = self.server.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        m = re.match(r"bytes=(\d+)-$", rng or "")
        if m:
            start = int(m.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def trickle(self):
        """A server that stalls: 1,000,000 bytes announced, a few sent."""
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def run_cells(env, tmp, cells, name="cells.dl", timeout=60):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("\n//--- cell\n".join(cells) + "\n")
    p = subprocess.run([BIN, "run", path], env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def entry(slug, files, root="data", archives=None):
    e = {"slug": slug, "title": "Toy " + slug, "licence": "test data", "root": root,
         "files": [{"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                   for p, d in sorted(files.items())]}
    if archives:
        e["archives"] = archives
    return e


def setup(tmp, port):
    files = toy_files()
    served = {"toy.tar.gz": tar_gz([(p, d, None) for p, d in sorted(files.items())])}
    served["evil.tar.gz"] = tar_gz([("data/ok.txt", b"fine", None), ("../evil.txt", b"gotcha", None)])
    served["link.tar.gz"] = tar_gz([("data/up", None, "../../outside")])
    weights = bytes(range(256)) * 1200            # 307,200 bytes
    served["weights.bin"] = weights
    base = "http://127.0.0.1:%d/" % port
    cat = os.path.join(tmp, "catalog")
    os.makedirs(cat)
    entries = [
        entry("toy-set", files, archives=[{"url": base + "toy.tar.gz",
                                           "sha256": hashlib.sha256(served["toy.tar.gz"]).hexdigest()}]),
        entry("toy-evil", {"data/ok.txt": b"fine"}, archives=[{"url": base + "evil.tar.gz"}]),
        entry("toy-link", {"data/ok.txt": b"fine"}, archives=[{"url": base + "link.tar.gz"}]),
        {"slug": "toy-slow", "title": "A download that stalls", "root": "",
         "files": [{"path": "slow.bin", "size": 1000000, "sha256": "0" * 64, "url": base + "slow.bin"}]},
        {"slug": "toy-weights", "title": "Toy weights", "root": "",
         "files": [{"path": "weights.bin", "size": len(weights), "variable": "toy_weights",
                    "sha256": hashlib.sha256(weights).hexdigest(), "url": base + "weights.bin"}]},
    ]
    for e in entries:
        with open(os.path.join(cat, e["slug"] + ".json"), "w") as f:
            json.dump(e, f)
    return served, weights


def test_mount(env, tmp, server, weights):
    cache = os.path.join(tmp, "cache", "hellodl")
    rc, out = run_cells(env, tmp, ["%mount toy-set", "print(path)"])
    check(rc == 0 and "found in your cache" in out and "train/   6 images  cat 3, dog 3" in out,
          "download + unpack + verify + mount", out)
    check("val/dog/dog0.png and val/dog/dog1.png are the same image" in out, "duplicate reported", out)
    check(out.rstrip().endswith(os.path.join(cache, "toy-set", "data")), "path bound to the data folder", out)
    check(("toy.tar.gz", None) in server.log, "the archive was requested", str(server.log))
    check(not os.path.exists(os.path.join(cache, ".downloads", "toy-set", "toy.tar.gz")),
          "the archive is removed after unpacking")

    server.log.clear()
    rc, out2 = run_cells(env, tmp, ["%mount toy-set as again", "print(again)"], name="again.dl")
    check(rc == 0 and server.log == [] and "every checksum matches" in out2,
          "mounting again downloads nothing", out2 + str(server.log))
    check(os.path.exists(os.path.join(cache, "verified.tsv")), "checksums are remembered")

    victim = os.path.join(cache, "toy-set", "data", "train", "cat", "cat1.png")
    with open(victim, "r+b") as f:
        f.seek(30)
        f.write(b"\xff\xff")
    rc, out = run_cells(env, tmp, ["%mount toy-set"], name="corrupt.dl")
    check(rc != 0 and "ChecksumError" in out and victim in out and "not mounted" in out,
          "a corrupted file is refused and named", out)


def test_unsafe(env, tmp):
    cache = os.path.join(tmp, "cache", "hellodl")
    rc, out = run_cells(env, tmp, ["%mount toy-evil"], name="evil.dl")
    check(rc != 0 and "zip slip" in out and "../evil.txt" in out, "a '..' entry is refused", out)
    check(not os.path.exists(os.path.join(cache, "evil.txt"))
          and not os.path.exists(os.path.join(cache, "toy-evil", "data", "ok.txt")),
          "the unsafe archive wrote nothing")
    rc, out = run_cells(env, tmp, ["%mount toy-link"], name="link.dl")
    check(rc != 0 and "symbolic link pointing outside" in out, "an escaping link is refused", out)


def test_resume(env, tmp, server, weights):
    folder = os.path.join(tmp, "cache", "hellodl", "toy-weights")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "weights.bin.part"), "wb") as f:
        f.write(weights[:100000])
    server.log.clear()
    rc, out = run_cells(env, tmp, ["%mount toy-weights", "print(toy_weights)"], name="resume.dl")
    check(rc == 0 and ("weights.bin", "bytes=100000-") in server.log,
          "a partial download resumes with a Range request", out + str(server.log))
    check("Resuming weights.bin" in out and "Downloaded weights.bin" in out, "progress is shown", out)
    with open(os.path.join(folder, "weights.bin"), "rb") as f:
        check(f.read() == weights, "the resumed file is whole")


def test_time_bound(env, tmp):
    start = time.monotonic()
    rc, out = run_cells(dict(env, HELLODL_FETCH_TIMEOUT="1.5"), tmp, ["%mount toy-slow"], name="slow.dl")
    took = time.monotonic() - start
    check(rc != 0 and "HELLODL_FETCH_TIMEOUT" in out and "resumes it" in out,
          "a stalled download is stopped by the time limit", out)
    check(took < 8, "and stopped promptly (%.1f s)" % took)
    check(os.path.exists(os.path.join(tmp, "cache", "hellodl", "toy-slow", "slow.bin.part")),
          "what arrived is kept for resuming")


def test_balanced(env, tmp):
    room = os.path.join(tmp, "room")
    os.makedirs(room)
    path = os.path.join(tmp, "group.dl")
    with open(path, "w") as f:
        f.write("%%group augmentation: 1 2 --balanced %s\n" % room)
    procs = [subprocess.Popen([BIN, "run", path], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(6)]
    draws = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        m = re.search(r"assigned to Group (\d).*balanced draw (\d+)", out, re.S)
        check(p.returncode == 0 and m is not None, "a concurrent kernel drew an arm", out)
        if m:
            draws.append((int(m.group(2)), m.group(1)))
    draws.sort()
    positions = [d[0] for d in draws]
    first_block = [d[1] for d in draws if d[0] <= 4]
    check(positions == [1, 2, 3, 4, 5, 6], "six distinct draws, none lost", str(draws))
    check(sorted(first_block) == ["1", "1", "2", "2"], "the first block of four is balanced", str(draws))
    with open(os.path.join(room, "augmentation.json")) as f:
        check(json.load(f)["assigned"] == 6, "the room's state counts six")


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("skipped: HELLODL_BIN is not set to the built hellodl")
        return 77
    with tempfile.TemporaryDirectory(prefix="hellodl-mount-") as tmp:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.log = []
        served, weights = setup(tmp, server.server_address[1])
        server.files = served
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        env = dict(os.environ, HELLODL_CATALOG_PATH=os.path.join(tmp, "catalog"),
                   XDG_CACHE_HOME=os.path.join(tmp, "cache"), HELLODL_DATA_PATH="",
                   HELLODL_ALLOW_DOWNLOAD="1", HELLODL_FETCH_TIMEOUT="60",
                   no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
        env.pop("http_proxy", None)
        env.pop("HTTP_PROXY", None)
        try:
            test_mount(env, tmp, server, weights)
            test_unsafe(env, tmp)
            test_resume(env, tmp, server, weights)
            test_time_bound(env, tmp)
            test_balanced(env, tmp)
        finally:
            server.shutdown()
            server.server_close()
    print("FAILED: %d" % len(FAILURES) if FAILURES else "all passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""The module's whole workload in PyTorch eager, the anchor for gpu_bench.c:
the same phases, data, model, optimizer and output format.

    /usr/bin/python3 bench/torch_gpu_bench.py [--device cuda|cpu] [--every-step]
        [--synthetic] [--tiny] [--frozen 5] [--unfrozen 3] [--batch 8] [--side 299]
        [--tf32] [--cudnn-benchmark] [--threads N]

torchvision's inception_v3 (aux_logits=False, init_weights=False, no
pretrained weights: the figures do not depend on the values) cut before its
pooling, the module's top (GAP, Linear 256 + ReLU, Dropout 0.5, Linear 1 +
sigmoid), BCELoss, Adam lr 1e-4, float32, NCHW. Phases:
  build     the model made and moved to the device
  data      every image read with PIL as Keras does (RGB, NEAREST to side x
            side, / 255), kept in pinned host memory
  frozen    5 epochs over the 65 training images (batch 8, shuffled), each
            followed by validation on the 10 validation images; the
            backbone in eval() under no_grad, its outputs computed once per
            image (as fit() does without augmentation), or with
            --every-step at every step
  unfrozen  3 epochs, a fresh Adam over every parameter, BN in train()
  predict   the two test images, each read, resized, uploaded and run
Each phase ends with torch.cuda.synchronize(). Memory:
torch.cuda.max_memory_allocated / max_memory_reserved, and the largest drop
of the device's free memory (torch.cuda.mem_get_info) after every batch.

Math is float32 unless --tf32: PyTorch lets cuDNN convolutions use TF32 by
default, which gpu_bench does not (HELLODL_GPU_MATH=tf32 does); both are
turned off here so the two compute the same thing. Images come from
hello-world-deep-learning-siim in HELLODL_DATA_PATH, else noise PNGs of the
same count (--synthetic forces them). The last line, "RESULT key=value ...",
is what bench/gpu_module_bench.sh reads. Exits 3 when PyTorch has no CUDA.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

DATASET = os.path.join("hello-world-deep-learning-siim", "data")


def find_dataset():
    for d in os.environ.get("HELLODL_DATA_PATH", "").split(":"):
        root = os.path.join(d, DATASET)
        if d and os.path.isdir(os.path.join(root, "train")):
            return root
    return None


def synthetic_dataset(root):
    """Noise PNGs in the module's layout and counts."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(7)

    def noise(path):
        Image.fromarray(rng.integers(0, 256, (384, 320), dtype=np.uint8)).save(path)

    for split, counts in (("train", (32, 33)), ("val", (5, 5))):
        for cls, n in zip(("abd", "chst"), counts):
            os.makedirs(os.path.join(root, split, cls))
            for i in range(n):
                noise(os.path.join(root, split, cls, f"{cls}{i}.png"))
    os.makedirs(os.path.join(root, "test"))
    noise(os.path.join(root, "test", "chest_test.png"))
    noise(os.path.join(root, "test", "abd_test.png"))


def load_image(path, side):
    """Keras' load_img + img_to_array / 255: RGB, NEAREST, float32 (c, h, w)."""
    import numpy as np
    from PIL import Image
    with Image.open(path) as img:
        a = np.asarray(img.convert("RGB").resize((side, side), Image.NEAREST), np.float32)
    return a.transpose(2, 0, 1) / 255.0


def load_split(root, split, side):
    """(x (n, 3, side, side), y (n, 1)) in flow_from_directory's order."""
    import numpy as np
    xs, ys = [], []
    for label, cls in enumerate(sorted(os.listdir(os.path.join(root, split)))):
        folder = os.path.join(root, split, cls)
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(".png") and not name.startswith("."):
                xs.append(load_image(os.path.join(folder, name), side))
                ys.append([float(label)])
    return np.stack(xs), np.asarray(ys, np.float32)


class Bench:
    def __init__(self, a):
        import torch
        self.torch, self.a = torch, a
        self.dev = torch.device(a.device)
        self.cuda = self.dev.type == "cuda"
        self.free_at_open = self.min_free = 0
        if self.cuda:
            torch.zeros(1, device=self.dev)  # the context, before the baseline
            torch.cuda.synchronize()
            self.free_at_open = self.min_free = torch.cuda.mem_get_info()[0]

    def sample(self):
        if self.cuda:
            self.min_free = min(self.min_free, self.torch.cuda.mem_get_info()[0])

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()
        self.sample()

    def build(self):
        import torch.nn as nn
        import torchvision
        net = torchvision.models.inception_v3(weights=None, aux_logits=False,
                                              init_weights=False)
        self.feats = nn.Sequential(*[getattr(net, n) for n in [
            "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
            "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
            "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b",
            "Mixed_7c"]]).to(self.dev)
        self.top = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 256),
                                 nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 1),
                                 nn.Sigmoid()).to(self.dev)
        self.loss_fn = nn.BCELoss()

    def data(self, root):
        torch = self.torch
        out = []
        for split in ("train", "val"):
            x, y = load_split(root, split, self.a.side)
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            if self.cuda:
                x, y = x.pin_memory(), y.pin_memory()
            out.append((x, y))
        (self.xt, self.yt), (self.xv, self.yv) = out

    def up(self, t):
        return t.to(self.dev, non_blocking=True)

    def batches(self, n, shuffle, limit):
        order = self.torch.randperm(n) if shuffle else self.torch.arange(n)
        starts = list(range(0, n, self.a.batch))[:limit or None]
        return [order[s:s + self.a.batch] for s in starts]

    def epoch(self, opt, forward, train_inputs, val_inputs, e):
        """One epoch: training steps, then validation; prints Keras-like figures."""
        torch = self.torch
        xt, yt = train_inputs
        total = correct = seen = 0.0
        for idx in self.batches(len(yt), True, self.a.steps):
            y = self.up(yt[idx])
            p = forward(xt, idx, True)
            loss = self.loss_fn(p, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            self.sample()
            total += loss.item() * len(idx)
            correct += ((p > 0.5).float() == y).sum().item()
            seen += len(idx)
        xv, yv = val_inputs
        vl = vc = vn = 0.0
        with torch.no_grad():
            for idx in self.batches(len(yv), False, self.a.val_steps):
                y = self.up(yv[idx])
                p = forward(xv, idx, False)
                vl += self.loss_fn(p, y).item() * len(idx)
                vc += ((p > 0.5).float() == y).sum().item()
                vn += len(idx)
        print(f"  epoch {e + 1}: loss {total / seen:.4f} acc {correct / seen:.4f} "
              f"val_loss {vl / vn:.4f} val_acc {vc / vn:.4f}", flush=True)

    def frozen(self):
        torch = self.torch
        for p in self.feats.parameters():
            p.requires_grad_(False)
        self.feats.eval()
        opt = torch.optim.Adam(self.top.parameters(), lr=1e-4)
        if self.a.every_step:
            def forward(x, idx, train):
                self.top.train(train)
                with torch.no_grad():
                    f = self.feats(self.up(x[idx]))
                return self.top(f)
            train_in, val_in = (self.xt, self.yt), (self.xv, self.yv)
        else:
            with torch.no_grad():
                cache = [torch.cat([self.feats(self.up(x[i:i + self.a.batch]))
                                    for i in range(0, len(x), self.a.batch)])
                         for x in (self.xt, self.xv)]

            def forward(f, idx, train):
                self.top.train(train)
                return self.top(f[idx.to(f.device)])
            train_in, val_in = (cache[0], self.yt), (cache[1], self.yv)
        for e in range(self.a.frozen):
            self.epoch(opt, forward, train_in, val_in, e)

    def unfrozen(self):
        torch = self.torch
        for p in self.feats.parameters():
            p.requires_grad_(True)
        opt = torch.optim.Adam(list(self.feats.parameters()) + list(self.top.parameters()),
                               lr=1e-4)

        def forward(x, idx, train):
            self.feats.train(train)
            self.top.train(train)
            return self.top(self.feats(self.up(x[idx])))
        for e in range(self.a.unfrozen):
            self.epoch(opt, forward, (self.xt, self.yt), (self.xv, self.yv), e)

    def predict(self, root):
        torch = self.torch
        self.feats.eval()
        self.top.eval()
        for name in ("chest_test.png", "abd_test.png"):
            x = torch.from_numpy(load_image(os.path.join(root, "test", name), self.a.side))
            with torch.no_grad():
                p = self.top(self.feats(self.up(x[None])))
            print(f"  {name}: {p.item():.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--every-step", action="store_true", help="run the frozen backbone at "
                    "every step instead of once per image")
    ap.add_argument("--synthetic", action="store_true", help="noise PNGs, not radiographs")
    ap.add_argument("--tiny", action="store_true", help="75 x 75, one epoch of each phase "
                    "of 2 steps and 1 validation step (checks the script)")
    ap.add_argument("--frozen", type=int, default=5)
    ap.add_argument("--unfrozen", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--side", type=int, default=299)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in cuDNN and cuBLAS")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="torch.backends.cudnn.benchmark = True")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: "
                    "PyTorch's default)")
    a = ap.parse_args()
    a.steps = a.val_steps = 0
    if a.tiny:
        a.side, a.frozen, a.unfrozen, a.steps, a.val_steps = 75, 1, 1, 2, 1
    import torch
    if a.device == "cuda" and not torch.cuda.is_available():
        print(f"torch_gpu_bench: PyTorch {torch.__version__} here has no usable CUDA "
              f"(built for CUDA {torch.version.cuda}); nothing measured", file=sys.stderr)
        sys.exit(3)
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    root, tmp = (None if a.synthetic else find_dataset()), None
    if root is None:
        tmp = tempfile.mkdtemp(prefix="torch-gpu-bench-")
        synthetic_dataset(tmp)
    try:
        run(a, root or tmp, root is not None)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run(a, root, real):
    import torch
    t_open = time.perf_counter()
    b = Bench(a)
    t_open = time.perf_counter() - t_open
    name = torch.cuda.get_device_name(b.dev) if b.cuda else "CPU"
    print(f"torch_gpu_bench: PyTorch {torch.__version__} eager, InceptionV3 {a.side}x{a.side}, "
          f"batch {a.batch}, {a.frozen} frozen + {a.unfrozen} unfrozen epochs"
          f"{' (tiny: 2 steps, 1 validation step)' if a.tiny else ''}, images: "
          f"{root if real else 'synthetic noise PNGs'}")
    print(f"device: {name}; math {'TF32 allowed' if a.tf32 else 'float32'}; cudnn.benchmark "
          f"{a.cudnn_benchmark}; {torch.get_num_threads()} CPU threads")
    print(f"opening the device: {t_open:.3f} s (not counted)")
    phases = [("build", b.build, ()), ("data", b.data, (root,)),
              ("frozen", b.frozen, ()), ("unfrozen", b.unfrozen, ()),
              ("predict", b.predict, (root,))]
    t = {}
    for phase, fn, args in phases:
        if phase in ("frozen", "unfrozen", "predict"):
            print({"frozen": "frozen backbone:", "unfrozen": "every layer trainable:",
                   "predict": "predictions:"}[phase])
        t0 = time.perf_counter()
        fn(*args)
        b.sync()
        t[phase] = time.perf_counter() - t0
    total = sum(t.values())
    for phase, _, _ in phases:
        note = ""
        if phase == "frozen":
            note = "  (backbone run at every step)" if a.every_step else \
                   "  (backbone features computed once)"
        print(f"phase {phase:<9} {t[phase]:8.3f} s{note}")
    print(f"total           {total:8.3f} s")
    alloc = torch.cuda.max_memory_allocated(b.dev) / 1e6 if b.cuda else 0.0
    reserved = torch.cuda.max_memory_reserved(b.dev) / 1e6 if b.cuda else 0.0
    used = (b.free_at_open - b.min_free) / 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"memory: peak allocated {alloc:.0f} MB, reserved peak {reserved:.0f} MB, device "
          f"free memory dropped by {used:.0f} MB (mem_get_info), host peak RSS {rss:.0f} MB")
    print(f"RESULT impl=torch device={'gpu' if b.cuda else 'cpu'} " +
          " ".join(f"{p}={t[p]:.3f}" for p, _, _ in phases) +
          f" total={total:.3f} peak_live_mb={alloc:.0f} reserved_mb={reserved:.0f} "
          f"used_mb={used:.0f} rss_mb={rss:.0f} features_once={0 if a.every_step else 1} "
          f"images={'radiographs' if real else 'synthetic'}")


if __name__ == "__main__":
    main()

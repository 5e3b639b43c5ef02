#!/usr/bin/python3
"""Compare the runtime's InceptionV3 / MobileNet with PyTorch.

Runs tests/runtime/dump_model (our C code) into a temporary folder, builds
the same network from PyTorch layers (torchvision's inception_v3; MobileNet
from nn.Conv2d / BatchNorm2d / ReLU6 / ZeroPad2d), loads the HDF5 weights
our code wrote, bridged as reference section 6 says (gamma = 1 where Keras
has none, HWIO -> OIHW kernels, average pooling without the padded cells),
and compares in float64:
  - the inference output (eval mode, moving statistics);
  - the training-mode output (batch statistics);
  - every weight gradient of loss = sum(output * r).
The training pass replays two kinds of decision from ours (dump_model.c):
the ReLU pattern (an element within float32 rounding of 0 or 6) and the
max-pooling choice (a window whose two largest cells lie within float32
rounding of each other). Either decision, taken the other way, moves a
whole gradient term - a difference of the operation's tie-breaking, not of
arithmetic. Max pooling matters for InceptionV3: in the phase-1 run, 9 of
the 2.8M windows of max_pooling2d_1..4 (6, 2, 1, 0) pick another cell
than the float64 argmax; there the float64 gap between the two cells is
2e-10..8e-8 (at most 1.5e-5 of the window maximum, which can be small),
below our activations' own rounding error against float64 (up to 2.7e-7
at max_pooling2d_1), and 0..52 float32 ulps in our values. PyTorch's own
float32 argmax is no steadier (it differs from ours in 12 windows of that
run). Without the replay those few windows put the early kernel gradients
up to 1.5e-3 off in ours and 2.3e-4 in PyTorch float32 (conv2d_2; now
1.0e-6 / 7.0e-6), and the worst gradient of the batch-statistics settings
at 1e-1 (random) and 6e-2 (phase2; now 2.5e-4 and 1.7e-4).
TORCH_REF_VERBOSE=1 prints, per pool, how many windows the replay
overrides in the float64 run and the largest float64 gap among them.
The error of a tensor is max|ours - torch| / max|torch| against PyTorch in
float64; PyTorch's own float32 run is measured the same way in the same
setting. Settings (dump_model.c):
  random  stress weights (BN statistics/gamma/beta away from identity),
          uniform input, batch 2, every layer trainable;
  phase1  the module's frozen-backbone pass: Keras' initial weights (glorot
          kernels, beta 0, moving statistics 0/1), BN frozen so the training
          pass uses the moving statistics, kernels trainable; batch of 4
          radiographs (NEAREST to size, x/255) from HELLODL_DATA_PATH;
  phase2  the unfrozen pass: Keras' initial weights, batch statistics, the
          same 4 radiographs.
Bound: 1e-4 (TOL) wherever PyTorch float32 meets it; in the cases listed in
RELATIVE, where PyTorch float32 itself does not, ours must be within
TORCH_FACTOR (1.5) x PyTorch's float32 error. Gradient medians are asserted
at 1e-4 where PyTorch meets it and reported otherwise.

Measured (ours / torch float32; worst and median gradient tensor):
  model      setting  fwd infer      fwd train      grad worst     grad median
  inception  random   4.3e-7/3.1e-7  2.6e-4/2.0e-4  2.5e-4/1.9e-4  5.8e-5/4.7e-5
  inception  phase1   1.1e-6/7.7e-7  1.1e-6/6.9e-7  1.3e-6/7.0e-6  8.5e-7/1.1e-6
  inception  phase2   1.1e-6/7.7e-7  1.4e-4/1.3e-4  1.7e-4/1.6e-4  3.0e-5/2.8e-5
  mobilenet  random   3.1e-7/3.5e-7  3.3e-5/2.1e-5  2.6e-5/3.6e-5  6.9e-6/6.5e-6
  mobilenet  phase1   1.2e-6/1.3e-6  1.2e-6/1.3e-6  4.4e-6/5.1e-6  9.1e-7/9.7e-7
  mobilenet  phase2   1.2e-6/1.3e-6  1.1e-4/1.2e-4  1.5e-4/1.3e-4  2.7e-5/2.8e-5
Batch statistics on Keras-initialised (or random) deep networks amplify
rounding (the network is chaotic at initialisation), so no honest setting
tried brings PyTorch float32 under 1e-4 there; setting the phase-1 moving
statistics as a phase-2 step leaves them (dump_model phase1-stats) does the
same to the frozen pass (inception: 1.3e-4/1.3e-4 forward, 1.4e-4/1.4e-4
worst gradient). Exits 77 (skip) when torch, torchvision or h5py is
missing, or when the radiographs are not found (the random setting still
runs and must pass).
"""
import argparse
import copy
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    from torchvision.models import inception as tv_inception
except ImportError as e:  # pragma: no cover
    print("skip: %s (install python3-torch, python3-torchvision, python3-h5py)" % e)
    sys.exit(77)

TOL = 1e-4
TORCH_FACTOR = 1.5
IMAGE_BATCH = 4
# Cases held to TORCH_FACTOR x PyTorch's own float32 error instead of TOL
# (see the table above): (model, setting, quantity).
RELATIVE = {
    ("inception", "random", "forward train"), ("inception", "random", "gradients"),
    ("inception", "phase2", "forward train"), ("inception", "phase2", "gradients"),
    ("mobilenet", "phase2", "forward train"), ("mobilenet", "phase2", "gradients"),
}

# ReLU decisions replayed from our training pass (see dump_model.c): an
# element within float32 rounding of 0 or 6 could otherwise take the other
# branch in float64 and move a gradient by a whole term.
SHAPES = {}
MASKS = {}


def act(x, idx, relu6, training):
    if idx not in MASKS:
        SHAPES[idx] = tuple(x.shape)
        return F.relu6(x) if relu6 else F.relu(x)
    m = MASKS[idx]
    return x * (m == 1) + 6.0 * (m == 2)


# Max-pooling choices replayed the same way (dump_model.c): where a window's
# two largest cells differ by less than float32 rounding (radiographs have
# near-flat regions), ours can pick the other cell than the float64
# reference and route that window's gradient elsewhere - an ambiguity of
# the operation, not an arithmetic error (measured in the docstring). Pools
# are numbered in call order within one forward (POOL_NEXT); each replays
# as a gather of the chosen cells, whose backward scatters to them.
POOL_SHAPES = {}
POOLS = {}
POOL_NEXT = [0]
POOL_STATS = {}  # pool -> (windows whose choice differs from the float64 argmax, worst gap)


def maxpool(x, kernel_size, stride=None, padding=0, **kw):
    assert padding == 0 and not kw, (padding, kw)  # InceptionV3's 'valid' pools
    idx = POOL_NEXT[0]
    POOL_NEXT[0] += 1
    if idx not in POOLS:
        y = F.max_pool2d(x, kernel_size, stride)
        POOL_SHAPES[idx] = tuple(y.shape)
        return y
    at = POOLS[idx]
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    y = flat.gather(2, at.reshape(n, c, -1)).reshape(at.shape)
    if x.dtype == torch.float64:  # how far the replayed choices are from ties
        with torch.no_grad():
            best, own = F.max_pool2d(x, kernel_size, stride, return_indices=True)
            differ = own != at
            gap = (best - y) / best.abs().clamp_min(1e-30)
            POOL_STATS[idx] = (int(differ.sum()), differ.numel(),
                               float(gap[differ].max()) if differ.any() else 0.0)
    return y


class MaxPool(nn.Module):
    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride

    def forward(self, x):
        return maxpool(x, self.kernel_size, self.stride)


def load_pools(path):
    raw = np.fromfile(path, dtype=np.int32)
    off = 0
    for idx in sorted(POOL_SHAPES):
        n, c, h, w = POOL_SHAPES[idx]
        size = n * c * h * w
        at = raw[off:off + size].reshape(n, h, w, c).transpose(0, 3, 1, 2)
        POOLS[idx] = torch.from_numpy(np.ascontiguousarray(at).astype(np.int64))
        off += size
    assert off == raw.size, (off, raw.size)


def load_masks(path):
    raw = np.fromfile(path, dtype=np.uint8)
    off = 0
    for idx in sorted(SHAPES):
        n, c, h, w = SHAPES[idx]
        size = n * c * h * w
        m = raw[off:off + size].reshape(n, h, w, c).transpose(0, 3, 1, 2)
        MASKS[idx] = torch.from_numpy(np.ascontiguousarray(m))
        off += size
    assert off == raw.size, (off, raw.size)


def read_weights(path):
    """layer name -> list of (weight name, array) in weight_names order."""
    out = {}
    with h5py.File(path, "r") as f:
        for name in f.attrs["layer_names"]:
            name = name.decode() if isinstance(name, bytes) else name
            g = f[name]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            out[name] = [(n, np.array(g[n])) for n in names]
    return out


def by_var(entries):
    return {n.split("/")[-1].split(":")[0]: a for n, a in entries}


def set_conv(conv, kernel, depthwise=False):
    k = torch.from_numpy(kernel.astype(np.float64))
    conv.weight.data = k.permute(2, 3, 0, 1).contiguous() if depthwise else k.permute(3, 2, 0, 1).contiguous()


def set_bn(bn, entries):
    v = by_var(entries)
    c = v["moving_mean"].shape[0]
    bn.weight.data = torch.from_numpy(v.get("gamma", np.ones(c)).astype(np.float64))
    bn.bias.data = torch.from_numpy(v["beta"].astype(np.float64))
    bn.running_mean.data = torch.from_numpy(v["moving_mean"].astype(np.float64))
    bn.running_var.data = torch.from_numpy(v["moving_variance"].astype(np.float64))


# ---- InceptionV3 ----

def inception_pairs(model):
    convs = [m for m in model.modules() if isinstance(m, tv_inception.BasicConv2d)]
    assert len(convs) == 94, len(convs)
    return [(m, "conv2d_%d" % (i + 1), "batch_normalization_%d" % (i + 1)) for i, m in enumerate(convs)]


def patch_inception():
    if getattr(tv_inception, "_hellodl_patched", False):
        return
    tv_inception._hellodl_patched = True
    orig = tv_inception.F.avg_pool2d

    def avg_pool_tf(x, *args, **kw):  # TF 'same' pooling divides by real cells
        kw["count_include_pad"] = False
        return orig(x, *args, **kw)

    class PatchedF:
        def __getattr__(self, name):
            return {"avg_pool2d": avg_pool_tf, "max_pool2d": maxpool}.get(name) or getattr(F, name)

    tv_inception.F = PatchedF()

    def basic_forward(self, x):
        return act(self.bn(self.conv(x)), self.act_index, False, self.training)

    tv_inception.BasicConv2d.forward = basic_forward


def build_inception(weights):
    patch_inception()
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False,
                                            transform_input=False).double()
    model.maxpool1 = MaxPool(3, 2)
    model.maxpool2 = MaxPool(3, 2)
    params = {}
    for i, (m, cname, bname) in enumerate(inception_pairs(model)):
        m.act_index = i
        set_conv(m.conv, by_var(weights[cname])["kernel"])
        set_bn(m.bn, weights[bname])
        params[cname + "/kernel"] = (m.conv.weight, "conv")
        params[bname + "/beta"] = (m.bn.bias, "vec")
    return model, params


def inception_features(model, x):
    POOL_NEXT[0] = 0
    for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                 "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                 "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]:
        x = getattr(model, name)(x)
    return x


# ---- MobileNet v1 (keras_applications layout) ----

STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]


class Act(nn.Module):
    def __init__(self, idx):
        super().__init__()
        self.idx = idx

    def forward(self, x):
        return act(x, self.idx, True, self.training)


class MobileNet(nn.Module):
    def __init__(self, weights):
        super().__init__()
        layers, self.names = [], []
        params = {}

        def conv(name, kernel, stride, pad, depthwise=False):
            kh, kw, cin, cout = kernel.shape
            if depthwise:
                m = nn.Conv2d(cin, cin, 3, stride, pad, groups=cin, bias=False)
            else:
                m = nn.Conv2d(cin, cout, (kh, kw), stride, pad, bias=False)
            m = m.double()
            set_conv(m, kernel, depthwise)
            params[name + ("/depthwise_kernel" if depthwise else "/kernel")] = (
                m.weight, "dw" if depthwise else "conv")
            layers.append(m)

        def bn(name):
            m = nn.BatchNorm2d(weights[name][0][1].shape[0], eps=1e-3).double()
            set_bn(m, weights[name])
            params[name + "/gamma"] = (m.weight, "vec")
            params[name + "/beta"] = (m.bias, "vec")
            layers.extend([m, Act(len(params))])

        layers.append(nn.ZeroPad2d((0, 1, 0, 1)))
        conv("conv1", by_var(weights["conv1"])["kernel"], 2, 0)
        bn("conv1_bn")
        for i, s in enumerate(STRIDES, 1):
            if s == 2:
                layers.append(nn.ZeroPad2d((0, 1, 0, 1)))
            conv("conv_dw_%d" % i, by_var(weights["conv_dw_%d" % i])["depthwise_kernel"], s,
                 1 if s == 1 else 0, depthwise=True)
            bn("conv_dw_%d_bn" % i)
            conv("conv_pw_%d" % i, by_var(weights["conv_pw_%d" % i])["kernel"], 1, 0)
            bn("conv_pw_%d_bn" % i)
        self.body = nn.Sequential(*layers)
        self.params = params

    def forward(self, x):
        return self.body(x)


def load_bin(path, shape):
    return np.fromfile(path, dtype=np.float32).reshape(shape)


def rel_err(ours, ref):
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-30))


def grad_to_keras(t, kind):
    g = t.grad.detach().numpy()
    if kind == "conv":
        return g.transpose(2, 3, 1, 0)
    if kind == "dw":
        return g.transpose(2, 3, 0, 1)
    return g


def compare(kind, d, setting, batch, h, w):
    """The errors of one dump: a list of (quantity, ours, torch float32)
    where a gradient quantity compares per-tensor error lists."""
    weights = read_weights(os.path.join(d, "weights.h5"))
    grads = {k: by_var(v) for k, v in read_weights(os.path.join(d, "grads.h5")).items()}
    if kind == "inception":
        model, params = build_inception(weights)
        run_on = lambda mdl: (lambda z: inception_features(mdl, z))
    else:
        model = MobileNet(weights)
        params = model.params
        run_on = lambda mdl: mdl
    if setting.startswith("phase1"):  # frozen BN: only the kernels get gradients
        params = {k: v for k, v in params.items() if v[1] != "vec"}
    x = torch.from_numpy(load_bin(os.path.join(d, "x.bin"), (batch, h, w, 3)).astype(np.float64))
    x = x.permute(0, 3, 1, 2).contiguous()
    SHAPES.clear()
    MASKS.clear()
    POOL_SHAPES.clear()
    POOLS.clear()
    POOL_STATS.clear()
    model.eval()
    m32 = copy.deepcopy(model).float().eval()
    with torch.no_grad():
        ref = run_on(model)(x).permute(0, 2, 3, 1).numpy()
        ref32 = run_on(m32)(x.float()).permute(0, 2, 3, 1).numpy()
    rows = [("forward (inference)",
             rel_err(load_bin(os.path.join(d, "out_infer.bin"), ref.shape), ref), rel_err(ref32, ref))]

    # The training pass: batch statistics, or (phase1) the frozen layers'
    # moving statistics; ReLU decisions replayed from ours in both runs.
    load_masks(os.path.join(d, "masks.bin"))
    load_pools(os.path.join(d, "pools.bin"))
    train = not setting.startswith("phase1")
    model.train(train)
    m32 = copy.deepcopy(model).float().train(train)
    ref_t = run_on(model)(x).permute(0, 2, 3, 1)
    r = torch.from_numpy(load_bin(os.path.join(d, "r.bin"), ref_t.shape).astype(np.float64))
    (ref_t * r).sum().backward()
    out32 = run_on(m32)(x.float()).permute(0, 2, 3, 1)
    (out32 * r.float()).sum().backward()
    ref_t = ref_t.detach().numpy()
    if os.environ.get("TORCH_REF_VERBOSE"):
        for idx, (differ, total, gap) in sorted(POOL_STATS.items()):
            print("  max_pooling2d_%d: ours picks another cell than the float64 argmax in %d of "
                  "%d windows, float64 (max - ours) / |max| <= %.2e" % (idx + 1, differ, total, gap))
    what = "forward (training pass, %s)" % ("moving statistics" if not train
                                            else "batch statistics")
    rows.append((what, rel_err(load_bin(os.path.join(d, "out_train.bin"), ref_t.shape), ref_t),
                 rel_err(out32.detach().numpy(), ref_t)))
    names32 = dict(m32.named_parameters())
    by_id = {id(t): n for n, t in model.named_parameters()}
    ours_g, t32_g = {}, {}
    for key, (t, k) in params.items():
        layer, var = key.split("/")
        ref_g = grad_to_keras(t, k)
        ours_g[key] = rel_err(grads[layer][var], ref_g)
        t32_g[key] = rel_err(grad_to_keras(names32[by_id[id(t)]], k), ref_g)
        if os.environ.get("TORCH_REF_VERBOSE"):
            print("  %-40s %.3e (torch float32 %.3e)" % (key, ours_g[key], t32_g[key]))
    rows.append(("gradients (%d tensors)" % len(params), ours_g, t32_g))
    return rows


def bound(kind, setting, quantity, t32):
    """TOL wherever PyTorch's float32 run meets it or the case is declared
    strict; otherwise TORCH_FACTOR x PyTorch's own float32 error."""
    if (kind, setting, quantity) not in RELATIVE or t32 < TOL:
        return TOL, "1e-4"
    return TORCH_FACTOR * t32, "%.1fx torch" % TORCH_FACTOR


def data_dir():
    for p in os.environ.get("HELLODL_DATA_PATH", "").split(":"):
        d = os.path.join(p, "hello-world-deep-learning-siim", "data", "train") if p else ""
        if d and all(os.path.isdir(os.path.join(d, c)) for c in ("abd", "chst")):
            return d
    return None


def images(n):
    """n training radiographs, the two classes alternating."""
    d = data_dir()
    if d is None:
        return None
    by_class = [sorted(os.path.join(d, c, f) for f in os.listdir(os.path.join(d, c))
                       if f.endswith(".png")) for c in ("abd", "chst")]
    return [by_class[i % 2][i // 2] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True, help="path to dump_model")
    ap.add_argument("--kind", choices=["inception", "mobilenet"], required=True)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2, help="batch of the random setting")
    ap.add_argument("--image-batch", type=int, default=IMAGE_BATCH)
    ap.add_argument("--settings", default="random,phase1,phase2")
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("HELLODL_THREADS", "2")))
    size = a.size or (299 if a.kind == "inception" else 224)
    ok, skipped = True, []
    print("%-9s %-12s %-48s %10s %10s %10s  %s" % ("model", "setting", "quantity", "ours",
                                                 "torch f32", "bound", ""))
    for setting in a.settings.split(","):
        batch, extra = a.batch, []
        if setting != "random":
            batch = a.image_batch
            extra = images(batch)
            if extra is None:
                skipped.append(setting)
                print("%-9s %-12s skipped: no hello-world-deep-learning-siim/data/train on "
                      "HELLODL_DATA_PATH" % (a.kind, setting))
                continue
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([a.exe, a.kind, d, str(size), str(size), str(batch), setting] + extra,
                           check=True, stdout=subprocess.DEVNULL)
            rows = compare(a.kind, d, setting, batch, size, size)
        for quantity, ours, t32 in rows:
            if isinstance(ours, dict):  # gradients: worst tensor, and the median
                worst = max(ours, key=ours.get)
                checks = [(quantity + " worst (%s)" % worst, ours[worst], max(t32.values())),
                          (quantity + " median", float(np.median(list(ours.values()))),
                           float(np.median(list(t32.values()))))]
                key = "gradients"
            else:
                checks, key = [(quantity, ours, t32)], quantity.split(" (")[0] + (
                    " train" if "training" in quantity else "")
            for what, e, b in checks:
                tol, rule = bound(a.kind, setting, key, b)
                if what.endswith("median") and rule != "1e-4":
                    rule = "reported only"  # the worst tensor carries the bound
                    tol = float("inf")
                good = e < tol
                ok &= good
                print("%-9s %-12s %-48s %10.3e %10.3e %10.3e  %s%s" % (
                    a.kind, setting, what[:48], e, b, tol, "ok" if good else "FAIL",
                    "" if rule == "1e-4" else " (" + rule + ")"))
    if not ok:
        sys.exit(1)
    sys.exit(77 if skipped else 0)


if __name__ == "__main__":
    main()

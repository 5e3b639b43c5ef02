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
The error of a tensor is max|ours - torch| / max|torch|; all must be below
1e-4. Exits 77 (skip) when torch, torchvision or h5py is missing.
"""
import argparse
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

# ReLU decisions replayed from our training pass (see dump_model.c): an
# element within float32 rounding of 0 or 6 could otherwise take the other
# branch in float64 and move a gradient by a whole term.
SHAPES = {}
MASKS = {}


def act(x, idx, relu6, training):
    if not training or idx not in MASKS:
        SHAPES[idx] = tuple(x.shape)
        return F.relu6(x) if relu6 else F.relu(x)
    m = MASKS[idx]
    return x * (m == 1) + 6.0 * (m == 2)


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


def build_inception(weights):
    orig = tv_inception.F.avg_pool2d

    def avg_pool_tf(x, *args, **kw):  # TF 'same' pooling divides by real cells
        kw["count_include_pad"] = False
        return orig(x, *args, **kw)

    class PatchedF:
        def __getattr__(self, name):
            return avg_pool_tf if name == "avg_pool2d" else getattr(F, name)

    tv_inception.F = PatchedF()
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False,
                                            transform_input=False).double()

    def basic_forward(self, x):
        return act(self.bn(self.conv(x)), self.act_index, False, self.training)

    tv_inception.BasicConv2d.forward = basic_forward
    params = {}
    for i, (m, cname, bname) in enumerate(inception_pairs(model)):
        m.act_index = i
        set_conv(m.conv, by_var(weights[cname])["kernel"])
        set_bn(m.bn, weights[bname])
        params[cname + "/kernel"] = (m.conv.weight, "conv")
        params[bname + "/beta"] = (m.bn.bias, "vec")
    return model, params


def inception_features(model, x):
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


def compare(kind, d, batch, h, w):
    weights = read_weights(os.path.join(d, "weights.h5"))
    grads = {k: by_var(v) for k, v in read_weights(os.path.join(d, "grads.h5")).items()}
    if kind == "inception":
        model, params = build_inception(weights)
        run = lambda x: inception_features(model, x)
    else:
        model = MobileNet(weights)
        params = model.params
        run = model
    x = torch.from_numpy(load_bin(os.path.join(d, "x.bin"), (batch, h, w, 3)).astype(np.float64))
    x = x.permute(0, 3, 1, 2).contiguous()
    model.eval()
    with torch.no_grad():
        ref = run(x).permute(0, 2, 3, 1).numpy()
    results = [("forward (inference)", rel_err(load_bin(os.path.join(d, "out_infer.bin"), ref.shape), ref))]
    load_masks(os.path.join(d, "masks.bin"))
    model.train()
    out = run(x)
    ref_t = out.permute(0, 2, 3, 1)
    results.append(("forward (training, batch statistics)",
                    rel_err(load_bin(os.path.join(d, "out_train.bin"), ref_t.shape), ref_t.detach().numpy())))
    r = torch.from_numpy(load_bin(os.path.join(d, "r.bin"), ref_t.shape).astype(np.float64))
    (ref_t * r).sum().backward()
    worst, worst_name = 0.0, ""
    for key, (t, k) in params.items():
        layer, var = key.split("/")
        e = rel_err(grads[layer][var], grad_to_keras(t, k))
        if os.environ.get("TORCH_REF_VERBOSE"):
            print("  %-40s %.3e" % (key, e))
        if e > worst:
            worst, worst_name = e, key
    results.append(("gradients (%d tensors), worst %s" % (len(params), worst_name), worst))
    base = float32_baseline(model, run, x, r, params, ref_t.detach().numpy())
    ok = True
    for (what, e), b in zip(results, [0.0] + base):
        # Training-mode numbers divide by batch standard deviations, which
        # amplifies float32 rounding; where PyTorch's own float32 run is
        # further from float64 than TOL, allow 4x what PyTorch reaches.
        tol = max(TOL, 4.0 * b)
        note = "" if not b else " (torch float32: %.3e)" % b
        print("%-60s max rel err %.3e%s %s" % (what, e, note, "ok" if e < tol else "FAIL"))
        ok &= e < tol
    return ok


def float32_baseline(model, run, x, r, params, ref_out):
    """How far PyTorch itself in float32 lands from float64 (same masks)."""
    import copy
    ref_grads = {k: grad_to_keras(t, kind) for k, (t, kind) in params.items()}
    m32 = copy.deepcopy(model).float()
    m32.train()
    for t in m32.parameters():
        t.grad = None
    for k in MASKS:
        MASKS[k] = MASKS[k].float()
    out = (m32 if run is model else (lambda z: inception_features(m32, z)))(x.float())
    out = out.permute(0, 2, 3, 1)
    (out * r.float()).sum().backward()
    e_out = rel_err(out.detach().numpy(), ref_out)
    names = dict(model.named_parameters())
    names32 = dict(m32.named_parameters())
    by_id = {id(t): n for n, t in names.items()}
    worst = 0.0
    for k, (t, kind) in params.items():
        t32 = names32[by_id[id(t)]]
        worst = max(worst, rel_err(grad_to_keras(t32, kind), ref_grads[k]))
    return [e_out, worst]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True, help="path to dump_model")
    ap.add_argument("--kind", choices=["inception", "mobilenet"], required=True)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("HELLODL_THREADS", "2")))
    size = a.size or (299 if a.kind == "inception" else 224)
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([a.exe, a.kind, d, str(size), str(size), str(a.batch)], check=True)
        ok = compare(a.kind, d, a.batch, size, size)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

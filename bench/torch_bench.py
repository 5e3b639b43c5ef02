#!/usr/bin/python3
"""The module's workload in the runtime and in PyTorch, same machine, same run,
same thread count; each workload in its own process so that its peak RSS
(ru_maxrss) is its own.

    OMP_WAIT_POLICY=passive /usr/bin/python3 bench/torch_bench.py \
        --exe build/bench/runtime_bench [--threads 2] [--models inception,mobilenet]

Workloads (see runtime_bench.c): frozen = one pass of 65 images (8 x 8 + 1)
training the top with the backbone frozen (backbone run every step, as with
augmentation) + 10 validation images; unfrozen = the same, everything
trainable; infer = one image. PyTorch: torchvision inception_v3 (no aux) or
MobileNet 0.25 from torch layers, the same top, Adam, float32, NCHW, the
frozen backbone in eval() under no_grad.
"""
import argparse
import os
import resource
import subprocess
import sys
import time


def torch_worker(model_name, work, threads):
    import torch
    import torch.nn as nn
    import torchvision
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model_name == "inception":
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
        feats = nn.Sequential(*[getattr(net, n) for n in [
            "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
            "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
            "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]])
        side, ch = 299, 2048
    else:
        layers, cin = [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 8, 3, 2, bias=False),
                       nn.BatchNorm2d(8, eps=1e-3), nn.ReLU6()], 8
        for f, s in zip([64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024],
                        [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]):
            f = f // 4
            if s == 2:
                layers.append(nn.ZeroPad2d((0, 1, 0, 1)))
            layers += [nn.Conv2d(cin, cin, 3, s, 1 if s == 1 else 0, groups=cin, bias=False),
                       nn.BatchNorm2d(cin, eps=1e-3), nn.ReLU6(),
                       nn.Conv2d(cin, f, 1, bias=False), nn.BatchNorm2d(f, eps=1e-3), nn.ReLU6()]
            cin = f
        feats, side, ch = nn.Sequential(*layers), 224, 256
    top = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, 256), nn.ReLU(),
                        nn.Dropout(0.5), nn.Linear(256, 1), nn.Sigmoid())
    x = torch.rand(8, 3, side, side)
    y = torch.tensor([float(i % 2) for i in range(72)]).reshape(-1, 1)
    loss_fn = nn.BCELoss()
    t0 = time.perf_counter()
    if work == "infer":
        feats.eval()
        top.eval()
        with torch.no_grad():
            top(feats(x[:1]))
    else:
        frozen = work == "frozen"
        params = list(top.parameters()) + ([] if frozen else list(feats.parameters()))
        opt = torch.optim.Adam(params, lr=1e-4)
        feats.train(not frozen)
        top.train()
        for i in range(0, 65, 8):
            n = min(8, 65 - i)
            opt.zero_grad()
            if frozen:
                with torch.no_grad():
                    f = feats(x[:n])
            else:
                f = feats(x[:n])
            loss = loss_fn(top(f), y[i:i + n])
            loss.backward()
            opt.step()
        feats.eval()
        top.eval()
        with torch.no_grad():
            for i in range(0, 10, 8):
                top(feats(x[:min(8, 10 - i)]))
    t = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT %s %s %.3f %.1f" % (model_name, work, t, rss))


def run(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
        return None, out.stdout
    line = [l for l in out.stdout.splitlines() if l.startswith("RESULT")][0].split()
    return (float(line[3]), float(line[4])), out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="inception,mobilenet")
    ap.add_argument("--worker", nargs=2)
    a = ap.parse_args()
    if a.worker:
        torch_worker(a.worker[0], a.worker[1], a.threads)
        return
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads),
               OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))
    rows = []
    for model in a.models.split(","):
        for work in ["frozen", "unfrozen", "infer"]:
            ours, text = run([a.exe, model, work, "--profile"], env)
            theirs, _ = run([sys.executable, __file__, "--threads", str(a.threads),
                             "--worker", model, work], env)
            print("== %s %s: per-op profile of the runtime ==" % (model, work))
            print("\n".join(l for l in text.splitlines() if not l.startswith("RESULT")))
            rows.append((model, work, ours, theirs))
    print("%-10s %-9s %12s %12s %7s %12s %12s" % ("model", "workload", "ours s", "torch s",
                                                 "ratio", "ours MB", "torch MB"))
    for model, work, o, t in rows:
        if o and t:
            print("%-10s %-9s %12.2f %12.2f %7.2f %12.0f %12.0f" % (model, work, o[0], t[0],
                                                                   o[0] / t[0], o[1], t[1]))


if __name__ == "__main__":
    main()

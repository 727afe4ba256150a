#!/usr/bin/python3
"""
Training throughput of one block of a compiled meanet model in PyTorch (CPU), as a reference point
for the wasm backend's figures.

  /usr/bin/python3 bench/torch_train.py --ir BUILD/ir.json --block main --exit main \
      [--batch B] [--steps N] [--threads T] [--lr LR] [--data DIR] [--seed S]

The block is built from ir.json (the nodes of `blocks[].nodes`, their ops and attributes, the shapes
of `tensors[]`), not from a hand copy of the spec. PyTorch runs it in NCHW where meanet runs NHWC:
the flattened order differs, the sizes do not. Initialisation follows meanet: He normal
(truncated at two standard deviations, as tfjs draws it) for convolutions, Glorot uniform for dense
layers, zero biases, batch norm γ = 1 and β = 0. Images are Fashion-MNIST's training images (IDX
files, optionally gzipped) scaled to [0, 1]; the loss is softmax cross-entropy on the exit's logits.
The optimizer is the spec's (the stage that trains the block), its learning rate replaced by --lr.

One untimed warm-up step, then N timed steps. Prints one JSON line. FLOPs per sample = 6 × the
block's MACs (forward, and the two gradient products of the backward pass), as bench/train.ts counts.
Tensors the block reads from other blocks (frozen there) are fed as fixed random maps of their shape.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

SKIP = "python3-torch is not installed (apt-get install -y python3-torch)"

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"framework": "pytorch", "skipped": SKIP}))
    sys.exit(0)


class IrError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Data


def read_idx(path):
    """An IDX file (plain or .gz) as a numpy array of its dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise IrError(f"{path}: not an IDX file of unsigned bytes")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise IrError(f"{directory}: neither {stem} nor {stem}.gz")


# ---------------------------------------------------------------------------------------------
# Padding as meanet (tfjs) does it


def same_pads(size, kernel, stride, dilation):
    """TensorFlow's "same" padding along one axis: (before, after); the odd pixel goes after."""
    eff = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def window_pads(padding, hw, kernel, stride, dilation=1):
    """(top, bottom, left, right) for a padding attribute of "same", "valid" or a number."""
    if padding == "same":
        t, b = same_pads(hw[0], kernel, stride, dilation)
        l, r = same_pads(hw[1], kernel, stride, dilation)
        return t, b, l, r
    if padding == "valid":
        return 0, 0, 0, 0
    if isinstance(padding, (int, float)) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    raise IrError(f"unknown padding {padding!r}")


class Conv(nn.Module):
    """conv2d / depthwise_conv2d; asymmetric "same" padding is explicit zero padding first."""

    def __init__(self, cin, cout, kernel, stride, pads, dilation, groups, bias):
        super().__init__()
        t, b, l, r = pads
        symmetric = t == b == l == r
        self.pad = None if symmetric else (l, r, t, b)
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=t if symmetric else 0, dilation=dilation, groups=groups, bias=bias)
        fan_in = (cin // groups) * kernel * kernel
        std = math.sqrt(2.0 / fan_in)
        nn.init.trunc_normal_(self.conv.weight, 0.0, std, -2 * std, 2 * std)
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        return self.conv(x)


class Pool(nn.Module):
    """max_pool / avg_pool. "same" pads as tfjs: −∞ for max, and an average over the real pixels only."""

    def __init__(self, op, kernel, stride, padding, pads):
        super().__init__()
        self.op, self.kernel, self.stride = op, kernel, stride
        self.same = padding == "same" and any(pads)
        # Number padding in meanet is a pad layer (−∞ for max, 0 for average) and then a valid pool.
        self.pad = (pads[2], pads[3], pads[0], pads[1]) if any(pads) else None

    def forward(self, x):
        if self.pad is None:
            return F.max_pool2d(x, self.kernel, self.stride) if self.op == "max_pool" else F.avg_pool2d(x, self.kernel, self.stride)
        if self.op == "max_pool":
            return F.max_pool2d(F.pad(x, self.pad, value=-math.inf), self.kernel, self.stride)
        y = F.avg_pool2d(F.pad(x, self.pad), self.kernel, self.stride)
        if not self.same:
            return y
        ones = F.pad(torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype), self.pad)
        return y / F.avg_pool2d(ones, self.kernel, self.stride)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def chw(shape):
    """meanet's H×W×C (or a vector) as PyTorch's C×H×W."""
    return [shape[2], shape[0], shape[1]] if len(shape) == 3 else list(shape)


def node_module(ir, node):
    a = node["attrs"]
    op = node["op"]
    ins = [ir["tensors"][t]["shape"] for t in node["inputs"]]
    out = ir["tensors"][node["output"]]["shape"]
    x = ins[0] if ins else None
    if op == "conv2d":
        k, s, d = a["kernel"], a["stride"], a["dilation"]
        return Conv(x[2], a["filters"], k, s, window_pads(a["padding"], x, k, s, d), d, a["groups"], a["bias"])
    if op == "depthwise_conv2d":
        k, s, d = a["kernel"], a["stride"], a["dilation"]
        return Conv(x[2], x[2] * a["multiplier"], k, s, window_pads(a["padding"], x, k, s, d), d, x[2], a["bias"])
    if op == "batchnorm":
        # Both conventions weigh the new batch by `momentum` (meanet states it the PyTorch way).
        bn = nn.BatchNorm2d(x[2], eps=a["epsilon"], momentum=a["momentum"]) if len(x) == 3 else nn.BatchNorm1d(x[0], eps=a["epsilon"], momentum=a["momentum"])
        return bn
    if op == "relu":
        return nn.ReLU()
    if op == "relu6":
        return nn.ReLU6()
    if op == "add":
        return Lambda(lambda *xs: sum(xs[1:], xs[0]))
    if op == "concat":
        return Lambda(lambda *xs: torch.cat(xs, dim=1))
    if op in ("max_pool", "avg_pool"):
        k = a["kernel"]
        s = a.get("stride", k)
        return Pool(op, k, s, a["padding"], window_pads(a["padding"], x, k, s))
    if op == "global_avg_pool":
        return Lambda(lambda t: t.mean(dim=(2, 3)))
    if op == "dense":
        if len(x) != 1:
            raise IrError(f"dense over a rank-{len(x)} tensor (node {node['name']})")
        lin = nn.Linear(x[0], a["units"], bias=a["bias"])
        nn.init.xavier_uniform_(lin.weight)
        if a["bias"]:
            nn.init.zeros_(lin.bias)
        return lin
    if op == "dropout":
        return nn.Dropout(a["rate"])
    if op == "flatten":
        return nn.Flatten()
    if op == "pad":
        sides = (a["left"], a["right"], a["top"], a["bottom"])
        ch = a.get("channels", 0)
        return Lambda(lambda t: F.pad(t, sides + (0, ch)))
    if op == "softmax":
        return nn.Softmax(dim=1)
    raise IrError(f"op `{op}` (node {node['name']}) has no PyTorch lowering in bench/torch_train.py")


class BlockModel(nn.Module):
    """One block of ir.json: its nodes in order, tensors kept by id; outputs the requested tensor."""

    def __init__(self, ir, block, output):
        super().__init__()
        self.ir = ir
        self.nodes = [ir["nodes"][n] for n in block["nodes"]]
        produced = {n["output"] for n in self.nodes}
        self.inputs = sorted({t for n in self.nodes for t in n["inputs"] if t not in produced})
        self.output = output
        self.layers = nn.ModuleList([node_module(ir, n) for n in self.nodes])

    def forward(self, *xs):
        values = dict(zip(self.inputs, xs))
        for node, layer in zip(self.nodes, self.layers):
            values[node["output"]] = layer(*(values[t] for t in node["inputs"]))
        return values[self.output]


def check_shapes(model, ir, inputs):
    """One forward pass in eval mode: every node's output must have the shape ir.json gives it."""
    values = dict(zip(model.inputs, inputs))
    model.eval()
    with torch.no_grad():
        for node, layer in zip(model.nodes, model.layers):
            y = layer(*(values[t] for t in node["inputs"]))
            want = chw(ir["tensors"][node["output"]]["shape"])
            if list(y.shape[1:]) != want:
                raise IrError(f"node {node['name']} ({node['op']}): PyTorch gives {list(y.shape[1:])}, ir.json {want} (C×H×W)")
            values[node["output"]] = y
    model.train()


# ---------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ir", required=True)
    p.add_argument("--block", required=True)
    p.add_argument("--exit", help="the exit whose logits are trained (default: the block's only exit)")
    p.add_argument("--batch", type=int, help="default: the batch of the stage that trains the block")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, help="default: the learning rate of the stage's optimizer")
    p.add_argument("--data", default="data/fashion-mnist")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    interop = None
    try:
        torch.set_num_interop_threads(1)
        interop = 1
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)

    with open(args.ir) as f:
        ir = json.load(f)
    block = next((b for b in ir["blocks"] if b["name"] == args.block), None)
    if block is None:
        raise IrError(f"no block `{args.block}` (blocks: {', '.join(b['name'] for b in ir['blocks'])})")
    exits = [x for x in ir["exits"] if x["block"] == args.block]
    if args.exit is None and len(exits) != 1:
        raise IrError(f"block `{args.block}` has {len(exits)} exits; name one with --exit")
    exit_ = next((x for x in exits if args.exit is None or x["name"] == args.exit), None)
    if exit_ is None:
        raise IrError(f"no exit `{args.exit}` in block `{args.block}` (its exits: {', '.join(x['name'] for x in exits) or 'none'})")
    stage = next((s for s in ir["training"]["stages"] if args.block in s["train"]), None)
    spec_opt = stage["optimizer"] if stage else {"kind": "adam", "lr": 0.002, "weightDecay": 0}
    batch = args.batch or (stage["batch"] if stage else 128)
    lr = args.lr if args.lr is not None else spec_opt["lr"]

    model = BlockModel(ir, block, exit_["tensor"])
    params_torch = sum(p.numel() for p in model.parameters())
    params_ir = sum(n["params"] for n in model.nodes)
    macs = sum(n["macs"] for n in model.nodes)
    if params_torch != params_ir:
        raise IrError(f"block `{args.block}`: {params_torch} parameters in PyTorch, {params_ir} in ir.json")
    classes = ir["tensors"][exit_["tensor"]]["shape"]
    if len(classes) != 1:
        raise IrError(f"exit `{exit_['name']}` is not a vector of logits: shape {classes}")
    classes = classes[0]

    # Data: the image input from Fashion-MNIST; tensors from other blocks as fixed random maps.
    count = batch * (args.steps + 1)
    images = read_idx(find_idx(args.data, "train-images-idx3-ubyte"))
    labels = read_idx(find_idx(args.data, "train-labels-idx1-ubyte"))
    if images.shape[0] < count:
        reps = -(-count // images.shape[0])
        images, labels = np.concatenate([images] * reps), np.concatenate([labels] * reps)
    h, w, c = ir["input"]["shape"]
    if images.shape[1:] != (h, w) or c != 1:
        raise IrError(f"the data's images are {images.shape[1:]}; the model's input is {h}×{w}×{c}")
    x_all = torch.from_numpy(images[:count].astype(np.float32) / 255.0).reshape(count, 1, h, w)
    y_all = torch.from_numpy(labels[:count].astype(np.int64))
    if classes != len(ir["labels"]):
        y_all = y_all % classes  # an exit over a subset of classes: any labels in range do for timing
    gen = torch.Generator().manual_seed(args.seed)
    others = {t: torch.randn([batch] + chw(ir["tensors"][t]["shape"]), generator=gen) for t in model.inputs if t != ir["input"]["tensor"]}

    def batch_inputs(i):
        return [x_all[i * batch : (i + 1) * batch] if t == ir["input"]["tensor"] else others[t] for t in model.inputs]

    check_shapes(model, ir, batch_inputs(0))

    if spec_opt["kind"] == "adam":
        # tfjs's Adam: β = (0.9, 0.999), ε = 1e-7.
        opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7, weight_decay=spec_opt.get("weightDecay", 0))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=spec_opt["momentum"], nesterov=spec_opt["nesterov"], weight_decay=spec_opt["weightDecay"])
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(*batch_inputs(i)), y_all[i * batch : (i + 1) * batch])
        loss.backward()
        opt.step()
        return loss.item()

    step(0)  # warm-up, untimed
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(1, args.steps + 1):
        last = step(i)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sps = args.steps * batch / seconds
    print(
        json.dumps(
            {
                "framework": "pytorch",
                "torch": torch.__version__,
                "block": args.block,
                "exit": exit_["name"],
                "batch": batch,
                "threads": torch.get_num_threads(),
                "interopThreads": interop,
                "steps": args.steps,
                "samplesPerSecond": round(sps, 1),
                "seconds": round(seconds, 3),
                # CPU seconds of the process over the timed steps: well under threads × seconds means
                # the threads waited (on a shared machine, for other processes).
                "cpuSeconds": round(cpu, 3),
                "macsPerSample": macs,
                "gflops": round(sps * 6 * macs / 1e9, 2),
                "paramsTorch": params_torch,
                "paramsIr": params_ir,
                "optimizer": {"kind": spec_opt["kind"], "lr": lr},
                "lastLoss": round(last, 4),
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except IrError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)

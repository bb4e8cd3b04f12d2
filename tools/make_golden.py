#!/usr/bin/python3
"""Write the PyTorch golden fixtures that tests/models compares Strata with.

Needs Debian's python3-torch and numpy (run with /usr/bin/python3). From the repository root:

  /usr/bin/python3 tools/make_golden.py        (writes tests/fixtures/golden/, about 400 kB)

The output is deterministic on one machine (same torch version and CPU, same bytes; another CPU
may change the last digits of the float64 values, so keep the files of unchanged models when
regenerating). Every JSON file carries
"format_version" (FORMAT_VERSION below); bump it when a file's layout changes, and the C++ tests,
which check it, with it. Files written:

  arch_<model>.json        for every zoo model of MODELS.md, built as its exact torch.nn tree:
                           parameter count, every state_dict key with its shape and dtype in
                           order, str(model) (PyTorch's printout), and the output shape of every
                           top-level child for the model's default input (eval mode, zeros).
  numerics_<model>.json    lenet-bn, lenet-gluon, lenet-bn-gluon (batch 8 at 28x28) and resnet18
                           (batch 2 at 56x56): weights
  numerics_<model>.safetensors  and input from the formula below, then the logits in training
                           mode, the cross-entropy loss for fixed labels, for every parameter its
                           gradient's sum, sum of absolute values, L2 norm and values at 8 fixed
                           flat indices, and (in the .safetensors) every BatchNorm's running_mean
                           and running_var after that training-mode forward; then the logits in
                           evaluation mode with those updated running statistics. Computed in
                           float64 from float32-rounded weights and inputs, so the values are
                           what exact arithmetic gives for the float32 model; "torch_float32"
                           records how far PyTorch's own float32 run is from them.
                           resnet18 runs at 56x56 rather than 28x28: at 28x28 its last stage is
                           1x1, so each BatchNorm there normalises 2 values per channel, and the
                           training-mode logits and gradients become so ill-conditioned that
                           PyTorch's own float32 run misses the float64 values by 9e-4 (logits)
                           and 5x the gradient's RMS; at 56x56 (2x2, 8 values) by 1e-6 and 1e-4.
                           lenet-bn takes batch 8 for the same reason: with 4 samples per
                           BatchNorm1d feature PyTorch's float32 gradients miss by 6e-4 of the RMS.
  lenet_bn_torch.safetensors  a PyTorch lenet-bn (seeded default init, running statistics moved
                           by two training-mode batches) exported by tools/torch_weights.py with
                           the command in EXPORT_COMMAND below;
  lenet_bn_torch.json      the float32 logits PyTorch computes with those weights for the
                           formula input, in evaluation mode and then in training mode.

The formula (tests/models/golden.hpp computes the same in C++): tensor number k gets
  value[i] = float32(offset + scale * (2 * u - 1)),  u = (splitmix64(k * 2^32 + i) >> 11) * 2^-53
for its flat (row-major) index i: a uniform value in [-1, 1) from an integer hash, computed
exactly alike by both languages. The k-th parameter of named_parameters() (k = 1, 2, ...) uses
  Conv/Linear weight  offset 0, scale sqrt(6 / fan_in), fan_in = prod(shape[1:]) (Kaiming
                      uniform for ReLU: activations keep their scale through the evaluation pass)
  Conv/Linear bias    offset 0, scale 1 / sqrt(fan_in) of the layer's weight (PyTorch's bound)
  BatchNorm weight    offset 1, scale 0.2
  BatchNorm bias      offset 0, scale 0.2
and the input batch k = 0, offset 0, scale 1. Buffers keep their initial values (running_mean 0,
running_var 1, num_batches_tracked 0). (A smooth formula such as sin(0.37 * i + k) would make
every weight matrix W[o, j] = sin(0.37 * (o * J + j) + k) of rank 2, so all channels of a layer
would carry the same two features and BatchNorm would divide near-constant channels by tiny
deviations: the network becomes ill-conditioned and float32 cannot reproduce it.)
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
from torch import nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
import torch_weights  # noqa: E402  (tools/torch_weights.py: safetensors in pure Python)

FORMAT_VERSION = 1
SAMPLES = 8  # gradient values stored per parameter

# The zoo as torch.nn module trees lives in tools/torch_zoo.py.
from torch_zoo import ZOO, lenet_bn  # noqa: E402

# ---------------------------------------------------------------------------------------------
# The deterministic formula (see the module docstring).


MASK64 = (1 << 64) - 1


def formula(n, k, scale, offset=0.0):
    """float32(offset + scale * (2u - 1)) for i < n, u from splitmix64(k * 2^32 + i) (numpy's
    uint64 arithmetic wraps modulo 2^64 as C++'s does)."""
    z = np.arange(n, dtype=np.uint64) + np.uint64((k << 32) & MASK64)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return (offset + scale * (2.0 * u - 1.0)).astype(np.float32)


def formula_tensor(shape, k, scale, offset=0.0):
    return torch.from_numpy(formula(int(np.prod(shape)), k, scale, offset).reshape(shape))


def set_formula_weights(model):
    """Fills every parameter by the formula; returns {name: kind} for the record."""
    modules = dict(model.named_modules())
    kinds = {}
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters(), start=1):
            owner_name, leaf = name.rsplit(".", 1)
            owner = modules[owner_name]
            if isinstance(owner, nn.modules.batchnorm._BatchNorm):
                offset, scale = (1.0, 0.2) if leaf == "weight" else (0.0, 0.2)
                kind = "batchnorm_" + leaf
            elif isinstance(owner, (nn.Linear, nn.modules.conv._ConvNd)):
                fan_in = int(np.prod(owner.weight.shape[1:]))
                offset, scale = 0.0, math.sqrt(6.0 / fan_in) if leaf == "weight" else 1.0 / math.sqrt(fan_in)
                kind = "layer_" + leaf
            else:
                raise SystemExit(f"set_formula_weights: no rule for parameter {name} of {type(owner).__name__}")
            p.copy_(formula_tensor(tuple(p.shape), k, scale, offset).to(p.dtype))
            kinds[name] = kind
    return kinds


# ---------------------------------------------------------------------------------------------
# Writers.


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def header(kind):
    return {"format_version": FORMAT_VERSION, "kind": kind, "generator": "tools/make_golden.py",
            "torch_version": torch.__version__}


def architecture(name):
    build, input_shape = ZOO[name]
    torch.manual_seed(0)  # the values are not recorded; seeded anyway so a run is reproducible
    model = build().eval()
    state = [[key, list(t.shape), str(t.dtype).replace("torch.", "")] for key, t in model.state_dict().items()]
    children = []
    hooks = [child.register_forward_hook(
        lambda mod, inp, out, child_name=child_name: children.append(
            [child_name, type(mod).__name__, list(out.shape)]))
        for child_name, child in model.named_children()]
    with torch.no_grad():
        output = model(torch.zeros(input_shape))
    for h in hooks:
        h.remove()
    return {**header("architecture"), "model": name, "input": list(input_shape), "output": list(output.shape),
            "params": sum(p.numel() for p in model.parameters()), "state_dict": state, "repr": str(model),
            "children": children}


def sample_indices(n):
    """SAMPLES flat indices spread over [0, n), first and last included."""
    if n <= SAMPLES:
        return list(range(n))
    return [round(j * (n - 1) / (SAMPLES - 1)) for j in range(SAMPLES)]


def run_numerics(name, batch, size, labels, dtype):
    """Builds the model in `dtype`, runs train forward + backward, then eval forward."""
    build, _ = ZOO[name]
    model = build()
    kinds = set_formula_weights(model)
    model = model.to(dtype).train()
    x = formula_tensor((batch, 1, size, size), 0, 1.0).to(dtype)
    y = torch.tensor(labels, dtype=torch.int64)
    logits_train = model(x)
    loss = nn.functional.cross_entropy(logits_train, y)
    loss.backward()
    with torch.no_grad():
        logits_eval = model.eval()(x)
    return model, kinds, x, logits_train.detach(), loss.detach(), logits_eval


def rel_err(a, b):
    """max |a - b| / max |b|."""
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def numerics(name, batch, size, labels, out_dir):
    model, kinds, x, logits_train, loss, logits_eval = run_numerics(name, batch, size, labels, torch.float64)
    grads = []
    for pname, p in model.named_parameters():
        g = p.grad.reshape(-1)
        idx = sample_indices(g.numel())
        grads.append({"name": pname, "kind": kinds[pname], "shape": list(p.shape), "sum": float(g.sum()),
                      "abs_sum": float(g.abs().sum()), "l2": float(g.norm()), "indices": idx,
                      "values": [float(g[i]) for i in idx]})
    stats = {}
    for bname, b in model.named_buffers():
        if bname.endswith("running_mean") or bname.endswith("running_var"):
            stats[bname] = b.detach().clone()
    tracked = {bname: int(b) for bname, b in model.named_buffers() if bname.endswith("num_batches_tracked")}

    # PyTorch's own float32 run against the float64 values: the scale of error float32 brings.
    # Gradients are compared relative to their tensor's RMS; a gradient that is zero in exact
    # arithmetic (the bias of a layer followed by BatchNorm) is reported by its float32 values
    # relative to the RMS of the layer's weight gradient.
    model32, _, _, train32, loss32, eval32 = run_numerics(name, batch, size, labels, torch.float32)
    p64, p32 = dict(model.named_parameters()), dict(model32.named_parameters())
    largest = max(float(p.grad.norm()) for p in p64.values())
    grad_err, zero_grad = 0.0, 0.0
    for pname, p in p64.items():
        err = float((p32[pname].grad.double() - p.grad).abs().max())
        if float(p.grad.norm()) > 1e-9 * largest:
            grad_err = max(grad_err, err / (float(p.grad.norm()) / math.sqrt(p.numel())))
        else:
            weight = p64[pname.rsplit(".", 1)[0] + ".weight"]
            zero_grad = max(zero_grad, err / (float(weight.grad.norm()) / math.sqrt(weight.numel())))
    stats_err = max((rel_err(b32, stats[bname]) for bname, b32 in model32.named_buffers() if bname in stats),
                    default=0.0)

    stem = f"numerics_{name}"
    torch_weights.save_safetensors(stats, os.path.join(out_dir, stem + ".safetensors"),
                                   {"format_version": str(FORMAT_VERSION), "model": name})
    write_json(os.path.join(out_dir, stem + ".json"), {
        **header("numerics"), "model": name, "input": list(x.shape), "labels": labels,
        "logits_train": logits_train.tolist(), "loss": float(loss), "logits_eval": logits_eval.tolist(),
        "num_batches_tracked": tracked, "running_stats_file": stem + ".safetensors", "grads": grads,
        "torch_float32": {"logits_train_rel": rel_err(train32, logits_train),
                          "logits_eval_rel": rel_err(eval32, logits_eval),
                          "loss_rel": abs(float(loss32) - float(loss)) / abs(float(loss)),
                          "grad_max_err_over_rms": grad_err, "zero_grad_max_over_weight_grad_rms": zero_grad,
                          "running_stats_rel": stats_err}})


# ---------------------------------------------------------------------------------------------
# A lenet-bn trained a little in PyTorch, moved to Strata with tools/torch_weights.py.

EXPORT_SEED = 7
EXPORT_COMMAND = ["tools/torch_weights.py", "export", "make_golden:torch_lenet_bn",
                  "tests/fixtures/golden/lenet_bn_torch.safetensors", "--seed", str(EXPORT_SEED),
                  "--metadata", "strata.model=lenet-bn", "strata.input=1,28,28"]


def torch_lenet_bn():
    """lenet-bn with PyTorch's default initialisation (seeded by the caller) whose BatchNorm
    running statistics were moved by two training-mode batches (no optimizer step)."""
    model = lenet_bn().train()
    with torch.no_grad():
        for k in (1, 2):
            model(formula_tensor((8, 1, 28, 28), 100 + k, 1.0, 0.5))
    return model.eval()


def torch_weights_fixture(out_dir):
    # Run from the repository root with tools/ on the import path, so MODULE:FACTORY resolves.
    root = os.path.dirname(TOOLS)
    path = os.path.join(root, EXPORT_COMMAND[3])
    env = dict(os.environ, PYTHONPATH=TOOLS)
    subprocess.run([sys.executable] + EXPORT_COMMAND, cwd=root, env=env, check=True)
    tensors, metadata = torch_weights.load_safetensors(path)
    model = lenet_bn()
    model.load_state_dict(tensors, strict=True)
    x = formula_tensor((4, 1, 28, 28), 0, 1.0)
    with torch.no_grad():
        logits_eval = model.eval()(x)
        logits_train = model.train()(x)
    write_json(os.path.join(out_dir, "lenet_bn_torch.json"), {
        **header("torch_weights"), "model": "lenet-bn", "weights": os.path.basename(path),
        "command": "PYTHONPATH=tools /usr/bin/python3 " + " ".join(EXPORT_COMMAND),
        "metadata": metadata, "input": list(x.shape), "logits_eval": logits_eval.tolist(),
        "logits_train": logits_train.tolist()})


def main():
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    out_dir = os.path.join(os.path.dirname(TOOLS), "tests", "fixtures", "golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # fixed reduction order: the same bytes on every run
    for name in ZOO:
        write_json(os.path.join(out_dir, f"arch_{name}.json"), architecture(name))
    numerics("lenet-bn", 8, 28, [3, 7, 1, 9, 0, 2, 4, 5], out_dir)
    numerics("lenet-gluon", 8, 28, [3, 7, 1, 9, 0, 2, 4, 5], out_dir)
    numerics("lenet-bn-gluon", 8, 28, [3, 7, 1, 9, 0, 2, 4, 5], out_dir)
    numerics("resnet18", 2, 56, [3, 7], out_dir)
    torch_weights_fixture(out_dir)


if __name__ == "__main__":
    main()

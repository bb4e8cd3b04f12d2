#!/usr/bin/python3
"""Write the ONNX files PyTorch exports that tests/onnx imports, with inputs and PyTorch's logits.

Needs Debian's python3-torch, python3-onnx and numpy (run with /usr/bin/python3). From the
repository root:

  /usr/bin/python3 tools/make_onnx_fixtures.py     (writes tests/fixtures/onnx/, about 300 kB)

Files written, for each model NAME below: NAME.onnx (torch.onnx.export, constant folding on),
NAME_input.npy (a batch of 3, uniform in [0, 1) from a fixed seed) and NAME_logits.npy (PyTorch's
float32 output in evaluation mode).

  lenet_bn_opset13   the book's LeNet with batch norm (tools/torch_zoo.py) as PyTorch exports it
                     at opset 13: Pad nodes before the average poolings, Constant nodes
  mixed_opset11      a small network of what torchvision's families export beyond the book's
  mixed_opset13      layers: x.view(x.size(0), -1) (Shape, Gather, Unsqueeze, Concat, Reshape),
                     ReLU6 (Clip; bounds attributes at 11, inputs at 13), HardSwish, LeakyReLU,
                     a channel shuffle (Reshape, Transpose), split and cat (Split: sizes an
                     attribute at 11, an input at 13; Concat), x.mean([2, 3]) (ReduceMean), a
                     grouped and dilated convolution, max and global poolings, dropout, a
                     Linear after a Sigmoid-gated product (EfficientNet's squeeze-excitation)
  activations_pad_opset11, _opset14, _opset17
                     pads of every mode and the parametrised activations: ReflectionPad2d,
                     ReplicationPad2d and ConstantPad2d (Pad, modes reflect, edge and constant
                     with value 0.5), Hardswish (HardSwish from opset 14, before it
                     x * HardSigmoid(x)), Hardsigmoid as MobileNetV3's gate, LeakyReLU(0.2),
                     Hardtanh(-0.5, 1.5) and clamp with only a min and with only a max (Clip
                     with both, one and the other bound)
  mixed_train_opset13  the same network with its batch norms kept and dropout off, a batch of 4,
                     and NAME_grads.safetensors: PyTorch's gradients of one training step
                     (write_training), which a fine-tuning step in Strata must give
"""
import os
import sys

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
OUT = os.path.join(ROOT, "tests", "fixtures", "onnx")


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6())
        self.grouped = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.act = nn.Hardswish()
        self.leaky = nn.LeakyReLU(0.1)
        self.se_fc1 = nn.Linear(8, 4)
        self.se_fc2 = nn.Linear(4, 8)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        x = self.stem(x)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)  # channel shuffle
        a, b = torch.split(x, [3, 5], dim=1)  # Split
        x = torch.cat([b, a * 0.5], dim=1)
        x = self.leaky(self.act(self.grouped(x)))
        s = torch.sigmoid(self.se_fc2(torch.relu(self.se_fc1(x.mean([2, 3])))))  # squeeze-excitation
        x = x * s.view(n, c, 1, 1)
        x = self.pool(self.pool(x))
        return self.fc(self.drop(x.view(x.size(0), -1)))


class ActivationsPad(nn.Module):
    def __init__(self):
        super().__init__()
        self.reflect = nn.ReflectionPad2d((2, 1, 1, 2))
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.hswish = nn.Hardswish()
        self.replicate = nn.ReplicationPad2d(1)
        self.conv2 = nn.Conv2d(8, 8, 3, groups=8)
        self.leaky = nn.LeakyReLU(0.2)
        self.gate = nn.Conv2d(8, 8, 1)
        self.hsigmoid = nn.Hardsigmoid()
        self.const = nn.ConstantPad2d((1, 0, 0, 1), 0.5)
        self.conv3 = nn.Conv2d(8, 4, 3, stride=2)
        self.hardtanh = nn.Hardtanh(-0.5, 1.5)
        self.fc = nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):  # x: (N, 1, 12, 12)
        x = self.hswish(self.bn1(self.conv1(self.reflect(x))))  # (N, 8, 13, 13)
        x = self.leaky(self.conv2(self.replicate(x)))  # (N, 8, 13, 13)
        x = x * self.hsigmoid(self.gate(x.mean([2, 3], keepdim=True)))
        x = self.hardtanh(self.conv3(self.const(x)))  # (N, 4, 6, 6)
        x = torch.clamp(x, min=-0.25) + torch.clamp(x, max=0.75)
        return self.fc(torch.flatten(x, 1))


def write(name, model, opset, shape):
    import torch_zoo
    torch.manual_seed(0)
    torch_zoo.randomize_statistics(model)
    model.eval()
    x = np.random.default_rng(7).random(shape, dtype=np.float32)
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True)
    with torch.no_grad():
        logits = model(torch.from_numpy(x)).numpy()
    np.save(os.path.join(OUT, name + "_input.npy"), x)
    np.save(os.path.join(OUT, name + "_logits.npy"), logits)
    print(f"{path}: {os.path.getsize(path)} bytes")


def write_training(name, model, opset, shape, labels):
    """A model exported with its batch norms kept (not folded into the convolutions) and dropout
    off, for fine-tuning: NAME.onnx, NAME_input.npy, and NAME_grads.safetensors, PyTorch's
    gradient of every parameter (by its state_dict name, the file's initializer name) after one
    training-mode forward and backward of the cross-entropy for `labels`."""
    import torch_weights
    import torch_zoo
    torch.manual_seed(0)
    torch_zoo.randomize_statistics(model)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    model.eval()
    x = np.random.default_rng(7).random(shape, dtype=np.float32)
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    model.train()
    loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.tensor(labels))
    loss.backward()
    grads = {k: p.grad.detach() for k, p in model.named_parameters()}
    np.save(os.path.join(OUT, name + "_input.npy"), x)
    torch_weights.save_safetensors(grads, os.path.join(OUT, name + "_grads.safetensors"),
                                   {"loss": repr(float(loss)), "labels": ",".join(map(str, labels))})
    print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    import torch_zoo
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    write("lenet_bn_opset13", torch_zoo.ZOO["lenet-bn"][0](), 13, (3, 1, 28, 28))
    for opset in (11, 13):
        torch.manual_seed(1)
        write(f"mixed_opset{opset}", Mixed(), opset, (3, 1, 28, 28))
    for opset in (11, 14, 17):
        torch.manual_seed(2)
        write(f"activations_pad_opset{opset}", ActivationsPad(), opset, (3, 1, 12, 12))
    torch.manual_seed(1)
    write_training("mixed_train_opset13", Mixed(), 13, (4, 1, 28, 28), [3, 0, 7, 1])


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Write the torchvision golden fixture that tests/data/image_transforms_test.cpp compares with.

Needs Debian's python3-torch and python3-torchvision (torch 1.13, torchvision 0.14; run with
/usr/bin/python3). From the repository root:

  /usr/bin/python3 tools/make_transform_golden.py   (writes tests/fixtures/data/transforms_golden.safetensors)

Three uint8 images come from the integer formula in `image` below (tests/data computes the same
in C++): "a" 3 x 13 x 17, "g" 1 x 9 x 11 (grey) and "big" 3 x 40 x 56 (for antialiased
downscaling). Each result is torchvision.transforms.functional applied to one of them as a uint8
tensor with fixed arguments; its name says which (see CASES). Rotations pass `fill` as a list,
as torchvision's RandomRotation does (with bilinear sampling this weighs the fill by the sampled
coverage mask; see _apply_grid_transform). The file is a safetensors file written by hand (the
Python safetensors package is not a dependency): an 8-byte little-endian header length, the JSON
header (padded with spaces to a multiple of 8), then the raw uint8 data of every tensor.
"""

import json
import os
import struct

import torch
import torchvision
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "data",
                   "transforms_golden.safetensors")


def image(channels, height, width, seed):
    """value(c, y, x) = (c*71 + y*37 + x*13 + ((x*y + seed) % 29)*5 + seed) % 256."""
    t = torch.empty(channels, height, width, dtype=torch.uint8)
    for c in range(channels):
        for y in range(height):
            for x in range(width):
                t[c, y, x] = (c * 71 + y * 37 + x * 13 + ((x * y + seed) % 29) * 5 + seed) % 256
    return t


def rotate(img, angle, mode, fill):
    return F.rotate(img, angle, interpolation=mode, fill=[float(fill)] * img.shape[0])


NEAREST, BILINEAR = InterpolationMode.NEAREST, InterpolationMode.BILINEAR


def cases(a, g, big):
    out = {}
    for name, img in (("a", a), ("g", g), ("big", big)):
        out[f"in_{name}"] = img
    # resize (h, w), with and without antialias: up, down, mixed
    for name, img, sizes in (("a", a, [(20, 31), (7, 9), (20, 9), (13, 17)]),
                             ("g", g, [(17, 5), (4, 6)]),
                             ("big", big, [(15, 21), (9, 50), (44, 61)])):
        for h, w in sizes:
            for aa in (True, False):
                out[f"resize_{name}_{h}x{w}_{'aa' if aa else 'noaa'}"] = F.resize(img, [h, w], antialias=aa)
    # resize of the shorter side (int truncation of the long side)
    for name, img, size in (("a", a, 10), ("a", a, 30), ("g", g, 5), ("big", big, 25)):
        for aa in (True, False):
            out[f"shorter_{name}_{size}_{'aa' if aa else 'noaa'}"] = F.resize(img, size, antialias=aa)
    # crop with zero padding outside the image
    for name, img, (t, l, h, w) in (("a", a, (-2, 3, 10, 20)), ("a", a, (2, 3, 5, 6)),
                                    ("a", a, (5, -4, 12, 8)), ("g", g, (-3, -2, 15, 16))):
        out[f"crop_{name}_{t}_{l}_{h}_{w}"] = F.crop(img, t, l, h, w)
    for name, img, (h, w) in (("a", a, (6, 9)), ("a", a, (16, 20)), ("a", a, (10, 20)), ("a", a, (15, 4)),
                              ("g", g, (4, 4)), ("g", g, (12, 14)), ("g", g, (8, 11))):
        out[f"center_{name}_{h}x{w}"] = F.center_crop(img, [h, w])
    out["hflip_a"] = F.hflip(a)
    out["hflip_g"] = F.hflip(g)
    for name, img in (("a", a), ("g", g)):
        for angle in (30, -45, 90):
            for mode_name, mode in (("nearest", NEAREST), ("bilinear", BILINEAR)):
                for fill in (0, 200):
                    out[f"rotate_{name}_{angle}_{mode_name}_{fill}"] = rotate(img, angle, mode, fill)
    for name, img in (("a", a), ("g", g)):
        for f in (0.5, 1.7):
            tag = str(f).replace(".", "p")
            out[f"brightness_{name}_{tag}"] = F.adjust_brightness(img, f)
            out[f"contrast_{name}_{tag}"] = F.adjust_contrast(img, f)
            out[f"saturation_{name}_{tag}"] = F.adjust_saturation(img, f)
        for f in (0.1, -0.3, 0.5):
            tag = str(f).replace(".", "p").replace("-", "m")
            out[f"hue_{name}_{tag}"] = F.adjust_hue(img, f)
    return out


def save(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        assert t.dtype == torch.uint8
        data = t.numpy().tobytes()
        header[name] = {"dtype": "U8", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"generator": "tools/make_transform_golden.py",
                              "torch": torch.__version__, "torchvision": torchvision.__version__}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    a, g, big = image(3, 13, 17, 0), image(1, 9, 11, 7), image(3, 40, 56, 3)
    out = cases(a, g, big)
    save(OUT, out)
    print(f"wrote {len(out)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()

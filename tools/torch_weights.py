#!/usr/bin/python3
"""Move weights between PyTorch and Strata through safetensors files.

Needs Python 3 with torch and numpy only (Debian: python3-torch); the safetensors format
(https://github.com/huggingface/safetensors) is implemented here with json and struct, and
files are written byte for byte as the safetensors library's save_file writes them.

  torch_weights.py export SOURCE OUT.safetensors [--key K] [--metadata K=V ...] [--seed N]
      SOURCE is a file torch.save wrote (a state_dict, a whole nn.Module, or a checkpoint
      dict holding the state_dict under --key), or MODULE:FACTORY, a Python callable that
      builds an nn.Module (e.g. mymodels:LeNet, imported from the current directory or
      PYTHONPATH), whose freshly initialised weights are exported (seeded with --seed).
  torch_weights.py import IN.safetensors OUT.pt [--like REFERENCE [--key K]]
      Saves the tensors with torch.save as an OrderedDict state_dict, in the order of their
      data in the file. With --like (a torch.save file or MODULE:FACTORY as above), first
      checks that they load into that model strictly (same names, shapes and dtypes), and
      saves them in its state_dict order.
  torch_weights.py show IN.safetensors
      Prints the metadata and each tensor's dtype and shape.

From Python: save_safetensors(tensors, path, metadata=None) and load_safetensors(path),
which returns (OrderedDict of tensors, metadata dict).
"""

import argparse
import collections
import importlib
import json
import os
import struct
import sys

import numpy as np
import torch

# Every safetensors dtype in the reference's order of increasing alignment (the reference
# writes tensors in descending order of this rank, then by name), with the torch dtype it
# maps to in this torch version (None: torch has no such dtype).
DTYPES = [
    ("BOOL", torch.bool), ("U8", torch.uint8), ("I8", torch.int8), ("F8_E5M2", None),
    ("F8_E4M3", None), ("I16", torch.int16), ("U16", None), ("F16", torch.float16),
    ("BF16", torch.bfloat16), ("I32", torch.int32), ("U32", None), ("F32", torch.float32),
    ("F64", torch.float64), ("I64", torch.int64), ("U64", None),
]
RANK = {name: rank for rank, (name, _) in enumerate(DTYPES)}
TO_TORCH = {name: dtype for name, dtype in DTYPES if dtype is not None}
FROM_TORCH = {dtype: name for name, dtype in TO_TORCH.items()}
MAX_HEADER = 100_000_000

if sys.byteorder != "little":
    sys.exit("torch_weights.py: safetensors data is little-endian; this script copies bytes as "
             "they are and needs a little-endian machine")


def tensor_bytes(t):
    """The raw little-endian bytes of a tensor in C order."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: move the same bits as int16
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def tensor_from_bytes(data, dtype_name, shape):
    dtype = TO_TORCH[dtype_name]
    if dtype == torch.bfloat16:
        flat = torch.from_numpy(np.frombuffer(data, dtype="<i2").copy()).view(torch.bfloat16)
    else:
        flat = torch.from_numpy(np.frombuffer(data, dtype=torch.empty(0, dtype=dtype).numpy().dtype).copy())
    return flat.reshape(shape)


def save_safetensors(tensors, path, metadata=None):
    """Writes a dict of name -> tensor (and optional str -> str metadata) to path."""
    items = []
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"'{name}' is a {type(t).__name__}, not a tensor")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved for the metadata; rename that tensor")
        if t.dtype not in FROM_TORCH:
            raise TypeError(f"tensor '{name}' has dtype {t.dtype}, which safetensors cannot store")
        items.append((name, FROM_TORCH[t.dtype], t))
    items.sort(key=lambda item: (-RANK[item[1]], item[0].encode("utf-8")))

    header = {}
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata {key!r}: {value!r} must map strings to strings")
        header["__metadata__"] = metadata
    chunks, offset = [], 0
    for name, dtype_name, t in items:
        data = tensor_bytes(t)
        header[name] = {"dtype": dtype_name, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)

    temp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(temp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for data in chunks:
                f.write(data)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the header has the key '{key}' twice")
        result[key] = value
    return result


def read_header(path):
    """Returns (list of (name, info) in data order, metadata, data start, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size < 8:
            raise ValueError(f"{path}: {size} bytes, too short for a safetensors file")
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER or n > size - 8:
            raise ValueError(f"{path}: header length {n} does not fit the file ({size} bytes)")
        header = json.loads(f.read(n).decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    covered = 0
    for name, info in entries:
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        itemsize = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
                    "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8,
                    "U64": 8}[info["dtype"]]
        if begin != covered or end - begin != count * itemsize:
            raise ValueError(f"{path}: tensor '{name}' has data_offsets {info['data_offsets']} "
                             f"that do not follow the previous tensor or fit its shape and dtype")
        covered = end
    if 8 + n + covered != size:
        raise ValueError(f"{path}: the tensors cover {covered} data bytes but the file has "
                         f"{size - 8 - n}")
    return entries, metadata, 8 + n


def load_safetensors(path):
    """Returns (OrderedDict name -> tensor in data order, metadata dict)."""
    entries, metadata, start = read_header(path)
    tensors = collections.OrderedDict()
    with open(path, "rb") as f:
        for name, info in entries:
            if info["dtype"] not in TO_TORCH:
                raise ValueError(f"{path}: tensor '{name}' has dtype {info['dtype']}, which this "
                                 f"torch version has no dtype for")
            begin, end = info["data_offsets"]
            f.seek(start + begin)
            tensors[name] = tensor_from_bytes(f.read(end - begin), info["dtype"], info["shape"])
    return tensors, metadata


def build_or_load(source, key=None):
    """A torch.save file's state_dict or nn.Module, or the module MODULE:FACTORY builds."""
    if not os.path.exists(source) and ":" in source:
        module_name, factory = source.split(":", 1)
        sys.path.insert(0, os.getcwd())
        return getattr(importlib.import_module(module_name), factory)()
    obj = torch.load(source, map_location="cpu")
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise SystemExit(f"{source}: no entry '{key}' (entries: {list(obj) if isinstance(obj, dict) else type(obj).__name__})")
        obj = obj[key]
    return obj


def as_state_dict(obj, source):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        others = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        if others:
            raise SystemExit(f"{source}: entries {others} are not tensors; if this is a "
                             f"checkpoint, pick the state_dict with --key")
        return obj
    raise SystemExit(f"{source}: holds a {type(obj).__name__}, not a state_dict or nn.Module")


def check_loads_into(tensors, reference, source):
    """Checks that tensors load strictly into reference (an nn.Module or a state_dict) and
    returns them in the reference's state_dict order."""
    if isinstance(reference, torch.nn.Module):
        try:
            reference.load_state_dict(tensors, strict=True)
        except RuntimeError as e:
            raise SystemExit(f"the tensors do not load into {source}: {e}")
    expected = as_state_dict(reference, source)
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [f"{k}: {tuple(tensors[k].shape)} {tensors[k].dtype} vs {tuple(v.shape)} {v.dtype}"
                 for k, v in expected.items()
                 if k in tensors and (tensors[k].shape != v.shape or tensors[k].dtype != v.dtype)]
    if problems:
        raise SystemExit(f"the tensors do not match {source}:\n  " + "\n  ".join(problems))
    return collections.OrderedDict((k, tensors[k]) for k in expected)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="PyTorch weights -> safetensors")
    export.add_argument("source", help="torch.save file, or MODULE:FACTORY building an nn.Module")
    export.add_argument("output", help="the .safetensors file to write")
    export.add_argument("--key", help="entry of a checkpoint dict that holds the state_dict")
    export.add_argument("--metadata", nargs="*", default=[], metavar="K=V",
                        help="string metadata to store in the header")
    export.add_argument("--seed", type=int, help="torch.manual_seed before building MODULE:FACTORY")
    imp = commands.add_parser("import", help="safetensors -> torch.save'd state_dict")
    imp.add_argument("input", help="the .safetensors file to read")
    imp.add_argument("output", help="the .pt file to write")
    imp.add_argument("--like", help="torch.save file or MODULE:FACTORY the weights must load into")
    imp.add_argument("--key", help="entry of a checkpoint dict given to --like that holds the state_dict")
    show = commands.add_parser("show", help="print a safetensors file's header")
    show.add_argument("input")
    args = parser.parse_args()

    if args.command == "export":
        if args.seed is not None:
            torch.manual_seed(args.seed)
        tensors = as_state_dict(build_or_load(args.source, args.key), args.source)
        if any("=" not in item for item in args.metadata):
            parser.error("--metadata takes KEY=VALUE pairs")
        metadata = dict(item.split("=", 1) for item in args.metadata)
        save_safetensors(tensors, args.output, metadata)
        print(f"wrote {len(tensors)} tensors to {args.output}")
    elif args.command == "import":
        tensors, _ = load_safetensors(args.input)
        if args.like:
            tensors = check_loads_into(tensors, build_or_load(args.like, args.key), args.like)
        torch.save(tensors, args.output)
        print(f"wrote {len(tensors)} tensors to {args.output}")
    else:
        entries, metadata, _ = read_header(args.input)
        for key, value in metadata.items():
            print(f"metadata {key} = {value}")
        for name, info in entries:
            print(f"{name}: {info['dtype']} {info['shape']}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Cross-checks equifl's safetensors I/O against an independent reader and writer.

Usage: safetensors_cross_check.py FIXTURE_BINARY WORK_DIR

1. Runs `FIXTURE_BINARY write`, then reads the file with struct, json and numpy only
   (the format in a few lines, as a Python user would) and compares every value with
   the fixture computed here.
2. Writes the same fixture with the same few lines and runs `FIXTURE_BINARY check`,
   which reads it with SafetensorsFile and compares.
Exits non-zero, naming the tensor, when anything differs.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4",
          "U8": "u1", "BOOL": "?", "BF16": "<u2"}


def bf16_to_float32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def fixture():
    i12 = np.arange(12, dtype=np.float32)
    i6 = np.arange(6, dtype=np.int64)
    return {
        "weights": ("F32", (np.float32(0.25) * i12 - np.float32(1.5)).reshape(3, 4)),
        "inverses": ("F64", 1.0 / (np.arange(5, dtype=np.float64) + 1)),
        "halves": ("F16", np.array([1, -2.5, 65504, 2.0 ** -24], dtype=np.float16)),
        "brains": ("BF16", np.array([1, -3, 3.140625], dtype=np.float32)),
        "ids": ("I64", (i6 * i6 - 7 + (1 << 40) * (i6 % 2)).reshape(2, 3)),
        "counts": ("I32", np.array([-2 ** 31, -1, 0, 2 ** 31 - 1], dtype=np.int32)),
        "mask": ("U8", np.array([[0, 1], [255, 7]], dtype=np.uint8)),
        "flags": ("BOOL", np.array([True, False, True])),
        "empty": ("F32", np.zeros((0, 3), dtype=np.float32)),
        "scalar": ("F32", np.array(42.5, dtype=np.float32)),
    }


METADATA = {"format": "equifl-cross-check", "note": "caf\u00e9"}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    buffer = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(buffer[begin:end], dtype=DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            array = bf16_to_float32(array)
        tensors[name] = (info["dtype"], array.reshape(info["shape"]), begin, end)
    return n, metadata, tensors, len(buffer)


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name, (dtype, array) in tensors.items():
        if dtype == "BF16":
            raw = (array.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            raw = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    binary, work_dir = sys.argv[1], sys.argv[2]
    os.makedirs(work_dir, exist_ok=True)
    failures = []

    written_by_cpp = os.path.join(work_dir, "from_cpp.safetensors")
    subprocess.run([binary, "write", written_by_cpp], check=True)
    n, metadata, tensors, buffer_bytes = read(written_by_cpp)
    if n % 8 != 0:
        failures.append(f"header length {n} is not a multiple of 8")
    if metadata != METADATA:
        failures.append(f"metadata {metadata} != {METADATA}")
    expected = fixture()
    if set(tensors) != set(expected):
        failures.append(f"tensors {sorted(tensors)} != {sorted(expected)}")
    # Buffer order is the writer's given order, without holes.
    offset = 0
    for name in expected:
        if name not in tensors:
            continue
        dtype, array, begin, end = tensors[name]
        want_dtype, want = expected[name]
        if begin != offset:
            failures.append(f"{name}: starts at {begin}, expected {offset}")
        offset = end
        if dtype != want_dtype or array.shape != want.shape or not np.array_equal(array, want):
            failures.append(f"{name}: {dtype} {array.shape} {array.ravel()[:8]} != "
                            f"{want_dtype} {want.shape} {want.ravel()[:8]}")
    if offset != buffer_bytes:
        failures.append(f"tensors cover {offset} of {buffer_bytes} buffer bytes")

    written_by_python = os.path.join(work_dir, "from_python.safetensors")
    write(written_by_python, expected, METADATA)
    check = subprocess.run([binary, "check", written_by_python])
    if check.returncode != 0:
        failures.append("the C++ reader disagrees with the file written by Python")

    for failure in failures:
        print("MISMATCH:", failure, file=sys.stderr)
    if failures:
        return 1
    print(f"cross-check passed: {len(expected)} tensors both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""safetensors files without the safetensors package: an 8-byte little-endian header length, a JSON header, raw data.

The lab writes F32, I32 and U8 tensors (src/model/safetensors.ts); where the `safetensors` package is installed it
reads these files too.
"""

import json
import struct

import torch

DTYPES = {"F32": torch.float32, "I32": torch.int32, "U8": torch.uint8, "I64": torch.int64}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def read_safetensors(path):
    """Returns (tensors: dict name -> tensor, metadata: dict of strings)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file ({len(data)} bytes)")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise SafetensorsError(f"{path}: its header length ({length} bytes) runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8 : 8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        dtype = DTYPES.get(entry["dtype"])
        if dtype is None:
            raise SafetensorsError(f"{path}: tensor {name} has dtype {entry['dtype']}; this reader knows {', '.join(DTYPES)}")
        begin, end = entry["data_offsets"]
        raw = bytearray(data[start + begin : start + end])
        tensor = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = tensor.reshape(entry["shape"])
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Writes tensors (in the dict's order) with string metadata, the data 8-byte aligned like the lab's files."""
    header = {"__metadata__": {key: str(value) for key, value in metadata.items()}}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        tensor = tensor.detach().contiguous().cpu()
        blob = tensor.numpy().tobytes()
        header[name] = {"dtype": NAMES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)

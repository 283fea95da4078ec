"""Read a GGUF file's key/value metadata without loading the model or importing llama.cpp.

The budget preflight needs the layer count and attention shape to size the KV cache *before*
anything is loaded, so it reads only the header (a few hundred KB even for a 49k-token vocabulary).
Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

    python -m device.runtime.gguf_header model.gguf     # prints the scalar keys
"""

from __future__ import annotations

import os
import struct
import sys
from dataclasses import dataclass

GGUF_MAGIC = b"GGUF"
# value type id -> struct format (little-endian); 8 = string, 9 = array
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# arrays longer than this (vocabularies, merges) are skipped, not kept: only their length is recorded
_MAX_KEPT_ARRAY = 4096


class GGUFError(ValueError):
    """Not a GGUF file, or one whose header is truncated."""


@dataclass(frozen=True)
class ModelShape:
    """What the KV cache and compute buffers depend on."""

    architecture: str
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    n_embd: int
    n_ff: int
    n_vocab: int

    def kv_cache_bytes(self, n_ctx: int, bytes_per_value: int = 2) -> int:
        """K and V for every layer and position, f16 by default (llama.cpp's default cache type)."""
        per_token = self.n_layer * self.n_head_kv * (self.head_dim_k + self.head_dim_v)
        return n_ctx * per_token * bytes_per_value


# ggml type ids (ggml.h, enum ggml_type) of the tensor infos, for read_tensors
GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K",
    11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS",
    19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32",
    27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}  # fmt: skip


def read_metadata(path: str | os.PathLike) -> dict:
    """All key/value pairs of the header; long arrays appear as {"array_len": n}."""
    return _read_header(path)[0]


def read_tensors(path: str | os.PathLike) -> list[tuple[str, str, int]]:
    """(name, ggml type, number of elements) of every tensor, from the tensor infos after the metadata."""
    return _read_header(path, tensors=True)[1]


def _read_header(path: str | os.PathLike, tensors: bool = False) -> tuple[dict, list]:
    with open(path, "rb") as fh:

        def read(fmt: str):
            size = struct.calcsize(fmt)
            data = fh.read(size)
            if len(data) != size:
                raise GGUFError(f"{path}: GGUF header is truncated. Copy the file again.")
            return struct.unpack(fmt, data)[0]

        def read_str() -> str:
            n = read("<Q")
            data = fh.read(n)
            if len(data) != n:
                raise GGUFError(f"{path}: GGUF header is truncated. Copy the file again.")
            return data.decode("utf-8", errors="replace")

        def read_value(vtype: int):
            if vtype in _SCALARS:
                return read(_SCALARS[vtype])
            if vtype == _STRING:
                return read_str()
            if vtype == _ARRAY:
                etype, n = read("<I"), read("<Q")
                if n <= _MAX_KEPT_ARRAY:
                    return [read_value(etype) for _ in range(n)]
                if etype in _SCALARS:  # skip fixed-size elements in one seek
                    fh.seek(n * struct.calcsize(_SCALARS[etype]), os.SEEK_CUR)
                else:
                    for _ in range(n):
                        read_value(etype)
                return {"array_len": n}
            raise GGUFError(f"{path}: unknown GGUF value type {vtype}; is llama.cpp newer than this reader?")

        if fh.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path} is not a GGUF file (bad magic). Pass the model's .gguf file.")
        version = read("<I")
        if version < 2:
            raise GGUFError(f"{path}: GGUF version {version} is too old; reconvert the model.")
        n_tensors = read("<Q")
        n_kv = read("<Q")
        meta = {"GGUF.version": version}
        for _ in range(n_kv):
            key = read_str()
            meta[key] = read_value(read("<I"))
        infos = []
        for _ in range(n_tensors if tensors else 0):
            name = read_str()
            n_elements = 1
            for _dim in range(read("<I")):
                n_elements *= read("<Q")
            kind = read("<I")
            read("<Q")  # offset in the data section
            infos.append((name, GGML_TYPES.get(kind, f"type{kind}"), n_elements))
        return meta, infos


def model_shape(meta: dict) -> ModelShape:
    """The attention shape from metadata; raises GGUFError naming the missing key."""
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        raise GGUFError("GGUF metadata has no general.architecture")

    def get(key: str, default=None):
        value = meta.get(f"{arch}.{key}", default)
        if value is None:
            raise GGUFError(f"GGUF metadata has no {arch}.{key}; cannot size the KV cache")
        if isinstance(value, list):  # per-layer values (e.g. head_count_kv): the largest bounds memory
            value = max(value) if value else 0
        return int(value)

    n_head = get("attention.head_count")
    n_embd = get("embedding_length")
    head_dim = n_embd // max(n_head, 1)
    tokens = meta.get("tokenizer.ggml.tokens")
    n_vocab = meta.get(f"{arch}.vocab_size") or (
        tokens.get("array_len") if isinstance(tokens, dict) else len(tokens or [])
    )
    return ModelShape(
        architecture=arch,
        n_layer=get("block_count"),
        n_head=n_head,
        n_head_kv=get("attention.head_count_kv", n_head),
        head_dim_k=get("attention.key_length", head_dim),
        head_dim_v=get("attention.value_length", head_dim),
        n_embd=n_embd,
        n_ff=get("feed_forward_length", 4 * n_embd),
        n_vocab=int(n_vocab or 0),
    )


if __name__ == "__main__":
    for k, v in read_metadata(sys.argv[1]).items():
        if not isinstance(v, (list, dict)):
            print(f"{k} = {v}")
    print(model_shape(read_metadata(sys.argv[1])))

"""Writes mixed.safetensors with the reference Rust crate (pip install safetensors numpy).

BF16 has no numpy dtype, so its bytes are given to the crate's low-level serializer as raw
uint16 bit patterns (the top half of each float32). Tests expect exactly these values.
"""
import numpy as np
from safetensors import _safetensors_rust as st

f32 = np.array([[1.0, -2.5, 3.25], [0.0, 1e-8, -1e30]], dtype=np.float32)
# 65504 is the largest half, 2**-24 the smallest subnormal; -0.0 and -inf test the sign paths.
f16 = np.array([1.0, -2.0, 0.5, 65504.0, 2.0**-24, -0.0, -np.inf], dtype=np.float16)
bf16_source = np.array([[1.0, -3.140625], [1.5e10, 2.0**-130]], dtype=np.float32)
bf16 = (bf16_source.view(np.uint32) >> 16).astype(np.uint16)
step = np.array(1234, dtype=np.int64)

arrays = {"encoder.weight": (f32, "float32"), "decoder.bias": (f16, "float16"),
          "ema.scale": (bf16, "bfloat16"), "step": (step, "int64")}
specs = {name: st.TensorSpec(dtype=dtype, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes) for name, (a, dtype) in arrays.items()}
st.serialize_file(specs, "mixed.safetensors", metadata={"format": "pt", "note": "relief fixture"})
print(open("mixed.safetensors", "rb").read(8 + 400)[8:].decode(errors="replace"))

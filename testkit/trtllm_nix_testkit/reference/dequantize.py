"""ModelOpt NVFP4 and FP8 weights back to float, exactly as the exported format defines them.

NVFP4 (``quant_algo: NVFP4``, group size 16), per quantized linear layer ``L``:
- ``L.weight``: ``U8`` ``[out, in/2]``, two E2M1 codes a byte, the element with the even index in the low nibble;
  an E2M1 code is sign (bit 3) and one of 0, 0.5, 1, 1.5, 2, 3, 4, 6 (bits 0-2).
- ``L.weight_scale``: ``F8_E4M3`` ``[out, in/16]``, one scale per block of 16 elements of a row.
- ``L.weight_scale_2``: ``F32`` scalar, the per-tensor scale of the block scales.
- ``L.input_scale``: ``F32`` scalar, the static activation scale (unused here: the reference computes activations
  in float, which is what an NVFP4 kernel approximates).
  weight[r, c] = e2m1(code[r, c]) * float(weight_scale[r, c // 16]) * weight_scale_2
FP8 (``quant_algo: FP8``): ``L.weight`` ``F8_E4M3``, ``L.weight_scale`` ``F32`` scalar: weight = float(w) * scale.
Tensors that are not quantized (embeddings, norms, the excluded ``lm_head``) pass through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import torch

E2M1_VALUES: Final = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
NVFP4_BLOCK: Final = 16
SCALE_SUFFIXES: Final = (".weight_scale", ".weight_scale_2", ".input_scale")


class DequantizeError(ValueError):
    """The tensors do not have the shapes or types the format defines."""


def e2m1_table() -> torch.Tensor:
    import torch

    magnitudes = torch.tensor(E2M1_VALUES, dtype=torch.float32)
    return torch.cat([magnitudes, -magnitudes])  # code 8..15: the sign bit set


def unpack_e2m1(packed: torch.Tensor) -> torch.Tensor:
    """``U8 [rows, n/2]`` to float ``[rows, n]``: low nibble first (one look-up per byte, both nibbles at once)."""
    import torch

    if packed.dtype != torch.uint8:
        raise DequantizeError(f"NVFP4 weight must be U8, got {packed.dtype}")
    table = e2m1_table()
    codes = torch.arange(256)
    pairs = torch.stack([table[codes & 0x0F], table[codes >> 4]], dim=-1)  # [256, 2]: (low, high) per byte
    return pairs[packed.long()].reshape(*packed.shape[:-1], packed.shape[-1] * 2)


def nvfp4_weight(
    packed: torch.Tensor, block_scale: torch.Tensor, global_scale: torch.Tensor, name: str = "weight"
) -> torch.Tensor:
    import torch

    values = unpack_e2m1(packed)
    rows, columns = values.shape
    if block_scale.dtype != torch.float8_e4m3fn or tuple(block_scale.shape) != (rows, columns // NVFP4_BLOCK):
        raise DequantizeError(
            f"{name}: block scale must be F8_E4M3 [{rows}, {columns // NVFP4_BLOCK}], "
            f"got {block_scale.dtype} {list(block_scale.shape)}"
        )
    scales = block_scale.float() * global_scale.float()
    return (values.view(rows, -1, NVFP4_BLOCK) * scales.unsqueeze(-1)).view(rows, columns)


def fp8_weight(weight: torch.Tensor, scale: torch.Tensor, name: str = "weight") -> torch.Tensor:
    import torch

    if weight.dtype != torch.float8_e4m3fn:
        raise DequantizeError(f"{name}: FP8 weight must be F8_E4M3, got {weight.dtype}")
    return weight.float() * scale.float()


def dequantize_state_dict(tensors: dict[str, torch.Tensor], quant_algo: str) -> dict[str, torch.Tensor]:
    """The float state dict of a ModelOpt export (``quant_algo`` NVFP4 or FP8); scale tensors are consumed."""
    if quant_algo not in ("NVFP4", "FP8"):
        raise DequantizeError(f"unsupported quant_algo {quant_algo!r}: the reference backend reads NVFP4 and FP8")
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if name.endswith(SCALE_SUFFIXES):
            continue
        layer = name.removesuffix(".weight")
        scale = tensors.get(f"{layer}.weight_scale") if name.endswith(".weight") else None
        if scale is None:
            out[name] = tensor.float()
        elif quant_algo == "NVFP4":
            global_scale = tensors.get(f"{layer}.weight_scale_2")
            if global_scale is None:
                raise DequantizeError(f"{layer}: NVFP4 weight without weight_scale_2")
            out[name] = nvfp4_weight(tensor, scale, global_scale, name)
        else:
            out[name] = fp8_weight(tensor, scale, name)
    return out

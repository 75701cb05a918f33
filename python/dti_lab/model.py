"""The lab's decoder-only transformer (docs/ENGINE.md; src/model/reference/model.ts) in plain PyTorch.

Pre-norm blocks of RMSNorm -> attention under the lab's mask -> residual, RMSNorm -> tanh-GELU MLP -> residual; a
final RMSNorm; the token embedding tied as the readout, so P(click) of a target is sigmoid of its [SUM] row dotted
with wte[YES] - wte[NO]. Parameters keep the lab's names and layouts ([in, out] matrices, y = x @ W + b), so a lab
checkpoint loads as it is and a checkpoint written here imports back into the lab.
"""

import json
import math
import re

import torch
from torch import nn

from .mask import ROLE_PAD, allowed
from .safetensors_io import read_safetensors, write_safetensors

RMS_EPS = 1e-5
ROPE_BASE = 10000.0
INIT_STD = 0.02
POSITION_ENCODINGS = ("learned", "rope", "alibi", "none")
CHECKPOINT_FORMAT = "dti-lab/1"

try:  # FlexAttention (torch >= 2.5) turns the mask into block-sparse work; the dense mask serves older torch.
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
except ImportError:  # pragma: no cover - depends on the installed torch
    create_block_mask = flex_attention = None


def flex_available():
    return flex_attention is not None


def bias_slopes(n_heads):
    """Head h's slope 2^(-8(h+1)/H): ALiBi's per token of distance, forgetting's per interaction of distance."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def flex_mods(interaction, role, coordinate, slopes, n, level):
    """FlexAttention's mask_mod and score_mod for a batch: the lab's rule (a pad query reads only itself, so that no row
    is empty) and the bias -slope_h * (coordinate_q - coordinate_k). Plain elementwise functions of index tensors."""
    pad = role == ROLE_PAD

    def mask_mod(b, h, qi, ki):
        rule = allowed(interaction[b, qi], interaction[b, ki], role[b, qi], role[b, ki], qi, ki, n, level)
        return rule | ((qi == ki) & pad[b, qi])

    def score_mod(score, b, h, qi, ki):
        return score - slopes[h].to(score.dtype) * (coordinate[b, qi] - coordinate[b, ki])

    return mask_mod, score_mod


class Block(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.qkvW = nn.Parameter(torch.empty(d, 3 * d))
        self.attnOutW = nn.Parameter(torch.empty(d, d))
        self.fcW = nn.Parameter(torch.empty(d, f))
        self.fcOutW = nn.Parameter(torch.empty(f, d))
        self.qkvB = nn.Parameter(torch.zeros(3 * d))
        self.attnOutB = nn.Parameter(torch.zeros(d))
        self.fcB = nn.Parameter(torch.zeros(f))
        self.fcOutB = nn.Parameter(torch.zeros(d))
        self.norm1W = nn.Parameter(torch.ones(d))
        self.norm2W = nn.Parameter(torch.ones(d))


def rms_norm(x, weight):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS) * weight


def rotate(x, positions, head_dim):
    """RoPE on [B, H, L, hd]: interleaved pairs (2i, 2i+1), angle = position * base^(-2i/hd)."""
    inverse = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float64, device=x.device) / head_dim)
    angle = positions.to(torch.float64)[:, None, :, None] * inverse
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1).flatten(-2)


class DtiLabModel(nn.Module):
    """config: the lab's ModelConfig (vocabSize, dModel, nHeads, nLayers, dFF, maxSeqLen, positionEncoding, forgetting)."""

    def __init__(self, config, yes_token=3, no_token=4):
        super().__init__()
        self.config = dict(config)
        d, f, V = config["dModel"], config["dFF"], config["vocabSize"]
        if config["positionEncoding"] not in POSITION_ENCODINGS:
            raise ValueError(f"positionEncoding must be one of {', '.join(POSITION_ENCODINGS)} (got {config['positionEncoding']!r})")
        if d % config["nHeads"]:
            raise ValueError(f"dModel ({d}) must be divisible by nHeads ({config['nHeads']})")
        self.n_heads = config["nHeads"]
        self.head_dim = d // self.n_heads
        self.encoding = config["positionEncoding"]
        self.forgetting = bool(config.get("forgetting", False))
        self.yes_token, self.no_token = yes_token, no_token
        self.wte = nn.Parameter(torch.empty(V, d))
        # Only learned positions have a table; the lab's files still name an empty one ([0, d]), written on save.
        self.wpe = nn.Parameter(torch.empty(config["maxSeqLen"], d)) if self.encoding == "learned" else None
        self.h = nn.ModuleList(Block(d, f) for _ in range(config["nLayers"]))
        self.finalNormW = nn.Parameter(torch.ones(d))
        self.register_buffer("slopes", bias_slopes(self.n_heads), persistent=False)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """The lab's initialisation contract: matrices ~ N(0, 0.02), residual projections / sqrt(2 layers), biases 0, gains 1."""
        residual_std = INIT_STD / math.sqrt(2 * len(self.h))
        with torch.no_grad():
            self.wte.normal_(0, INIT_STD, generator=generator)
            if self.wpe is not None:
                self.wpe.normal_(0, INIT_STD, generator=generator)
            for block in self.h:
                block.qkvW.normal_(0, INIT_STD, generator=generator)
                block.attnOutW.normal_(0, residual_std, generator=generator)
                block.fcW.normal_(0, INIT_STD, generator=generator)
                block.fcOutW.normal_(0, residual_std, generator=generator)
                for bias in (block.qkvB, block.attnOutB, block.fcB, block.fcOutB):
                    bias.zero_()
                block.norm1W.fill_(1)
                block.norm2W.fill_(1)
            self.finalNormW.fill_(1)

    @staticmethod
    def decayed(name):
        """Whether weight decay applies to a parameter, by its name (the lab decays the matrices, never biases or gains).
        By name, so that it holds for the names DDP and FSDP give too."""
        return name.split(".")[-1] in ("wte", "wpe", "qkvW", "attnOutW", "fcW", "fcOutW")

    def attend(self, q, k, v, positions, interaction, role, n, level, attention):
        """q, k, v: [B, H, L, hd]. FlexAttention skips the blocks the mask rules out; the dense path evaluates the same
        mask_mod and score_mod on every (query, key) at once. Pad queries read only themselves; their output is zeroed."""
        scale = 1.0 / math.sqrt(self.head_dim)
        biased = self.encoding == "alibi" or self.forgetting
        coordinate = None
        if biased:
            coordinate = ((positions if self.encoding == "alibi" else 0) + (interaction if self.forgetting else 0)).to(q.dtype)
        mask_mod, score_mod = flex_mods(interaction, role, coordinate, self.slopes, n, level)
        B, H, L, _ = q.shape
        if attention == "flex":
            block_mask = create_block_mask(mask_mod, B, None, L, L, device=q.device)
            out = flex_attention(q, k, v, score_mod=score_mod if biased else None, block_mask=block_mask, scale=scale)
        else:
            index = lambda size, axis: torch.arange(size, device=q.device).reshape([size if i == axis else 1 for i in range(4)])
            b, h, qi, ki = index(B, 0), index(H, 1), index(L, 2), index(L, 3)
            scores = (q @ k.transpose(-1, -2)) * scale
            if biased:
                scores = score_mod(scores, b, h, qi, ki)
            scores = scores.masked_fill(~mask_mod(b, h, qi, ki), float("-inf"))
            out = torch.softmax(scores, dim=-1) @ v
        return out.masked_fill((role == ROLE_PAD)[:, None, :, None], 0.0)

    def hidden(self, tokens, positions, interaction, role, n, level, attention="dense"):
        """The final-normed residual stream [B, L, d] of a batch of padded prompts."""
        tokens, positions, interaction, role = (t.long() for t in (tokens, positions, interaction, role))
        B, L = tokens.shape
        x = self.wte[tokens]
        if self.encoding == "learned":
            x = x + self.wpe[positions]
        d = x.shape[-1]
        for block in self.h:
            qkv = rms_norm(x, block.norm1W) @ block.qkvW + block.qkvB
            q, k, v = (part.reshape(B, L, self.n_heads, self.head_dim).transpose(1, 2) for part in qkv.split(d, dim=-1))
            if self.encoding == "rope":
                q, k = rotate(q, positions, self.head_dim), rotate(k, positions, self.head_dim)
            attended = self.attend(q, k, v, positions, interaction, role, n, level, attention)
            x = x + attended.transpose(1, 2).reshape(B, L, d) @ block.attnOutW + block.attnOutB
            hidden = torch.nn.functional.gelu(rms_norm(x, block.norm2W) @ block.fcW + block.fcB, approximate="tanh")
            x = x + hidden @ block.fcOutW + block.fcOutB
        return rms_norm(x, self.finalNormW)

    def forward(self, tokens, positions, interaction, role, target_prompt, target_pos, n, level, attention="dense"):
        """The YES-minus-NO logit z_t of every target (its row in the batch and its [SUM] position)."""
        xf = self.hidden(tokens, positions, interaction, role, n, level, attention)
        readout = self.wte[self.yes_token] - self.wte[self.no_token]
        return xf[target_prompt.long(), target_pos.long()] @ readout


_LAYER_NAME = re.compile(r"^h(\d+)\.(\w+)$")


def lab_name(name):
    """state_dict's 'h.0.qkvW' is the lab's 'h0.qkvW'."""
    return re.sub(r"^h\.(\d+)\.", r"h\1.", name)


def torch_name(name):
    match = _LAYER_NAME.match(name)
    return f"h.{match.group(1)}.{match.group(2)}" if match else name


def lab_model_config(train_config, vocab_size, max_seq_len):
    return {**train_config["model"], "vocabSize": vocab_size, "maxSeqLen": max_seq_len, "seed": train_config.get("seed", 1)}


def load_lab_checkpoint(path):
    """A model file exported by the lab (Export model) or written by save_lab_checkpoint: (model, train_config, metadata)."""
    tensors, metadata = read_safetensors(path)
    if "train_config" not in metadata:
        raise ValueError(f"{path}: its metadata has no train_config; it was not written by DTI Lab or dti_lab")
    train_config = json.loads(metadata["train_config"])
    model = DtiLabModel(lab_model_config(train_config, int(metadata["vocab_size"]), int(metadata["max_seq_len"])))
    state = {torch_name(name): tensor.float() for name, tensor in tensors.items()}
    expected = {name: p.shape for name, p in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValueError(f"{path}: tensors missing for this configuration: {', '.join(lab_name(m) for m in missing)}")
    for name, shape in expected.items():
        if tuple(state[name].shape) != tuple(shape):
            raise ValueError(f"{path}: tensor {lab_name(name)} has shape {list(state[name].shape)}, the configuration needs {list(shape)}")
    model.load_state_dict({name: state[name] for name in expected})
    return model, train_config, metadata


def save_lab_checkpoint(path, model, train_config, extra=None):
    """Writes the model in the lab's format (src/model/safetensors.ts), importable with the page's Import model."""
    state = model.state_dict()
    tensors = {lab_name(name): state[name].float() for name in state}
    if "wpe" not in tensors:
        tensors = {"wte": tensors.pop("wte"), "wpe": torch.zeros(0, model.config["dModel"]), **tensors}
    metadata = dict(extra or {})
    metadata.update(
        {
            "format": CHECKPOINT_FORMAT,
            "train_config": json.dumps(train_config),
            "vocab_size": str(model.config["vocabSize"]),
            "max_seq_len": str(model.config["maxSeqLen"]),
        }
    )
    write_safetensors(path, tensors, metadata)

"""The lab's exported prompts (src/train/shards.ts): a manifest and safetensors shards per split, checked on load."""

import hashlib
import json
import os

import torch

from .safetensors_io import read_safetensors

SHARD_FORMAT = "dti-lab-shards/1"
SPLITS = ("train", "validSample", "valid", "test")
GRID = ("tokens", "positions", "interaction", "role", "pad_mask")
LENGTH_POOL_BATCHES = 16


class Split:
    """One split's prompts, every shard padded to the split's longest, with its targets indexed by global prompt row."""

    def __init__(self, shards):
        length = max((s["tokens"].shape[1] for s in shards), default=1)
        grids = {name: [] for name in GRID}
        prompt_offset = 0
        target_prompt, rest = [], {"target_pos": [], "target_label": [], "target_history": []}
        prompt_user, prompt_first = [], []
        for shard in shards:
            pad = length - shard["tokens"].shape[1]
            for name in GRID:
                value = 3 if name == "role" else 0  # ROLE_PAD; every other grid pads with 0
                grids[name].append(torch.nn.functional.pad(shard[name].long(), (0, pad), value=value))
            target_prompt.append(shard["target_prompt"].long() + prompt_offset)
            for name in rest:
                rest[name].append(shard[name].long())
            prompt_user.append(shard["prompt_user"].long())
            prompt_first.append(shard["prompt_first_history"].long())
            prompt_offset += shard["tokens"].shape[0]
        cat = lambda parts: torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
        self.grid = {name: torch.cat(parts) if parts else torch.zeros(0, length, dtype=torch.long) for name, parts in grids.items()}
        self.target_prompt = cat(target_prompt)
        self.target_pos = cat(rest["target_pos"])
        self.target_label = cat(rest["target_label"])
        self.target_history = cat(rest["target_history"])
        self.prompt_user = cat(prompt_user)
        self.prompt_first_history = cat(prompt_first)
        self.lengths = self.grid["pad_mask"].sum(1)
        # Targets of each prompt, as a [start, end) range into the target arrays (they come in prompt order).
        counts = torch.bincount(self.target_prompt, minlength=len(self))
        self.target_start = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])

    def __len__(self):
        return self.grid["tokens"].shape[0]

    @property
    def targets(self):
        return self.target_prompt.shape[0]

    def batch(self, rows):
        """The prompts `rows` (a list of indices), cut to their longest, and their targets re-indexed to the batch."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        length = max(1, int(self.lengths[rows].max())) if len(rows) else 1
        out = {name: grid[rows, :length] for name, grid in self.grid.items()}
        pieces = [torch.arange(int(self.target_start[r]), int(self.target_start[r + 1])) for r in rows.tolist()]
        targets = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.long)
        local = torch.repeat_interleave(torch.arange(len(rows)), self.target_start[rows + 1] - self.target_start[rows])
        out.update(target_prompt=local, target_pos=self.target_pos[targets], target_label=self.target_label[targets], target_index=targets)
        return out


class Shards:
    def __init__(self, directory, manifest, splits):
        self.directory = directory
        self.manifest = manifest
        self.splits = splits

    @property
    def n(self):
        return self.manifest["trainConfig"]["n"]

    @property
    def level(self):
        return self.manifest["trainConfig"]["isolation"]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_shards(directory, splits=SPLITS, verify=True):
    """Reads manifest.json and the shards of `splits`; a file whose checksum differs from the manifest's is refused."""
    path = os.path.join(directory, "manifest.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{directory}: no manifest.json; export the run's prompts from the lab first (see python/README.md)")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("format") != SHARD_FORMAT:
        raise ValueError(f"{path}: format {manifest.get('format')!r}, this package reads {SHARD_FORMAT!r}")
    loaded = {}
    for split in splits:
        shards = []
        for entry in manifest["splits"][split]:
            file = os.path.join(directory, entry["file"])
            if verify and sha256(file) != entry["sha256"]:
                raise ValueError(f"{file}: its SHA-256 is not the manifest's; the file was changed or copied incompletely")
            tensors, _ = read_safetensors(file)
            shards.append(tensors)
        loaded[split] = Split(shards)
    return Shards(directory, manifest, loaded)


def training_groups(split, prompts_per_step, generator):
    """One epoch's optimizer steps as lists of prompt rows, the lab's way (src/prompt/batch.ts batchesOf): shuffle,
    sort pools of LENGTH_POOL_BATCHES steps by length so a step's prompts are alike in length, shuffle the steps."""
    order = torch.randperm(len(split), generator=generator).tolist()
    pool = prompts_per_step * LENGTH_POOL_BATCHES
    groups = []
    for start in range(0, len(order), pool):
        members = sorted(order[start : start + pool], key=lambda row: int(split.lengths[row]))
        groups.extend(members[i : i + prompts_per_step] for i in range(0, len(members), prompts_per_step))
    permutation = torch.randperm(len(groups), generator=generator).tolist()
    return [groups[i] for i in permutation]

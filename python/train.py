"""Train a run exported from DTI Lab on one or many processes: `torchrun --nproc_per_node=N python/train.py --shards DIR`.

The lab's protocol (src/train/trainer.ts): the manifest's targets per optimizer step, AdamW (0.9, 0.95) with weight
decay on the matrices only, gradient-norm clipping, linear warm-up then cosine decay to 10 % of the peak, validation
points on the fixed validation sample, early stopping with patience, and the best validation point's weights scored
on the whole validation and test splits and saved in the lab's format. DDP by default; --fsdp shards the model.

Each optimizer step's prompts are the same whatever the number of processes (one seeded order); each process takes
every W-th prompt of the step, and its loss is its targets' summed loss over the step's loss denominator times W, so
DDP's gradient average is the one-process gradient.
"""

import argparse
import contextlib
import inspect
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dti_lab.data import load_shards, training_groups  # noqa: E402
from dti_lab.model import DtiLabModel, flex_available, load_lab_checkpoint, save_lab_checkpoint  # noqa: E402
from dti_lab.scoring import evaluate, score_split  # noqa: E402
from dti_lab.metrics import roc_auc  # noqa: E402

MIN_PROMPTS_PER_STEP = 4


def learning_rate_at(step, total_steps, peak):
    """src/train/trainer.ts learningRateAt."""
    warmup = max(1, min(100, round(total_steps * 0.05)))
    if step <= warmup:
        return peak * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def prompts_per_step(batch_targets, prompts, targets):
    """src/train/config.ts promptsPerStep."""
    mean_targets = targets / prompts if prompts else 1
    minimum = MIN_PROMPTS_PER_STEP if mean_targets > 1 else 1
    count = max(1, min(prompts, max(minimum, round(batch_targets / mean_targets))))
    return count, max(1, round(count * mean_targets))


def validation_steps(steps_per_epoch, evals_per_epoch):
    return {max(1, round(j * steps_per_epoch / evals_per_epoch)) for j in range(1, evals_per_epoch + 1)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shards", required=True, help="a folder exported by the lab (manifest.json and *.safetensors)")
    p.add_argument("--out", default=None, help="where model.safetensors and result.json go (default: SHARDS/pytorch)")
    p.add_argument("--init", default=None, help="start from this lab checkpoint instead of a fresh initialisation")
    p.add_argument("--steps", type=int, default=None, help="stop after this many optimizer steps (default: the run's)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--batch-targets", type=int, default=None, help="targets per optimizer step, all processes together")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--patience", type=int, default=None, help="validation points without improvement before stopping (0: never)")
    p.add_argument("--evals-per-epoch", type=int, default=None)
    p.add_argument("--fsdp", action="store_true", help="shard parameters, gradients and optimizer state (FSDP) instead of DDP")
    p.add_argument("--attention", choices=("auto", "dense", "flex"), default="auto", help="auto: FlexAttention on CUDA when torch has it")
    p.add_argument("--bf16", action="store_true", help="autocast to bfloat16 on CUDA (the lab itself trains in float32)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (torch >= 2.0; FlexAttention is fast only compiled)")
    p.add_argument("--no-test", action="store_true", help="skip the final validation and test scoring")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    distributed = "RANK" in os.environ
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    say = (lambda *a: print(*a, flush=True)) if rank == 0 and not args.quiet else (lambda *a: None)

    shards = load_shards(args.shards)
    manifest = shards.manifest
    config = dict(manifest["trainConfig"])
    for key, value in (("maxSteps", args.steps), ("epochs", args.epochs), ("learningRate", args.lr), ("batchTargets", args.batch_targets),
                       ("seed", args.seed), ("patience", args.patience), ("evalsPerEpoch", args.evals_per_epoch)):
        if value is not None:
            config[key] = value
    n, level = config["n"], config["isolation"]
    attention = args.attention
    if attention == "auto":
        attention = "flex" if cuda and flex_available() else "dense"
    if attention == "flex" and not flex_available():
        raise SystemExit("--attention flex needs torch >= 2.5 (FlexAttention); this torch is " + torch.__version__)

    if args.init:
        model, _, _ = load_lab_checkpoint(args.init)
    else:
        model = DtiLabModel(manifest["model"], manifest["specialTokens"]["yes"], manifest["specialTokens"]["no"])
        model.reset_parameters(torch.Generator().manual_seed(config["seed"]))
    model.to(device)
    forward_model = model
    if args.compile:
        if not hasattr(torch, "compile"):
            raise SystemExit(f"--compile needs torch >= 2.0; this torch is {torch.__version__}")
        forward_model = torch.compile(model)
    if distributed and args.fsdp:
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel
        except Exception as error:  # Debian's torch 1.13 on Python 3.11 cannot even import it
            raise SystemExit(f"--fsdp: this torch ({torch.__version__}) cannot load FSDP ({error}); use DDP, or torch >= 2.0") from error

        if "use_orig_params" not in inspect.signature(FullyShardedDataParallel.__init__).parameters:
            raise SystemExit(f"--fsdp needs torch >= 2.0 (FSDP with use_orig_params); this torch is {torch.__version__}: use DDP")
        wrapped = FullyShardedDataParallel(forward_model, use_orig_params=True, device_id=device if cuda else None)
    elif distributed:
        wrapped = torch.nn.parallel.DistributedDataParallel(forward_model, device_ids=[device.index] if cuda else None)
    else:
        wrapped = forward_model
    # After wrapping, from the wrapper's parameters: FSDP's are the ones its optimizer must see.
    named = list(wrapped.named_parameters())
    groups = [
        {"params": [p for name, p in named if DtiLabModel.decayed(name)], "weight_decay": config["weightDecay"]},
        {"params": [p for name, p in named if not DtiLabModel.decayed(name)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config["learningRate"], betas=(0.9, 0.95), eps=1e-8)

    train = shards.splits["train"]
    prompts, denominator = prompts_per_step(config["batchTargets"], len(train), train.targets)
    steps_per_epoch = math.ceil(len(train) / prompts)
    planned = steps_per_epoch * config["epochs"]
    total_steps = min(config["maxSteps"], planned) if config["maxSteps"] > 0 else planned
    points = validation_steps(steps_per_epoch, config["evalsPerEpoch"])
    say(f"{len(train)} training prompts ({train.targets} targets), {prompts} prompts per step over {world} process(es), "
        f"{total_steps} steps, attention {attention}, {'FSDP' if args.fsdp and distributed else 'DDP' if distributed else 'one process'}")

    fsdp = distributed and args.fsdp

    def full_state():
        """Every parameter, on the CPU (with FSDP every process takes part in gathering them)."""
        if fsdp:
            from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType

            with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True)):
                return {k: v.detach().cpu().clone() for k, v in wrapped.state_dict().items()}
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def load_full_state(state):
        if fsdp:
            from torch.distributed.fsdp import FullyShardedDataParallel, StateDictType

            with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT):
                wrapped.load_state_dict(state)
        else:
            model.load_state_dict(state)

    def validate():
        # Every process scores the same sample (FSDP's forward needs them all); all get the same AUC.
        split = shards.splits["validSample"]
        logits, labels = score_split(wrapped, split, n, level, attention)
        wrapped.train()
        return roc_auc(logits, labels)

    generator = torch.Generator().manual_seed(config["seed"])
    losses, curve = [], []
    best = None
    since_best = 0
    step = 0
    stop_reason = "max-steps" if config["maxSteps"] > 0 and config["maxSteps"] < planned else "completed"
    started = time.time()
    wrapped.train()
    stopping = False
    for epoch in range(1, config["epochs"] + 1):
        if stopping:
            break
        step_in_epoch = 0
        for group in training_groups(train, prompts, generator):
            if step >= total_steps:
                stopping = True
                break
            step += 1
            step_in_epoch += 1
            share = group[rank::world]
            empty = len(share) == 0
            batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in train.batch(share or group[:1]).items()}
            for g in optimizer.param_groups:
                g["lr"] = learning_rate_at(step, total_steps, config["learningRate"])
            with torch.autocast("cuda", dtype=torch.bfloat16) if args.bf16 and cuda else contextlib.nullcontext():
                z = wrapped(batch["tokens"], batch["positions"], batch["interaction"], batch["role"], batch["target_prompt"], batch["target_pos"], n, level, attention)
            target_losses = torch.nn.functional.binary_cross_entropy_with_logits(z.float(), batch["target_label"].float(), reduction="none")
            if empty:
                target_losses = target_losses * 0
            loss = target_losses.sum() / denominator * world
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config["maxGradNorm"] > 0:
                clip = wrapped.clip_grad_norm_ if hasattr(wrapped, "clip_grad_norm_") else (lambda m: torch.nn.utils.clip_grad_norm_(model.parameters(), m))
                clip(config["maxGradNorm"])
            optimizer.step()
            summed = torch.stack([target_losses.detach().sum(), torch.tensor(0.0 if empty else float(len(target_losses)), device=device)]).double()
            if distributed:
                dist.all_reduce(summed)
            mean_loss = float(summed[0] / max(1.0, float(summed[1])))
            losses.append(mean_loss)
            if step % 20 == 0 or step == total_steps:
                say(f"step {step}/{total_steps} loss {mean_loss:.6f} ({time.time() - started:.1f} s)")
            if step_in_epoch in points and step < total_steps and config["evalsPerEpoch"] > 0:
                auc = validate()
                curve.append({"step": step, "auc": auc})
                say(f"validation sample AUC {auc:.4f} at step {step}")
                if best is None or auc > best["auc"]:
                    best = {"step": step, "auc": auc, "state": full_state()}
                    since_best = 0
                else:
                    since_best += 1
                if config["patience"] > 0 and since_best >= config["patience"]:
                    stop_reason = "early-stopped"
                    stopping = True
                    break
    train_seconds = time.time() - started
    kept_step = step
    if best is not None:
        # As in the lab: the best validation point's weights are the run's model, however the run ended.
        load_full_state(best["state"])
        kept_step = best["step"]
    result = {
        "worldSize": world,
        "parallel": "fsdp" if distributed and args.fsdp else "ddp" if distributed else "none",
        "attention": attention,
        "steps": step,
        "keptStep": kept_step,
        "stopReason": stop_reason,
        "trainSeconds": train_seconds,
        "losses": losses,
        "validCurve": curve,
        "trainConfig": config,
    }
    out = args.out or os.path.join(args.shards, "pytorch")
    if not args.no_test:
        for split in ("valid", "test"):
            scored = evaluate(wrapped, shards.splits[split], n, level, attention)
            result[split] = {k: v for k, v in scored.items() if k != "logits"}
            if split == "test":
                result["testLogits"] = scored["logits"]
        say(f"test AUC {result['test']['auc']:.4f} LogLoss {result['test']['logLoss']:.4f} on {result['test']['count']} targets")
    state = full_state()
    if rank == 0:
        os.makedirs(out, exist_ok=True)
        saved = DtiLabModel(manifest["model"], manifest["specialTokens"]["yes"], manifest["specialTokens"]["no"])
        saved.load_state_dict(state)
        extra = {
            "dataset": manifest["dataset"]["name"],
            "vocab": json.dumps(manifest["vocabulary"]),
            "run_name": f"PyTorch {result['parallel']} x{world} ({manifest['trainConfig']['paradigm'].upper()})",
        }
        save_lab_checkpoint(os.path.join(out, "model.safetensors"), saved, config, extra)
        with open(os.path.join(out, "result.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
        say(f"wrote {out}/model.safetensors and {out}/result.json")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train npsep's bundled default model (Improved SuDoRM-RF, 2 sources, 8 kHz).

The model comes from ``build("improved", hparams)`` in ``tests/torch_reference.py``
so that its state_dict has exactly the keys npsep's converter reads.

    python training/train.py --config training/default.json

Checkpoints go to ``$NPSEP_TRAIN_DIR`` (default ``~/.cache/npsep/training/<run>``):
``ckpt.pt`` (model + optimizer + step + RNG state; written atomically every
few minutes and on SIGTERM/SIGINT), ``best_state_dict.pt`` (plain state_dict of
the best model on validation SI-SDRi), ``train.log`` and ``metrics.jsonl``.
An existing ``ckpt.pt`` is resumed automatically (``--fresh`` starts over).
"""

import argparse
import json
import math
import os
import random
import signal
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import data  # noqa: E402

DEFAULTS = {
    "run": "default",
    "model": {"out_channels": 128, "in_channels": 512, "num_blocks": 8,
              "upsampling_depth": 4, "enc_kernel_size": 21, "enc_num_basis": 512,
              "num_sources": 2},
    "seg_sec": 2.0,
    "batch_size": 4,
    "lr": 1e-3,
    "min_lr": 1e-5,
    "lr_patience": 4,          # validations without improvement before halving the lr
    "clip_grad_norm": 5.0,
    "level_db": 5.0,
    "val_every": 250,          # steps
    "val_count": 100,          # validation mixtures used during training
    "ckpt_minutes": 5.0,
    "max_steps": 100000,
    "max_hours": 0,            # 0: no wall-clock limit
    "threads": 1,
    "seed": 1234,
    "train_splits": {"train": 1.0},   # corpus training splits and the share of talkers drawn from each
    "val_split": "val",
    "augment": False,                  # the mixing-time augmentations of data.TrainMixer
    "reshape": 0.0,                    # per talker, probability of a fresh pitch shift and of a formant warp
    "compile": False,                  # training steps through torch.compile (needs a C++ compiler)
}


def load_config(path):
    cfg = json.loads(json.dumps(DEFAULTS))
    if path:
        with open(path) as f:
            user = json.load(f)
        for k, v in user.items():
            if k == "model":
                cfg["model"].update(v)
            else:
                cfg[k] = v
    return cfg


def build_model(hp):
    from tests.torch_reference import build
    return build("improved", dict(hp))


# --------------------------------------------------------------------------
# loss / metrics
# --------------------------------------------------------------------------

def si_sdr(est, ref, eps=1e-8):
    """SI-SDR in dB over the last axis (both signals made zero-mean first)."""
    est = est - est.mean(dim=-1, keepdim=True)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps)
    tgt = alpha * ref
    noise = est - tgt
    return 10 * torch.log10(((tgt * tgt).sum(-1) + eps) / ((noise * noise).sum(-1) + eps))


def pit_si_sdr(est, ref):
    """Best-permutation mean SI-SDR per item for 2 sources; est/ref (B, 2, T)."""
    a = si_sdr(est, ref).mean(-1)
    b = si_sdr(est.flip(1), ref).mean(-1)
    return torch.maximum(a, b)


def separate(model, mix):
    """The inference recipe (docs/recipe.md): per-item mean/std normalisation, model, de-normalisation.
    mix (B, 1, T) -> (B, S, T)."""
    mean = mix.mean(dim=-1, keepdim=True)
    std = mix.std(dim=-1, keepdim=True)
    out = model((mix - mean) / (std + 1e-9))
    return out * std + mean


def evaluate(model, items):
    """SI-SDRi over fixed mixtures (list of (id, mix (T,), src (2, T))).

    Returns (mean, worst, gain): ``gain`` is the least-squares factor that the
    model's output (before de-normalisation) should be multiplied by so that
    the separated signals have the references' level.  SI-SDR training leaves
    the output scale free; the exported state_dict has it folded into the
    (linear, bias-free) decoder so npsep's written WAVs neither clip nor whisper.
    """
    model.eval()
    imps = []
    num = den = 0.0
    with torch.no_grad():
        for _, mix, src in items:
            m = torch.from_numpy(mix)[None, None]
            s = torch.from_numpy(src)[None]
            est = separate(model, m)
            base = si_sdr(m.expand_as(s), s).mean(-1)
            a = si_sdr(est, s).mean(-1)
            b = si_sdr(est.flip(1), s).mean(-1)
            imps.append(float(torch.maximum(a, b) - base))
            e = est if float(a) >= float(b) else est.flip(1)
            mean = m.mean()
            u = (e - mean).double()
            num += float((u * (s.double() - mean)).sum())
            den += float((u * u).sum())
    model.train()
    return float(np.mean(imps)), float(np.min(imps)), num / max(den, 1e-30)


def export_state_dict(model, gain):
    """Plain state_dict with the output gain folded into decoder.weight."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sd["decoder.weight"] = sd["decoder.weight"] * gain
    return sd


# --------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------

def initial_state(path, model_hp, deepen=False):
    """Weights to start a new run from: an npsep ``.npz`` export, a training
    checkpoint ``ckpt.pt`` (its model must have hyper-parameters ``model_hp``, or with
    ``deepen`` the same but at most as many blocks) or a plain state_dict ``.pt``.
    Returns {name: tensor}."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return {k: torch.from_numpy(z[k]) for k in z.files if k != "__config__"}
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(ck, dict) and "model" in ck and "optimizer" in ck:
        theirs = dict(ck["config"]["model"])
        if deepen and theirs.get("num_blocks", 0) <= model_hp["num_blocks"]:
            theirs["num_blocks"] = model_hp["num_blocks"]
        if theirs != model_hp:
            raise ValueError("its model %s differs from the config's %s" % (ck["config"]["model"], model_hp))
        return dict(ck["model"])
    if not isinstance(ck, dict) or not all(torch.is_tensor(v) for v in ck.values()):
        raise ValueError("neither a training checkpoint nor a state_dict")
    return dict(ck)


def deepened(sd, fresh):
    """``sd`` (a model with N U-ConvBlocks) completed to the deeper model whose fresh
    weights are ``fresh``: blocks N, N+1, ... are appended as identities.  An improved
    block computes x + res_conv(...), so with res_conv's weight and bias at zero it
    passes x through unchanged, and the deeper model starts computing exactly what the
    shallower one did; training then grows the new blocks from there."""
    n = len({k.split(".")[1] for k in sd if k.startswith("sm.")})
    out = dict(sd)
    for k, v in fresh.items():
        if k in sd:
            continue
        if not (k.startswith("sm.") and int(k.split(".")[1]) >= n):
            raise ValueError("the initial weights lack %s, which is not in an added block" % k)
        out[k] = torch.zeros_like(v) if ".res_conv." in k else v.clone()
    return out


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state(np_rng):
    return {"numpy": np_rng.bit_generator.state, "torch": torch.get_rng_state(),
            "python": random.getstate()}


def set_rng_state(np_rng, st):
    np_rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])


class Log:
    def __init__(self, run_dir):
        self.f = open(os.path.join(run_dir, "train.log"), "a")
        self.m = open(os.path.join(run_dir, "metrics.jsonl"), "a")

    def __call__(self, msg):
        line = "%s %s" % (time.strftime("%Y-%m-%d %H:%M:%S"), msg)
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()

    def metric(self, **kw):
        self.m.write(json.dumps(kw) + "\n")
        self.m.flush()


# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(HERE, "default.json"))
    ap.add_argument("--data", default=None, help="corpus dir (default $NPSEP_DATA_DIR or ~/.cache/npsep/corpus)")
    ap.add_argument("--run-dir", default=None,
                    help="default $NPSEP_TRAIN_DIR or ~/.cache/npsep/training/<run>")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    ap.add_argument("--init-npz", default=None,
                    help="start a run that has no checkpoint from the weights of an npsep .npz file "
                         "(e.g. npsep/data/default_model.npz): how a later session continues the bundled model")
    ap.add_argument("--init-state", default=None,
                    help="start a run that has no checkpoint from another run's weights: its ckpt.pt or a "
                         "plain state_dict .pt (e.g. best_state_dict.pt); optimizer, step and lr start fresh")
    ap.add_argument("--deepen", action="store_true",
                    help="with --init-state or --init-npz: the config's model may have more U-ConvBlocks "
                         "than the initial weights; the added blocks start as identities (res_conv zero)")
    ap.add_argument("--benchmark", type=int, default=0,
                    help="only time this many training steps and exit")
    ap.add_argument("--lr-now", type=float, default=None,
                    help="set the learning rate to this value now, also when resuming (a resumed run "
                         "otherwise keeps its checkpoint's rate), e.g. for a final low-rate phase")
    ap.add_argument("--set", action="append", default=[],
                    help="override a config entry, e.g. --set batch_size=2 --set model.in_channels=256")
    a = ap.parse_args(argv)
    if a.init_npz and a.init_state:
        ap.error("--init-npz and --init-state are alternatives: give one")
    if a.deepen and not (a.init_npz or a.init_state):
        ap.error("--deepen needs --init-state or --init-npz")

    cfg = load_config(a.config)
    for kv in a.set:
        k, v = kv.split("=", 1)
        v = json.loads(v)
        if k.startswith("model."):
            cfg["model"][k[6:]] = v
        else:
            cfg[k] = v

    torch.set_num_threads(int(cfg["threads"]))
    data_dir = a.data or os.environ.get("NPSEP_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "npsep", "corpus")
    run_dir = a.run_dir or os.environ.get("NPSEP_TRAIN_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "npsep", "training", cfg["run"])

    seg_len = int(round(cfg["seg_sec"] * data.SR))
    mixer = data.TrainMixer({os.path.join(data_dir, k): w for k, w in cfg["train_splits"].items()},
                            seg_len, cfg["level_db"], cfg["augment"], cfg["reshape"])
    torch.manual_seed(cfg["seed"])
    np_rng = np.random.default_rng(cfg["seed"])
    random.seed(cfg["seed"])
    model = build_model(cfg["model"])
    model.train()
    # the training steps' module: the same parameters, compiled once for the fixed batch shape;
    # validation runs the plain module (its mixtures have many lengths)
    step_model = torch.compile(model) if cfg["compile"] else model
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    nparams = sum(p.numel() for p in model.parameters())

    if a.benchmark:
        times = []
        for i in range(a.benchmark):
            t0 = time.time()
            mix, src = mixer.batch(cfg["batch_size"], np_rng)
            est = separate(step_model, torch.from_numpy(mix))
            loss = -pit_si_sdr(est, torch.from_numpy(src)).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_grad_norm"])
            opt.step()
            times.append(time.time() - t0)
            print("step %d: %.2f s  loss %.2f" % (i, times[-1], float(loss)), flush=True)
        print("params %d  batch %d  seg %.1fs  median step %.2f s" % (
            nparams, cfg["batch_size"], cfg["seg_sec"], float(np.median(times[1:] or times))))
        return

    os.makedirs(run_dir, exist_ok=True)
    log = Log(run_dir)
    ckpt_path = os.path.join(run_dir, "ckpt.pt")
    step = 0
    best = -math.inf
    bad_evals = 0
    if os.path.exists(ckpt_path) and not a.fresh:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if ck["config"]["model"] != cfg["model"]:
            sys.exit("checkpoint %s has model %s, config says %s (use --fresh or another run dir)"
                     % (ckpt_path, ck["config"]["model"], cfg["model"]))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        set_rng_state(np_rng, ck["rng"])
        step, best, bad_evals = ck["step"], ck["best"], ck["bad_evals"]
        log("resumed from %s at step %d (best val SI-SDRi %.2f dB, lr %.2e)"
            % (ckpt_path, step, best, opt.param_groups[0]["lr"]))
    else:
        init = a.init_npz or a.init_state
        if init:
            try:
                sd = initial_state(init, cfg["model"], a.deepen)
                if a.deepen:
                    sd = deepened(sd, model.state_dict())
                # SI-SDR ignores scale, but Adam's step is absolute: give the decoder (whose weight
                # may carry an exported output gain) the scale of a fresh initialisation so the
                # first steps do not swamp it
                fresh = model.state_dict()["decoder.weight"]
                sd["decoder.weight"] = sd["decoder.weight"] * (fresh.norm() / sd["decoder.weight"].norm())
                model.load_state_dict(sd)
            except (OSError, KeyError, ValueError, RuntimeError) as e:
                sys.exit("cannot initialise from %s: %s" % (init, " ".join(str(e).split())[:300]))
            log("initialised from %s%s" % (init, " (deepened: added blocks start as identities)" if a.deepen else ""))
        log("fresh run: %s" % json.dumps(cfg))
        log("model params: %d; data %s (%d training utterances); run dir %s"
            % (nparams, data_dir, len(mixer), run_dir))
    if a.lr_now is not None:
        for g in opt.param_groups:
            g["lr"] = a.lr_now
        bad_evals = 0
        log("learning rate set to %.2e (--lr-now)" % a.lr_now)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    val_items = data.load_fixed_split(os.path.join(data_dir, cfg["val_split"]), cfg["val_count"])

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def save():
        atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                     "rng": rng_state(np_rng), "best": best, "bad_evals": bad_evals,
                     "config": cfg}, ckpt_path)

    t_start = time.time()
    t_ckpt = time.time()
    run_loss = []
    t_window = time.time()
    while step < cfg["max_steps"] and not stop["flag"]:
        if cfg["max_hours"] and time.time() - t_start > cfg["max_hours"] * 3600:
            log("max_hours reached")
            break
        mix, src = mixer.batch(cfg["batch_size"], np_rng)
        est = separate(step_model, torch.from_numpy(mix))
        loss = -pit_si_sdr(est, torch.from_numpy(src)).mean()
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip_grad_norm"])
        if torch.isfinite(gn):
            opt.step()
        step += 1
        run_loss.append(float(loss.detach()))
        if step % 25 == 0:
            dt = (time.time() - t_window) / len(run_loss)
            log("step %d  loss %.3f  (%.2f s/step, lr %.2e)" % (
                step, float(np.mean(run_loss)), dt, opt.param_groups[0]["lr"]))
            log.metric(step=step, train_loss=float(np.mean(run_loss)), sec_per_step=dt,
                       time=time.time())
            run_loss = []
            t_window = time.time()
        if step % cfg["val_every"] == 0:
            t0 = time.time()
            mean, worst, gain = evaluate(model, val_items)
            improved = mean > best
            if improved:
                best = mean
                bad_evals = 0
                atomic_save(export_state_dict(model, gain),
                            os.path.join(run_dir, "best_state_dict.pt"))
                with open(os.path.join(run_dir, "best.json"), "w") as f:
                    json.dump({"step": step, "val_si_sdri": mean, "val_worst": worst,
                               "output_gain": gain, "model": cfg["model"]}, f, indent=1)
            else:
                bad_evals += 1
                if bad_evals >= cfg["lr_patience"]:
                    for g in opt.param_groups:
                        g["lr"] = max(cfg["min_lr"], g["lr"] / 2)
                    bad_evals = 0
            log("VAL step %d  SI-SDRi mean %.2f dB  worst %.2f dB  best %.2f%s  gain %.3g  (%.0f s)"
                % (step, mean, worst, best, "  *" if improved else "", gain, time.time() - t0))
            log.metric(step=step, val_si_sdri=mean, val_worst=worst, output_gain=gain,
                       time=time.time())
            t_window = time.time()
        if time.time() - t_ckpt > cfg["ckpt_minutes"] * 60:
            save()
            t_ckpt = time.time()
    save()
    log("checkpoint saved at step %d%s" % (step, " (signal)" if stop["flag"] else ""))


if __name__ == "__main__":
    main()

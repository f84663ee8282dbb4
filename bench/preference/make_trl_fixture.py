"""Writes crates/methods/tests/fixtures/preference/trl_dpo.json: TRL's preference losses on
seeded random sequence log-probs, for the parity test in crates/methods/tests/preference.rs.

TRL (1.16) computes the DPO, KTO and reward-model losses inline in `_compute_loss` /
`compute_loss`, after the model forward. We call those methods unbound on a minimal stand-in
`self` and a stand-in model whose per-token log-probs sum to the chosen sequence log-probs
(each response's log-prob spread evenly over its tokens), with reference log-probs passed as
precomputed. CPO's `cpo_loss` takes sequence log-probs directly. ORPO's
`get_batch_loss_metrics` runs on a stand-in `concatenated_forward` that returns the mean token
log-probs and, as the NLL, the mean over pairs of `-logp_w/|y_w|` (TRL's own NLL is a token
mean over the batch computed in the forward; the two agree when all chosen lengths are equal);
its `odds_ratio_loss` runs in f64 (TRL casts to float32 for mixed precision; see `orpo_case`).
ORPO draws its inputs from its own generator, so that the other cases' values do not move.
Nothing else of TRL runs.

Run with a venv that has trl:  python bench/preference/make_trl_fixture.py
"""

import json
import pathlib
import types
from collections import defaultdict

import torch
import trl
from trl.experimental.cpo import CPOTrainer
from trl.experimental.orpo import ORPOTrainer
from trl.trainer.dpo_trainer import DPOTrainer
from trl.trainer.kto_trainer import KTOTrainer
from trl.trainer.reward_trainer import RewardTrainer

SEED = 15
ORPO_SEED = 16
B = 16
OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/methods/tests/fixtures/preference/trl_dpo.json"
torch.set_default_dtype(torch.float64)


class Accelerator:
    device = torch.device("cpu")

    @staticmethod
    def gather(t):
        return t

    @staticmethod
    def gather_for_metrics(t):
        return t


def stand_in(**attrs):
    base = dict(
        model=types.SimpleNamespace(training=True),
        accelerator=Accelerator(),
        aux_loss_enabled=False,
        _metrics=defaultdict(lambda: defaultdict(list)),
        _total_train_tokens=0,
        _tp_size=1,
    )
    base.update(attrs)
    return types.SimpleNamespace(**base)


def token_logps(logp, lens, width):
    """[N, width] per-token log-probs: logp/len on the first len tokens, 0 after (TRL masks those)."""
    out = torch.zeros(len(logp), width)
    for i, (lp, n) in enumerate(zip(logp.tolist(), lens.tolist())):
        out[i, : int(n)] = lp / n
    return out


def completion_mask(lens, width):
    """[N, width + 1]: the first column is the (shifted-away) prompt token."""
    mask = torch.zeros(len(lens), width + 1, dtype=torch.long)
    for i, n in enumerate(lens.tolist()):
        mask[i, 1 : 1 + int(n)] = 1
    return mask


def model_returning(log_probs_by_input):
    def model(input_ids, **_):
        lp = log_probs_by_input[id(input_ids)]
        n, t = lp.shape
        return types.SimpleNamespace(
            log_probs=lp,
            entropy=torch.zeros(n, t),
            mean_logits=torch.zeros(n, t),
            is_top1=torch.zeros(n, t, dtype=torch.bool),
        )

    return model


def trl_dpo(pairs, idx, loss_type, beta, label_smoothing=0.0):
    """DPOTrainer._compute_loss on the pairs `idx`; returns (loss, metrics)."""
    pc, pr = pairs["policy_chosen_logp"][idx], pairs["policy_rejected_logp"][idx]
    lc, lr = pairs["chosen_len"][idx], pairs["rejected_len"][idx]
    width = int(torch.cat([lc, lr]).max())
    ids = torch.zeros(2 * len(idx), width + 1, dtype=torch.long)
    lp = token_logps(torch.cat([pc, pr]), torch.cat([lc, lr]), width)
    self = stand_in(
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=label_smoothing,
        use_weighting=False,
    )
    inputs = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "completion_mask": completion_mask(torch.cat([lc, lr]), width),
        "ref_chosen_logps": pairs["reference_chosen_logp"][idx],
        "ref_rejected_logps": pairs["reference_rejected_logp"][idx],
    }
    loss = DPOTrainer._compute_loss(self, model_returning({id(ids): lp}), inputs, False)
    return float(loss), {k: v[-1] for k, v in self._metrics["train"].items()}


def dpo_case(pairs, loss_type, settings, trl_beta, trl_smoothing=0.0):
    loss, metrics = trl_dpo(pairs, torch.arange(B), loss_type, trl_beta, trl_smoothing)
    per_pair = [trl_dpo(pairs, torch.tensor([i]), loss_type, trl_beta, trl_smoothing) for i in range(B)]
    return {
        "name": settings.pop("name"),
        "settings": settings,
        "trl": f"DPOTrainer._compute_loss, loss_type={loss_type!r}",
        "mean_loss": loss,
        "losses": [l for l, _ in per_pair],
        "chosen_rewards": [m["rewards/chosen"] for _, m in per_pair],
        "rejected_rewards": [m["rewards/rejected"] for _, m in per_pair],
        "reward_accuracy": metrics["rewards/accuracies"],
        "reward_margin": metrics["rewards/margins"],
    }


def cpo_case(name, settings, chosen, rejected, loss_type, beta, label_smoothing, gamma=0.0):
    self = stand_in(alpha=0.0, loss_type=loss_type, beta=beta, label_smoothing=label_smoothing, simpo_gamma=gamma)
    losses, cr, rr = CPOTrainer.cpo_loss(self, chosen, rejected)
    return {
        "name": name,
        "settings": settings,
        "trl": f"CPOTrainer.cpo_loss, loss_type={loss_type!r}",
        "mean_loss": float(losses.mean()),
        "losses": losses.tolist(),
        "chosen_rewards": cr.tolist(),
        "rejected_rewards": rr.tolist(),
    }


def trl_orpo(avg_c, avg_r, beta):
    """ORPOTrainer.get_batch_loss_metrics on mean token log-probs; returns (loss, metrics, rewards)."""
    nll = (-avg_c).mean()
    self = stand_in(beta=beta)
    self.odds_ratio_loss = types.MethodType(ORPOTrainer.odds_ratio_loss, self)
    self.concatenated_forward = lambda model, batch: (avg_c, avg_r, torch.zeros(1), torch.zeros(1), nll)
    _, cr, rr, _, _ = self.odds_ratio_loss(avg_c, avg_r)
    loss, metrics = ORPOTrainer.get_batch_loss_metrics(self, None, {})
    return float(loss), metrics, (cr, rr)


def orpo_case(data, beta):
    # odds_ratio_loss starts with `.float()`, a float32 cast for bf16 training; keep f64 for
    # the comparison at 1e-6 by making that cast a no-op on f64 tensors during the call (the
    # accuracy's bool -> float cast still happens).
    real_float = torch.Tensor.float
    torch.Tensor.float = lambda t: t if t.dtype == torch.float64 else real_float(t)
    try:
        avg_c = data["policy_chosen_logp"] / data["chosen_len"]
        avg_r = data["policy_rejected_logp"] / data["rejected_len"]
        loss, metrics, (cr, rr) = trl_orpo(avg_c, avg_r, beta)
        per_pair = [trl_orpo(avg_c[i : i + 1], avg_r[i : i + 1], beta)[0] for i in range(B)]
    finally:
        torch.Tensor.float = real_float
    return {
        "name": "orpo",
        "settings": {"beta": beta},
        "trl": "ORPOTrainer.get_batch_loss_metrics (NLL = mean of -logp_w/|y_w|) and odds_ratio_loss, in f64",
        "pairs": {k: v.tolist() for k, v in data.items()},
        "mean_loss": loss,
        "losses": per_pair,
        "chosen_rewards": cr.tolist(),
        "rejected_rewards": rr.tolist(),
        "reward_accuracy": metrics["rewards/accuracies"],
        "reward_margin": metrics["rewards/margins"],
        "nll": metrics["nll_loss"],
        "log_odds_ratio": metrics["log_odds_ratio"],
        "log_odds_chosen": metrics["log_odds_chosen"],
    }


def orpo_pairs():
    """Mean token log-probs from -5 down to -1e-6 (log-uniform), so that log(1 - exp(a)) is
    exercised on both sides of TRL's branch at -ln 2 and near 0, where it needs care."""
    g = torch.Generator().manual_seed(ORPO_SEED)
    avg = lambda: -torch.exp(torch.empty(B).uniform_(-13.8, 1.6, generator=g))  # noqa: E731
    lens = lambda: torch.randint(3, 40, (B,), generator=g).to(torch.float64)  # noqa: E731
    avg_c, avg_r, lc, lr = avg(), avg(), lens(), lens()
    return {"policy_chosen_logp": avg_c * lc, "policy_rejected_logp": avg_r * lr, "chosen_len": lc, "rejected_len": lr}


def trl_kto(data, idx, beta, wd, wu):
    p, r, lab = data["policy_logp"][idx], data["reference_logp"][idx], data["desirable"][idx]
    ones = torch.ones(len(idx))
    kl_p, kl_r = data["kl_policy_logp"], data["kl_reference_logp"]
    ids = torch.zeros(len(idx), 2, dtype=torch.long)
    kl_ids = torch.zeros(len(kl_p), 2, dtype=torch.long)
    self = stand_in(calculate_KL=True, precompute_ref_logps=True, loss_type="kto", beta=beta,
                    desirable_weight=wd, undesirable_weight=wu)
    self._compute_kl_logps = types.MethodType(KTOTrainer._compute_kl_logps, self)
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "completion_mask": completion_mask(ones, 1),
        "KL_input_ids": kl_ids,
        "KL_attention_mask": torch.ones_like(kl_ids),
        "KL_completion_mask": completion_mask(torch.ones(len(kl_p)), 1),
        "label": lab.bool(),
        "ref_logps": r,
        "ref_KL_logps": kl_r,
    }
    model = model_returning({id(ids): p[:, None], id(kl_ids): kl_p[:, None]})
    loss = KTOTrainer._compute_loss(self, model, batch, False)
    return float(loss), {k: v[-1] for k, v in self._metrics["train"].items()}


def kto_case(data, settings):
    beta, wd, wu = settings["beta"], settings["desirable_weight"], settings["undesirable_weight"]
    loss, metrics = trl_kto(data, torch.arange(B), beta, wd, wu)
    per = [trl_kto(data, torch.tensor([i]), beta, wd, wu) for i in range(B)]
    des = data["desirable"].bool().tolist()
    return {
        "name": "kto",
        "settings": settings,
        "trl": "KTOTrainer._compute_loss, loss_type='kto'",
        "kl_policy_logp": data["kl_policy_logp"].tolist(),
        "kl_reference_logp": data["kl_reference_logp"].tolist(),
        "mean_loss": loss,
        "losses": [l for l, _ in per],
        "chosen_rewards": [m["rewards/chosen"] for (_, m), d in zip(per, des) if d],
        "rejected_rewards": [m["rewards/rejected"] for (_, m), d in zip(per, des) if not d],
        "kl_reference_point": metrics["kl"],
    }


def bt_case(rewards, settings, use_margin):
    logits = torch.cat([rewards["chosen_reward"], rewards["rejected_reward"]])[:, None]
    inputs = {"attention_mask": torch.ones(2 * B, 3, dtype=torch.long)}
    if use_margin:
        inputs["margin"] = rewards["margin"]
    centering = settings["center_rewards_coefficient"] or None
    self = stand_in(args=types.SimpleNamespace(center_rewards_coefficient=centering))
    model = lambda **_: types.SimpleNamespace(logits=logits)  # noqa: E731
    loss = RewardTrainer.compute_loss(self, model, inputs)
    return {
        "name": "bt",
        "settings": settings,
        "use_margin": use_margin,
        "trl": "RewardTrainer.compute_loss",
        "mean_loss": float(loss),
        "reward_accuracy": self._metrics["train"]["accuracy"][-1],
    }


def main():
    g = torch.Generator().manual_seed(SEED)
    u = lambda lo, hi, n=B: lo + (hi - lo) * torch.rand(n, generator=g)  # noqa: E731
    lens = lambda: torch.randint(3, 40, (B,), generator=g).to(torch.float64)  # noqa: E731
    pc, pr = u(-60, -5), u(-70, -5)
    pairs = {
        "policy_chosen_logp": pc,
        "policy_rejected_logp": pr,
        "reference_chosen_logp": pc + 3 * torch.randn(B, generator=g),
        "reference_rejected_logp": pr + 3 * torch.randn(B, generator=g),
        "chosen_len": lens(),
        "rejected_len": lens(),
    }
    cases = []
    for beta in [0.1, 0.5]:
        cases.append(dpo_case(pairs, "sigmoid", {"name": "sigmoid", "beta": beta, "label_smoothing": 0.0}, beta))
        cases.append(dpo_case(pairs, "hinge", {"name": "hinge", "beta": beta}, beta))
        cases.append(dpo_case(pairs, "ipo", {"name": "ipo", "beta": beta, "length_normalized": True}, beta))
        for eps in [0.0, 0.1, 0.3]:
            cases.append(dpo_case(pairs, "robust", {"name": "robust", "beta": beta, "label_smoothing": eps}, beta, eps))
    # cDPO smoothing and summed IPO are not in TRL 1.16's DPOTrainer; CPO's sigmoid / ipo losses are the
    # same formulas with the policy log-probs in place of DPO's log-ratios, so feed it the log-ratios.
    lr_c = pairs["policy_chosen_logp"] - pairs["reference_chosen_logp"]
    lr_r = pairs["policy_rejected_logp"] - pairs["reference_rejected_logp"]
    for beta in [0.1, 0.5]:
        for eps in [0.1, 0.3, 0.5]:
            s = {"beta": beta, "label_smoothing": eps}
            cases.append(cpo_case("sigmoid", s, lr_c, lr_r, "sigmoid", beta, eps))
        cases.append(cpo_case("ipo", {"beta": beta, "length_normalized": False}, lr_c, lr_r, "ipo", beta, 0.0))
    avg_c = pairs["policy_chosen_logp"] / pairs["chosen_len"]
    avg_r = pairs["policy_rejected_logp"] / pairs["rejected_len"]
    for beta, gamma, eps in [(2.0, 1.0, 0.0), (2.5, 1.4, 0.0), (10.0, 3.0, 0.2)]:
        s = {"beta": beta, "gamma": gamma, "label_smoothing": eps}
        cases.append(cpo_case("simpo", s, avg_c, avg_r, "simpo", beta, eps, gamma))

    pol = u(-40, -5)
    unpaired = {
        "policy_logp": pol,
        "reference_logp": pol + 2 * torch.randn(B, generator=g),
        "desirable": (torch.rand(B, generator=g) < 0.6).to(torch.float64),
    }
    kl_p = u(-40, -5)
    for shift, (beta, wd, wu) in [(1.5, (0.1, 1.0, 1.0)), (-1.5, (0.5, 1.0, 1.33))]:
        data = dict(unpaired, kl_policy_logp=kl_p, kl_reference_logp=kl_p - shift + 0.5 * torch.randn(B, generator=g))
        cases.append(kto_case(data, {"beta": beta, "desirable_weight": wd, "undesirable_weight": wu}))

    rewards = {"chosen_reward": 2 * torch.randn(B, generator=g), "rejected_reward": 2 * torch.randn(B, generator=g),
               "margin": u(0, 1)}
    cases.append(bt_case(rewards, {"margin": 0.0, "center_rewards_coefficient": 0.0}, False))
    cases.append(bt_case(rewards, {"margin": 0.0, "center_rewards_coefficient": 0.01}, True))

    orpo = orpo_pairs()
    for beta in [0.1, 0.5, 2.0]:
        cases.append(orpo_case(orpo, beta))

    listed = lambda d: {k: v.tolist() for k, v in d.items()}  # noqa: E731
    fixture = {
        "trl_version": trl.__version__,
        "torch_version": torch.__version__,
        "seed": SEED,
        "generator": "bench/preference/make_trl_fixture.py",
        "pairs": listed(pairs),
        "unpaired": listed(unpaired),
        "rewards": listed(rewards),
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases, trl {trl.__version__})")


if __name__ == "__main__":
    main()

"""symopt.derive.claims: a verdict for every statement S1–S13, backed by passing derivations. Each
computable verdict is decided again here, independently of the claims code, by a short computation
(NumPy, plain floats, or torch.optim where the statement is about PyTorch)."""

from __future__ import annotations

import argparse
import json
import math
import re

import numpy as np
import pytest
import torch

from symopt.derive import Claim, claims
from symopt.derive import claims_cli
from symopt.derive.claims import VERDICTS


@pytest.fixture(scope="module")
def found() -> dict[str, Claim]:
    return {c.id: c for c in claims()}


def test_every_statement_has_a_supported_verdict(found):
    assert list(found) == [f"S{i}" for i in range(1, 14)]
    for c in found.values():
        assert c.verdict in VERDICTS and c.explanation and c.statement
        assert c.supported, (c.id, [e for e in c.evidence if not e.get("passed", True)])
        if c.verdict != "not-decidable-by-computation":
            assert c.derivations, c.id  # every computable verdict rests on derivations


# -- the explanation for the report: formulas typeset, words LaTeX-safe -----------------------------
#: What a formula left in plain text looks like (outside $...$): a Greek or function name spelled
#: out, a product or power written as in code, an index, an arrow, a comparison or a fraction like 1/t.
PLAIN_FORMULA = re.compile(
    r"(?<![A-Za-z\\])(eta|lambda|alpha|sigma|eps|epsilon|Gamma|sqrt|ln)(?![A-Za-z])|\*|\^|->|<|>|~"
    r"|\\_|\\textasciicircum|\\textasciitilde|\b[A-Za-z]_\w|\b\d+/[A-Za-z]\b|\b[A-Za-z]\s*=\s*[-\d]|\|"
)


def plain_formulas(latex: str) -> list[str]:
    """Plain-text formula fragments in ``latex`` outside math mode, i.e. in the even-numbered pieces
    between unescaped dollars, code (\\texttt) aside; escape's "$<$" counts as plain too."""
    pieces = re.split(r"(?<!\\)\$", latex)
    found = [m.group(0) for text in pieces[::2] for m in PLAIN_FORMULA.finditer(re.sub(r"\\texttt\{[^}]*\}", "", text))]
    return found + [f"${m}$" for m in pieces[1::2] if m.strip() in ("<", ">", "")]


def test_every_explanation_has_a_latex_form_with_its_formulas_in_math(found):
    for c in found.values():
        latex = c.explanation_latex
        assert latex, c.id
        assert len(re.findall(r"(?<!\\)\$", latex)) % 2 == 0, (c.id, latex)  # balanced
        assert not plain_formulas(latex), (c.id, plain_formulas(latex), latex)
        assert c.to_json()["explanation_latex"] == latex
    assert r"$\eta\lambda < 2$" in found["S1"].explanation_latex
    assert r"$w_t = (1-\eta\lambda)^t w_0$" in found["S1"].explanation_latex
    assert r"$\sqrt{G_t}+\epsilon$" in found["S5"].explanation_latex
    # the numbers computed at run time are the same in both forms: torch's eps, the first steps
    assert r"$\epsilon = 10^{-10}$" in found["S5"].explanation_latex and "eps = 1e-10" in found["S5"].explanation
    steps = ", ".join(f"{x:.6f}" for x in found["S13"].numbers["first steps (w0=1, g=0.5)"])
    assert steps in found["S13"].explanation and steps in found["S13"].explanation_latex


def test_the_plain_formula_check_would_catch_a_plain_explanation(found):
    from symopt.report.latex import escape

    for c in found.values():
        if c.derivations:  # every computable verdict's explanation has formulas
            assert plain_formulas(escape(c.explanation)), c.id
    assert plain_formulas(r"converges iff $\eta\lambda$ < 2") and plain_formulas("if sigma_t grows")
    assert not plain_formulas(r"converges iff $\eta\lambda < 2$ (\texttt{torch.\allowbreak{}optim}, 1\%)")


# -- each computable verdict, decided here without the claims code ----------------------------------
# A decision computes, case by case, whether the statement is true there, and _verdict maps the
# cases to a verdict: true in every case -> holds, in none -> does-not-hold, in some ->
# holds-under-conditions. Each comment says which computed fact would flip the verdict.
def _verdict(cases: dict[str, bool]) -> str:
    """holds / holds-under-conditions / does-not-hold from where the statement was found true."""
    if all(cases.values()):
        return "holds"
    return "holds-under-conditions" if any(cases.values()) else "does-not-hold"


def _gd_on_quadratic(eta_lambda: float, steps: int) -> np.ndarray:
    """w_0 = 1, ..., w_steps of gradient descent on f = lambda w^2/2: w <- w - eta (lambda w)."""
    w = [1.0]
    for _ in range(steps):
        w.append(w[-1] - eta_lambda * w[-1])
    return np.array(w)


def _torch_run(opt_cls, grad_of, steps: int, w0: float = 1.0, **kwargs):
    """(w after each step, optimizer) for torch.optim.<opt_cls> on one float64 scalar."""
    w = torch.tensor([w0], dtype=torch.float64, requires_grad=True)
    opt = opt_cls([w], **kwargs)
    out = []
    for k in range(1, steps + 1):
        w.grad = torch.tensor([grad_of(k, float(w.detach()))], dtype=torch.float64)
        opt.step()
        out.append(float(w.detach()))
    return np.array(out), opt, w


def decide_s1() -> str:
    # The statement's three regimes, each run: S1 would 'hold' if eta*lambda = 1.5 (jumping
    # around the minimum) failed to settle, and 'not hold' if eta*lambda = 2.5 settled too.
    slow, right, jumps, big = (_gd_on_quadratic(r, 200) for r in (0.01, 1.0, 1.5, 2.5))
    return _verdict(
        {
            "too small converges, slowly": 0.1 < abs(slow[200]) < abs(slow[100]) < 1,
            "just right converges": abs(right[200]) < 1e-12,
            "eta*lambda = 1.5 jumps around and never settles": bool(np.all(jumps[1:] * jumps[:-1] < 0))
            and abs(jumps[200]) > 1e-12,
            "eta*lambda = 2.5 jumps around and never settles": bool(np.all(big[1:] * big[:-1] < 0))
            and abs(big[200]) > 1,
        }
    )


def decide_s2() -> str:
    # The same two schedules, fixed eta = 0.5 and eta_t = 0.5/t (large to small), on f = w^2/2
    # with and without gradient noise (2000 seeded chains). It would 'hold' if the decaying rate
    # also won with exact gradients, 'not hold' if the fixed rate also won under noise.
    rng = np.random.default_rng(0)
    steps, chains = 5000, 2000

    def mean_square(sigma, schedule):
        w = np.ones(chains)
        for k in range(1, steps + 1):
            w = w - schedule(k) * (w + sigma * rng.standard_normal(chains))
        return float(np.mean(w**2))

    fixed, decaying = (lambda k: 0.5), (lambda k: 0.5 / k)
    return _verdict(
        {
            "noisy gradients: the decaying rate ends lower": mean_square(1.0, decaying) < mean_square(1.0, fixed) / 10,
            "exact gradients: the decaying rate ends lower": mean_square(0.0, decaying) < mean_square(0.0, fixed),
        }
    )


def decide_s3() -> str:
    # The post's rule with its plus sign, w_{t+1} = w_t + (eta/t) g, g = lambda w: it would 'hold'
    # (a rule that descends) if |w| fell on either quadratic.
    def post_rule(lam, eta=0.5, steps=1000):
        w = 1.0
        for k in range(1, steps + 1):
            w = w + (eta / k) * (lam * w)
        return w

    return _verdict({f"lambda = {lam}: |w| falls": abs(post_rule(lam)) < 1.0 for lam in (1.0, 4.0)})


def decide_s4() -> str:
    # The 1/t rule in PyTorch (SGD with LambdaLR 1/t) on two different networks (quadratics lambda = 1
    # from w = 1 and lambda = 10 from w = -3): its effective rate -(w_t - w_{t-1})/g_t would differ
    # if t were not all it saw ('does not hold'); AdaGrad's shows a rate can depend on the gradients.
    def effective_rates(opt_cls, lam, w0, **kwargs):
        w = torch.tensor([w0], dtype=torch.float64, requires_grad=True)
        opt = opt_cls([w], **kwargs)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1 / (e + 1)) if opt_cls is torch.optim.SGD else None
        rates = []
        for _ in range(20):
            before, g = float(w.detach()), lam * float(w.detach())
            w.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
            if sched:
                sched.step()
            rates.append((before - float(w.detach())) / g)
        return np.array(rates)

    inverse_time = [effective_rates(torch.optim.SGD, lam, w0, lr=0.05) for lam, w0 in ((1.0, 1.0), (10.0, -3.0))]
    adagrad = [effective_rates(torch.optim.Adagrad, lam, w0, lr=0.05) for lam, w0 in ((1.0, 1.0), (10.0, -3.0))]
    return _verdict(
        {
            "the 1/t rule's rate is the same on both networks": bool(np.allclose(*inverse_time, rtol=1e-12, atol=0)),
            "AdaGrad's rate differs between them": not np.allclose(*adagrad, rtol=1e-3, atol=0),
        }
    )


def decide_s5() -> str:
    # The post's AdaGrad step -eta g/sqrt(G + eps) against torch.optim.Adagrad's first step at the
    # same eps = 1e-8; G against torch's state['sum']; the default eps from a constructed optimizer.
    # It would 'hold' if the steps agreed at g^2 ~ eps too and torch's default eps were 1e-8;
    # 'not hold' if they disagreed even at g = 0.5 (not AdaGrad at all).
    def first_step_ratio(g, eps=1e-8, lr=0.01):
        w, _, _ = _torch_run(torch.optim.Adagrad, lambda k, w: g, 1, lr=lr, eps=eps)
        return (lr * g / math.sqrt(g * g + eps)) / (1.0 - w[0])

    gs = [0.5, -1.5, 0.25]
    _, opt, w = _torch_run(torch.optim.Adagrad, lambda k, w: gs[k - 1], 3)
    p = torch.zeros(1, requires_grad=True)
    return _verdict(
        {
            "g = 0.5: the post's step within 1% of torch's": abs(first_step_ratio(0.5) - 1) < 0.01,
            "g = 1e-5 (g^2 = 1e-10): the post's step within 1% of torch's": abs(first_step_ratio(1e-5) - 1) < 0.01,
            "G_t is the sum of the squared gradients": float(opt.state[w]["sum"]) == sum(g * g for g in gs),
            "torch's default eps is 1e-8": torch.optim.Adagrad([p]).defaults["eps"] == 1e-8,
        }
    )


def decide_s6() -> str:
    # AdaGrad's rate eta/(sqrt(G_t) + eps) over 10^6 steps for a constant gradient and for
    # g_t = t^(-3/4) (summable squares), and the distance travelled. It would 'hold' if the rate
    # also went to 0 for t^(-3/4) and the parameter stopped moving late under a constant gradient.
    t = np.arange(1, 10**6 + 1, dtype=np.float64)
    eta, eps = 0.01, 1e-10
    rate = {
        name: eta / (np.sqrt(np.cumsum(g**2)) + eps)
        for name, g in (("constant", np.full_like(t, 0.5)), ("t^-3/4", t**-0.75))
    }
    moved = np.cumsum(rate["constant"] * 0.5)  # |w_t - w_0| under g = 0.5
    return _verdict(
        {
            "the rate never increases": all(bool(np.all(np.diff(r) <= 0)) for r in rate.values()),
            "constant gradient: the rate goes to 0": rate["constant"][-1]
            < 0.11 * rate["constant"][9999],  # t^(-1/2): 0.1
            "g_t = t^-3/4: the rate goes to 0": rate["t^-3/4"][-1] < 0.5 * rate["t^-3/4"][9999],
            "constant gradient: the parameter stops moving late": moved[-1] - moved[9999] < moved[9999],
        }
    )


def decide_s7() -> str:
    # torch.optim.Adagrad with every default, then its lr on f = w^2 (lambda = 2) from w = 1: it would
    # 'hold' if the steps to |w| <= 1e-8 were within 2x of each other for lr = 0.01, 0.1, 1.
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adagrad([p])
    p.grad = torch.ones(1)
    opt.step()

    def steps_to_target(lr, limit=1000):
        w, _, _ = _torch_run(torch.optim.Adagrad, lambda k, w: 2.0 * w, limit, lr=lr)
        reached = np.flatnonzero(np.abs(w) <= 1e-8)
        return int(reached[0]) + 1 if reached.size else 10 * limit  # not within the limit: at least 10x slower

    counts = [steps_to_target(lr) for lr in (0.01, 0.1, 1.0)]
    return _verdict(
        {
            "one call, every default": bool(p.item() != 0.0),
            "lr needs no tuning (steps to 1e-8 within 2x across lr)": max(counts) <= 2 * min(counts),
        }
    )


def decide_s9() -> str:
    # The post's RMSProp, sigma_t^2 = alpha sigma_{t-1}^2 + (1 - alpha) g^2 + eps, against
    # torch.optim.RMSprop (alpha = 0.99, eps = 1e-8) under a constant gradient: the rate of step 1000.
    # It would 'hold' if they agreed within 1% at g = 1e-4 too, 'not hold' if not even at g = 0.5.
    def rate_ratio(g, alpha=0.99, eps=1e-8, lr=0.01, steps=1000):
        w, _, _ = _torch_run(torch.optim.RMSprop, lambda k, w: g, steps, lr=lr, alpha=alpha, eps=eps)
        torch_rate = (w[-2] - w[-1]) / g
        sigma2 = 0.0
        for _ in range(steps):
            sigma2 = alpha * sigma2 + (1 - alpha) * g * g + eps
        return (lr / math.sqrt(sigma2)) / torch_rate

    return _verdict(
        {f"g = {g:g}: the post's rate within 1% of torch's": abs(rate_ratio(g) - 1) < 0.01 for g in (0.5, 1e-4)}
    )


def _impulse_weights(alpha: float, steps: int) -> np.ndarray:
    """torch.optim.RMSprop's square_avg after `steps` steps, element j having seen gradient 1 at
    step j + 1 and 0 otherwise: element steps - 1 - k holds the weight of the gradient k steps back."""
    w = torch.zeros(steps, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([w], alpha=alpha)
    for j in range(steps):
        grad = torch.zeros(steps, dtype=torch.float64)
        grad[j] = 1.0
        w.grad = grad
        opt.step()
    return opt.state[w]["square_avg"].numpy()[::-1].copy()  # index k = k steps back


def decide_s10() -> str:
    # The weight of the gradient k steps back in torch.optim.RMSprop(alpha=0.9)'s square_avg, early
    # (step 20) and late (step 400): it would 'hold' if late in training some older gradient
    # outweighed the newest, or the weights late differed from those early in favour of old ones.
    early, late = _impulse_weights(0.9, 20), _impulse_weights(0.9, 400)
    return _verdict(
        {
            "late: an older gradient weighs more than the newest": bool(np.any(late[1:] > late[0])),
            "late weights favour old gradients more than early ones": bool(
                np.any(late[1:20] / late[0] > early[1:20] / early[0] * (1 + 1e-12))
            ),
        }
    )


def decide_s11() -> str:
    # sigma_t = sqrt(square_avg) of torch.optim.RMSprop against sqrt(state['sum']) of torch.optim.Adagrad
    # under seeded random gradients: it would 'not hold' if RMSprop's sigma exceeded the largest |g|
    # seen (not an average), or AdaGrad's did not keep growing (nothing to avoid).
    rng = np.random.default_rng(1)
    gs = rng.standard_normal(1600)
    _, rms, w = _torch_run(torch.optim.RMSprop, lambda k, w: gs[k - 1], 1600)
    sigma_rms = math.sqrt(float(rms.state[w]["square_avg"]))
    _, ada400, w400 = _torch_run(torch.optim.Adagrad, lambda k, w: gs[k - 1], 400)
    _, ada1600, w1600 = _torch_run(torch.optim.Adagrad, lambda k, w: gs[k - 1], 1600)
    growth = math.sqrt(float(ada1600.state[w1600]["sum"]) / float(ada400.state[w400]["sum"]))
    return _verdict(
        {
            "RMSprop's sigma stays within the largest |g| seen": sigma_rms <= float(np.max(np.abs(gs))),
            "the weights (1 - alpha) alpha^k sum to at most 1": float(_impulse_weights(0.99, 400).sum()) <= 1.0,
            "AdaGrad's sigma keeps growing (sqrt(t): 2x from t = 400 to 1600)": growth > 1.5,
        }
    )


def decide_s12() -> str:
    # Momentum carries the gradient's direction; RMSProp's state, if it resembled momentum, would
    # change when every gradient changes sign. And 'better than AdaGrad' on the simplest surface,
    # f = w^2/2 with lr = 0.1: it would 'hold' if RMSprop's state flipped with the sign and RMSprop
    # ended closer to the minimum than AdaGrad.
    rng = np.random.default_rng(2)
    gs = rng.standard_normal(50)

    def state_after(opt_cls, key, sign, **kwargs):
        _, opt, w = _torch_run(opt_cls, lambda k, w: sign * gs[k - 1], 50, **kwargs)
        return float(opt.state[w][key])

    momentum_flips = state_after(torch.optim.SGD, "momentum_buffer", -1, momentum=0.9, lr=0.01) == -state_after(
        torch.optim.SGD, "momentum_buffer", 1, momentum=0.9, lr=0.01
    )
    rms_flips = state_after(torch.optim.RMSprop, "square_avg", -1) != state_after(torch.optim.RMSprop, "square_avg", 1)
    rms, _, _ = _torch_run(torch.optim.RMSprop, lambda k, w: w, 1000, lr=0.1)
    ada, _, _ = _torch_run(torch.optim.Adagrad, lambda k, w: w, 1000, lr=0.1)
    assert momentum_flips  # the test's premise: momentum's state does carry the direction
    return _verdict(
        {
            "RMSprop's state carries the gradient's direction, like momentum's": rms_flips,
            "RMSprop ends closer to the minimum than AdaGrad on f = w^2/2": float(np.max(np.abs(rms[-10:])))
            < float(np.max(np.abs(ada[-10:]))),
        }
    )


def decide_s13() -> str:
    # alpha read from a constructed torch.optim.RMSprop, and what it weighs: it would 'not hold' if the
    # default were not 0.99, or if the newest 10 gradients held half of square_avg or more
    # (alpha = 0.99: 1 - 0.99^10 = 9.6%; alpha = 0.9 would give 65%).
    p = torch.zeros(1, requires_grad=True)
    default = torch.optim.RMSprop([p]).defaults["alpha"]
    weights = _impulse_weights(default, 1000)
    return _verdict(
        {
            "the default alpha is 0.99": default == 0.99,
            "gradients over 10 steps old hold most of the weight": weights[:10].sum() < 0.5 * weights.sum(),
        }
    )


DECISIONS = {f"S{i}": globals()[f"decide_s{i}"] for i in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13)}


@pytest.mark.parametrize("sid", DECISIONS)
def test_verdict_agrees_with_an_independent_computation(found, sid):
    assert found[sid].verdict == DECISIONS[sid](), found[sid].explanation


def test_a_decision_can_give_every_computable_verdict():
    assert _verdict({"a": True, "b": True}) == "holds"
    assert _verdict({"a": True, "b": False}) == "holds-under-conditions"
    assert _verdict({"a": False, "b": False}) == "does-not-hold"


def test_the_historical_statement_is_left_to_its_sources(found):
    # S8 (who proposed RMSProp, and where) is history: no computation can decide it, and none is offered.
    assert found["S8"].verdict == "not-decidable-by-computation" and not found["S8"].derivations


def test_torch_statements_against_torch_itself(found):
    # S13: read the default from a constructed optimizer (not inspect, which the claims use).
    w = torch.zeros(1, requires_grad=True)
    assert torch.optim.RMSprop([w]).defaults["alpha"] == 0.99
    assert "0.99" in found["S13"].explanation
    # S5: torch's Adagrad eps is 1e-10, not the post's 1e-8.
    assert torch.optim.Adagrad([w]).defaults["eps"] == 1e-10
    assert "1e-10" in found["S5"].explanation
    # S13's first RMSprop step from v_0 = 0 is lr/sqrt(1-alpha) = 10 lr (by hand: 1 - 0.01*0.5/(sqrt(0.01)*0.5 + 1e-8)).
    first = found["S13"].numbers["first steps (w0=1, g=0.5)"][0]
    assert first == pytest.approx(1 - 0.01 * 0.5 / (0.1 * 0.5 + 1e-8), rel=1e-12)


def test_claims_json(found, capsys):
    assert claims_cli.run(argparse.Namespace(json=True, check=True)) == 0
    document = json.loads(capsys.readouterr().out)
    from symopt import schemas

    assert schemas.validate(document) == "claims"
    data = document["claims"]
    assert [row["id"] for row in data] == [f"S{i}" for i in range(1, 14)]
    for row in data:
        assert {"id", "statement", "verdict", "explanation", "explanation_latex", "evidence", "statement_latex"} <= set(
            row
        )


def test_claims_text(capsys):
    assert claims_cli.run(argparse.Namespace(json=False, check=False)) == 0
    out = capsys.readouterr().out
    assert "S12  [does-not-hold]" in out and "checks passed" in out


def test_a_bad_verdict_is_refused():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Claim("S0", "x", "probably", "y")

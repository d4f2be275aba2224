"""symopt.derive: closed forms derived from the models, each checked against the interpreter."""

from __future__ import annotations

import json
import re

import pytest
import sympy as sp

from symopt import rules
from symopt.cli import main
from symopt.derive import Check, Derivation, Observable, check_closed_form, check_limit, derive, symbolic_results
from symopt.derive import recurrences as R
from symopt.derive.cases import cases
from symopt.derive.gradients import ConstantGradient
from symopt.derive.closed_forms import OWN_CLOSED_FORMS
from symopt.rules import g, t
from symopt.rules._primitives import G0, alpha, epsilon, eta, gamma, mu, tau

ALL = cases("all")


def by_id(results: list[Derivation], suffix: str) -> Derivation:
    (found,) = [d for d in results if d.id.endswith(suffix)]
    return found


def same(a: sp.Expr, b: sp.Expr) -> bool:
    return sp.simplify(a - b) == 0


# -- closed forms against hand derivations --------------------------------------------------------
def test_adagrad_torch_sum_is_initial_plus_t_squares():
    # By hand: G_t = G_0 + g² + ... + g² (t terms).
    d = by_id(derive("adagrad"), ".sum")
    assert same(d.expr, G0 + t * g**2)


def test_rmsprop_torch_square_avg():
    # By hand: v_t = (1-α) g² Σ_{k<t} α^k = (1 - α^t) g².
    d = by_id(derive("rmsprop"), ".square_avg")
    assert same(d.expr, (1 - alpha**t) * g**2)


def test_rmsprop_textbook_eps_in_the_recursion():
    # By hand: v_t = ((1-α) g² + ε) Σ_{k<t} α^k = (1 - α^t)(g² + ε/(1-α)).
    results = derive("rmsprop", dialect="textbook")
    assert same(by_id(results, ".square_avg").expr, (1 - alpha**t) * (g**2 + epsilon / (1 - alpha)))
    assert same(by_id(results, ".lr").expr, eta / sp.sqrt((1 - alpha**t) * (g**2 + epsilon / (1 - alpha))))
    assert same(by_id(results, ".lr_limit").expr, eta / sp.sqrt(g**2 + epsilon / (1 - alpha)))


def test_adagrad_torch_effective_rate_and_limit():
    results = derive("adagrad")
    expected = eta / ((1 + (t - 1) * gamma) * (sp.sqrt(G0 + t * g**2) + epsilon))
    assert same(by_id(results, ".lr").expr, expected)
    assert by_id(results, ".lr_limit").expr == 0


def test_sgd_momentum_buffer_starts_at_the_gradient():
    # By hand: b_1 = g, b_t = μ b_{t-1} + (1-τ) g, so b_t = b* + μ^{t-1}(g - b*), b* = (1-τ) g/(1-μ).
    fixed = (1 - tau) * g / (1 - mu)
    results = derive("sgd", momentum=0.9)
    assert same(by_id(results, ".momentum_buffer").expr, fixed + mu ** (t - 1) * (g - fixed))
    assert same(by_id(results, ".lr_limit").expr, eta * (1 - tau) / (1 - mu))


def test_inverse_time_textbook_climbs():
    # The post's S3 with its plus sign: w_t = w_0 + η g H_t, a negative effective rate.
    results = derive("inverse_time", dialect="textbook")
    assert same(by_id(results, ".lr").expr, -eta / t)
    w0 = sp.Symbol("w_0", real=True)
    assert same(by_id(results, ".param").expr, w0 + eta * g * sp.harmonic(t))


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.label)
def test_every_state_closed_form_satisfies_its_recurrence(case):
    symbolic = symbolic_results(case.rule, tuple(sorted(case.options.items())), ConstantGradient())
    for form in symbolic.states:
        assert R.satisfies(form.recurrence, form.solution.expr)
        assert not R.satisfies(form.recurrence, form.solution.expr + 1)


# -- numeric checks -------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.label)
def test_every_derivation_passes_its_checks(case):
    results = derive(case.rule, **case.options)
    assert results
    for d in results:
        assert d.passed, [c.summary() for c in d.checks]
        assert d.check.method in ("interpreter-float64", "closed-form-mpmath-50")
        if d.check.method == "interpreter-float64" and case.rule.family in OWN_CLOSED_FORMS:
            # AdaGrad-Norm's interpreter runs the whole tensor (40 us a step): float64 at every t <= 1000,
            # 50 digits up to t = 200; its asymptotics are the limit's far-out check
            assert d.check.t_range == (1, 1000) and d.check.tolerance == 1e-10
            (mp,) = d.precision_checks
            assert mp.method == "interpreter-mpmath-50" and mp.max_rel_err <= 1e-40 and mp.t_range == (1, 200)
        elif d.check.method == "interpreter-float64":
            # float64 up to t = 10^6 (log-spaced beyond 1000; 10^4 for a sum over the steps, O(t) terms
            # at each t: check_closed_form's horizon), mpmath at 50 digits up to t = 1000.
            horizon = 10**4 if d.expr.has(sp.Sum) else 10**6
            assert d.check.t_range == (1, horizon) and d.check.tolerance == 1e-10
            (mp,) = d.precision_checks
            assert mp.method == "interpreter-mpmath-50" and mp.max_rel_err <= 1e-40 and mp.t_range == (1, 1000)


def test_a_sum_is_evaluated_in_float64_as_at_50_digits_and_a_wrong_one_fails():
    """RMSProp with momentum: the buffer's closed form is a sum over k <= t; the float64 arm evaluates
    it with math.fsum (checks._evaluate_float64), which must agree with the 50-digit evaluation to
    ~1e-15, and an off-by-one in the sum must still fail that arm."""
    import mpmath

    from symopt.derive import checks as C

    (buffer,) = [d for d in derive("rmsprop", momentum=0.9) if d.id.endswith("momentum_buffer")]
    assert buffer.passed and buffer.expr.has(sp.Sum)
    rule = rules.rmsprop()
    model = ConstantGradient()
    numbers = C.numeric_values(rule, {"momentum": 0.9}, model)
    steps = (1, 2, 10, 100, 1000)
    fast = C._evaluate_float64(buffer.expr, steps, numbers)
    with mpmath.workdps(50):
        slow = C._evaluate(buffer.expr, steps, numbers, model)
    assert fast is not None
    worst = max(abs(f - float(x)) / abs(float(x)) for rf, rs in zip(fast, slow) for f, x in zip(rf, rs) if x != 0)
    assert worst < 1e-13
    (summed,) = buffer.expr.atoms(sp.Sum)
    k, lo, hi = summed.limits[0]
    wrong = buffer.expr.xreplace({summed: sp.Sum(summed.function, (k, lo, hi - 1))})
    f64, _ = check_closed_form(rule, Observable("state", "momentum_buffer"), wrong, {"momentum": 0.9})
    assert not f64.passed


def test_checks_at_non_default_values():
    results = derive("adagrad", initial_accumulator_value=0.1, lr_decay=0.01, lr=0.5, eps=1e-3)
    assert results and all(d.passed for d in results)


def test_a_wrong_closed_form_fails_its_check():
    rule = rules.adagrad()
    values = {"initial_accumulator_value": 0.1}
    f64, mp = check_closed_form(rule, Observable("state", "sum"), G0 + (t + 1) * g**2, values)
    assert not f64.passed and not mp.passed
    assert f64.max_rel_err > 1e-3
    right = check_closed_form(rule, Observable("state", "sum"), G0 + t * g**2, values)
    assert all(c.passed for c in right)


def test_a_wrong_rate_and_a_wrong_limit_fail():
    rule = rules.rmsprop()
    wrong_rate = eta / (epsilon + sp.sqrt(1 - alpha ** (t + 1)) * sp.Abs(g))
    assert not any(c.passed for c in check_closed_form(rule, Observable("lr"), wrong_rate))
    rate = eta / (epsilon + sp.sqrt(1 - alpha**t) * sp.Abs(g))
    assert check_limit(rule, rate, eta / (epsilon + sp.Abs(g))).passed
    assert not check_limit(rule, rate, eta / sp.Abs(g)).passed
    assert not check_limit(rules.adagrad(), eta / sp.sqrt(t * g**2 + epsilon), eta).passed


def test_nan_never_passes():
    assert not Check("x", (1, 2), float("nan"), 1e-10).passed
    assert not Check("x", (1, 2), float("inf"), float("inf")).passed


@pytest.mark.parametrize(
    "wrong", [sp.oo * (G0 + t * g**2), sp.nan * t, G0 + t * g**2 + sp.zoo], ids=["oo", "nan", "zoo"]
)
def test_a_closed_form_that_is_not_finite_fails_both_arms(wrong):
    """max(0.0, nan) is 0.0: the old check passed a closed form that is ∞ or NaN everywhere."""
    f64, mp = check_closed_form(rules.adagrad(), Observable("state", "sum"), wrong)
    assert not f64.passed and not mp.passed


def test_worst_error_lets_nan_win():
    from symopt.derive._result import worst_error

    assert worst_error([0.0, 1e-3]) == 1e-3
    assert worst_error([0.0, float("nan"), 1.0]) != worst_error([0.0, float("nan"), 1.0])  # NaN
    assert worst_error([float("nan"), 0.0]) != 0.0 and worst_error([]) != worst_error([])


def test_a_small_wrong_limit_fails():
    """The limit of η/(|g|√t) is 0; the old check accepted any claimed limit that is merely small
    (its error was relative to the value at t = 100), e.g. 1e-12."""
    expr = eta / (sp.Abs(g) * sp.sqrt(t))
    assert check_limit(rules.adagrad(), expr, sp.Integer(0)).passed
    for wrong in (sp.Float(1e-12), sp.Float(-1e-15), eta * 1e-9):  # resolved down to f(1e32) ~ 1e-18
        assert not check_limit(rules.adagrad(), expr, wrong).passed, wrong
    # a limit reached exactly, or approached slowly (1/ln t), still passes
    assert check_limit(rules.adagrad(), eta + 0 * t, eta).passed
    assert check_limit(rules.adagrad(), eta * (1 + 1 / sp.log(t)), eta).passed is False  # 1/ln(1e64) = 7e-3 > 1e-10


def _wrong_statements(d: Derivation) -> list[sp.Eq]:
    """Statements a derivation must refuse: NaN, and its right-hand side off by 10 % and 0.1."""
    rhs = d.statement.rhs
    out = [sp.Eq(d.statement.lhs, sp.nan, evaluate=False)]
    shifted = rhs * sp.Rational(11, 10) + sp.Rational(1, 10)
    if shifted == rhs:  # ∞ stays ∞: a finite claim instead
        shifted = sp.Integer(7)
    out.append(sp.Eq(d.statement.lhs, shifted, evaluate=False))
    return out


def _analyses():
    from symopt.derive import all_analyses

    return all_analyses()


@pytest.mark.parametrize("d", _analyses(), ids=lambda d: d.id)
def test_every_analysis_checks_the_statement_it_prints(d):
    """The check evaluates ``d.statement`` itself (not a second transcription): a wrong statement
    fed to the same derivation fails. (The issue: changing adagrad.torch.lr_leading to η/(|g|t)
    left every check green.)"""
    assert d.passed and d.recheck is not None
    assert d.recheck(d.statement).passed  # the statement as derived passes through recheck too
    for wrong in _wrong_statements(d):
        assert not d.recheck(wrong).passed, (d.id, wrong)


@pytest.mark.parametrize(
    "family,dialect", [("adagrad", "torch"), ("rmsprop", "torch"), ("rmsprop", "textbook"), ("sgd", "torch")]
)
def test_every_closed_form_checks_the_statement_it_prints(family, dialect):
    for d in derive(family, dialect=dialect):
        for wrong in _wrong_statements(d):
            assert not d.recheck(wrong).passed, (d.id, wrong)


def test_the_sympy_finding_can_fail():
    """The finding 'SymPy's limit of H_t^(1/2) is wrong' fails when the statement is SymPy's own
    answer (the partial sums exceed it) — the old check compared mpmath with a constant."""
    from symopt.derive import euler_maclaurin as EM

    d = EM.sympy_harmonic_limit_finding()
    assert d.passed
    t_ = sp.Symbol("t", integer=True, positive=True)
    sympy_says = sp.limit(sp.harmonic(t_, sp.Rational(1, 2)), t_, sp.oo)
    wrong = d.recheck(sp.Eq(d.statement.lhs, sympy_says, evaluate=False))
    assert not wrong.check.passed and not wrong.precision_checks[0].passed


def test_weight_decay_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="weight_decay=0"):
        derive("adagrad", weight_decay=0.1)


# -- JSON and CLI ---------------------------------------------------------------------------------
def test_json_shape():
    d = derive("adagrad")[0]
    data = json.loads(json.dumps(d.to_json()))
    assert {"id", "title", "statement_latex", "expr", "assumptions", "check"} <= set(data)
    assert set(data["check"]) >= {"method", "t_range", "max_rel_err", "passed"}
    assert same(eval(data["expr"], vars(sp)), d.expr)  # srepr round-trips


def test_cli_json_for_one_rule(capsys):
    assert main(["derive", "rmsprop", "--dialect", "textbook", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "symopt.derive/1" and len(document["cases"]) == 1  # one case: still a list
    data = document["cases"][0]
    assert data["rule"] == "rmsprop" and data["dialect"] == "textbook"
    assert data["update"] == rules.rmsprop("textbook").latex()
    assert [r["id"] for r in data["results"]] == [
        "rmsprop.textbook.square_avg",
        "rmsprop.textbook.lr",
        "rmsprop.textbook.lr_limit",
    ]


def test_cli_all_check_passes_and_covers_every_dialect(capsys):
    assert main(["derive", "all", "--check", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    from symopt import schemas

    assert schemas.validate(document) == "derive"  # every rule and dialect's results, against derive.schema.json
    data = document["cases"]
    pairs = {(row["rule"], row["dialect"]) for row in data}
    assert pairs == {(f, d) for f, (_, ds) in rules.FAMILIES.items() for d in ds}


def test_cli_text_output(capsys):
    assert main(["derive", "adagrad"]) == 0
    out = capsys.readouterr().out
    assert "G <- G + g**2" in out and "passed" in out


def test_cli_check_exit_code_is_1_when_a_check_fails(monkeypatch, capsys):
    import symopt.derive.cli as cli

    real = derive("adagrad")
    broken = Check("interpreter-float64", (1, 1000), 0.5, 1e-10)
    from dataclasses import replace

    monkeypatch.setattr(cli, "derive", lambda rule, *args, **kw: [replace(real[0], check=broken), *real[1:]])
    assert main(["derive", "adagrad", "--check"]) == 1
    assert "adagrad.torch.sum" in capsys.readouterr().err
    assert main(["derive", "adagrad"]) == 0  # without --check a failure is reported, not fatal


def test_cli_errors_are_one_line(capsys):
    assert main(["derive", "nosuch"]) == 2
    assert main(["derive", "adagrad", "-o", "weight_decay=0.1"]) == 2
    err = capsys.readouterr().err
    assert "unknown rule 'nosuch'" in err and "Traceback" not in err


def test_cli_gradient_models(capsys):
    assert main(["derive", "rmsprop", "--gradient", "quadratic", "--json", "--check"]) == 0
    (data,) = json.loads(capsys.readouterr().out)["cases"]
    assert [r["id"] for r in data["results"]] == [
        "rmsprop.quadratic.cycle_outside",
        "rmsprop.quadratic.cycle_eigenvalues",
        "rmsprop.quadratic.cycle_basin",
    ]
    assert main(["derive", "sgd", "--gradient", "noise"]) == 0
    assert "a floor, not convergence" in capsys.readouterr().out
    assert main(["derive", "sgd", "--gradient", "noise", "--check"]) == 0
    assert capsys.readouterr().out.startswith("symopt derive: 1 derivations in 1 cases: 1 passed")
    assert main(["derive", "sgd", "--gradient", "noise", "--check", "--verbose"]) == 0
    assert re.search(r"^passed +max rel err .* sgd\.noise\.stationary_variance$", capsys.readouterr().out, re.M)


def test_cli_check_prints_the_derivations_that_did_not_simply_pass_and_a_summary(monkeypatch, capsys):
    import symopt.derive.cli as cli

    every = [d for case in cli.cases("all") for d in derive(case.rule, **case.options)]
    assert main(["derive", "all", "--check"]) == 0
    compact = capsys.readouterr().out.strip().splitlines()
    # by default: the hazard's line and the summary only (make verify's output stays short)
    assert len(compact) == 2 and compact[0].startswith("hazard") and compact[1].startswith("symopt derive:")
    assert main(["derive", "all", "--check", "-v"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(every) + 1  # -v: one line each, no pretty-printed formulas, no per-check lines
    assert [line.split()[-1] for line in lines[:-1] if "[known hazard" not in line] == [
        d.id for d in every if cli.status(d) != "hazard"
    ]
    hazard = [line for line in lines if line.startswith("hazard")]
    assert hazard and "rmsprop.torch+centered=True.lr" in hazard[0] and "interpreter-float64 arm fails" in hazard[0]
    assert re.match(
        rf"symopt derive: {len(every)} derivations in \d+ cases: {len(every) - 1} passed, 1 passed with a labelled hazard, 0 FAILED",
        lines[-1],
    )
    # a failing derivation is FAILED in its line and in the summary, and the exit code is 1
    real = derive("adagrad")
    broken = Check("interpreter-float64", (1, 1000), 0.5, 1e-10)
    from dataclasses import replace

    monkeypatch.setattr(cli, "derive", lambda rule, *args, **kw: [replace(real[0], check=broken), *real[1:]])
    assert main(["derive", "adagrad", "--check"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^FAILED +max rel err 5\.00e-01 \(tol 1e-10\)  adagrad\.torch\.sum$", out, re.M)
    assert "1 FAILED" in out.splitlines()[-1]


def test_every_step_is_valid_latex():
    """Derivation steps are LaTeX math: words only inside \\text{...}, and no math (^, _) in there."""
    from symopt.derive import all_analyses
    from symopt.derive.cases import cases

    every = list(all_analyses()) + [d for case in cases("all") for d in derive(case.rule, **case.options)]
    for d in every:
        for step in d.steps:
            assert step.count("{") == step.count("}"), (d.id, step)
            for inner in re.findall(r"\\text\{((?:[^{}]|\{[^{}]*\})*)\}", step):
                assert not re.search(r"[\^_\\]", inner), (d.id, inner)


def test_cli_bad_gradient_is_refused():
    with pytest.raises(SystemExit):
        main(["derive", "adagrad", "--gradient", "nosuch"])

"""Euler–Maclaurin summation with an explicit remainder bound, for the sums SymPy cannot expand.

For f smooth on [a, n] and m ≥ 1,

    Σ_{k=a}^{n} f(k) = ∫_a^n f(x) dx + (f(a) + f(n))/2
                       + Σ_{j=1}^{m} B_{2j}/(2j)! · (f^{(2j−1)}(n) − f^{(2j−1)}(a)) + R_m,

    |R_m| ≤ 2 ζ(2m) / (2π)^{2m} · ∫_a^n |f^{(2m)}(x)| dx
          = 2 ζ(2m) / (2π)^{2m} · |f^{(2m−1)}(n) − f^{(2m−1)}(a)|   when f^{(2m)} keeps one sign,

(the periodic Bernoulli function satisfies |B̃_{2m}(x)| ≤ |B_{2m}| = 2 (2m)! ζ(2m)/(2π)^{2m}). The
summands here (k^{−1/2}, 1/(√k + ε), 1/√(G_0 + k g²)) are completely monotone, so every derivative
keeps one sign and the second form applies. Terms k < a are summed exactly.

Letting n → ∞ gives the asymptotic expansion Σ_{k=1}^{n} f(k) = C + F(n) + f(n)/2 + Σ_j B_{2j}/(2j)!
f^{(2j−1)}(n) + O(f^{(2m−1)}(n)) with F an antiderivative and the constant
C = Σ_{k<a} f(k) − F(a) + f(a)/2 − Σ_j B_{2j}/(2j)! f^{(2j−1)}(a) + R_∞, |R_∞| ≤ 2ζ(2m)/(2π)^{2m}
|f^{(2m−1)}(a)|. For f = k^{−1/2} that constant is ζ(1/2) ≈ −1.4604: the sum H_n^{(1/2)} grows like
2√n. (SymPy 1.14 answers ``limit(harmonic(t, 1/2), t, oo) = zeta(1/2)``; the expansion here and
its check show why that is wrong.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable

import mpmath
import numpy as np
import sympy as sp

from ._result import Assumption, Check, Derivation, restatable, worst_error

x = sp.Symbol("x", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)


@dataclass(frozen=True)
class EulerMaclaurin:
    """Σ_{k=1}^{n} f(k) by Euler–Maclaurin from ``start`` (terms below summed exactly), to ``order`` m."""

    summand: sp.Expr  # f(x), in the symbol x
    start: int = 10
    order: int = 2

    def derivative(self, j: int) -> sp.Expr:
        return sp.diff(self.summand, x, j)

    @cached_property
    def antiderivative(self) -> sp.Expr:
        return sp.integrate(self.summand, x)

    @cached_property
    def head(self) -> sp.Expr:
        """Σ_{k<a} f(k), exactly."""
        return sp.Add(*(self.summand.subs(x, j) for j in range(1, self.start)))

    def _correction(self, at: sp.Expr) -> sp.Expr:
        return sp.Add(
            *(
                sp.bernoulli(2 * j) / sp.factorial(2 * j) * self.derivative(2 * j - 1).subs(x, at)
                for j in range(1, self.order + 1)
            )
        )

    @cached_property
    def approximation(self) -> sp.Expr:
        """The sum without R_m, as a function of n."""
        a = sp.Integer(self.start)
        F = self.antiderivative
        return (
            self.head
            + F.subs(x, n)
            - F.subs(x, a)
            + (self.summand.subs(x, a) + self.summand.subs(x, n)) / 2
            + self._correction(n)
            - self._correction(a)
        )

    @cached_property
    def remainder_bound(self) -> sp.Expr:
        """The bound on |R_m| as a function of n (one-signed f^{(2m)})."""
        m = self.order
        top = self.derivative(2 * m - 1)
        factor = 2 * sp.zeta(2 * m) / (2 * sp.pi) ** (2 * m)
        return factor * sp.Abs(top.subs(x, n) - top.subs(x, self.start))

    @cached_property
    def constant(self) -> tuple[sp.Expr, sp.Expr]:
        """(C, bound on |C − value|): the constant of the asymptotic expansion and its uncertainty."""
        a = sp.Integer(self.start)
        m = self.order
        value = self.head - self.antiderivative.subs(x, a) + self.summand.subs(x, a) / 2 - self._correction(a)
        bound = 2 * sp.zeta(2 * m) / (2 * sp.pi) ** (2 * m) * sp.Abs(self.derivative(2 * m - 1).subs(x, a))
        return value, bound

    def asymptotic(self, terms: int = 2) -> sp.Expr:
        """C + F(n) + f(n)/2 + …: the first ``terms`` terms growing/decaying in n (without O(·))."""
        pieces = [self.antiderivative.subs(x, n), self.constant[0], self.summand.subs(x, n) / 2]
        return sp.Add(*pieces[:terms])


def exact_partial_sums(f: Callable[[np.ndarray], np.ndarray], checkpoints: tuple[int, ...]) -> dict[int, float]:
    """Σ_{k=1}^{N} f(k) at each checkpoint N, each segment summed by ``math.fsum`` (correctly
    rounded sums of the float64 terms), segments accumulated with fsum: error ≲ 1e-16 · sum."""
    out, partial, previous = {}, [], 0
    for N in checkpoints:
        ks = np.arange(previous + 1, N + 1, dtype=np.float64)
        partial.append(math.fsum(f(ks)))
        out[N] = math.fsum(partial)
        previous = N
    return out


def check_expansion(
    expansion: EulerMaclaurin, exact: dict[int, float], label: str, statement: sp.Eq | None = None
) -> Check:
    """|exact − S(n)| / bound ≤ 1 at every checkpoint, S the statement's right-hand side with
    its remainder symbol R_m set to 0 (default: the expansion's approximation), the bound the
    expansion's |R_m| bound (the error ratio is reported)."""
    R = sp.Symbol(f"R_{expansion.order}")
    approximation = expansion.approximation if statement is None else sp.sympify(statement.rhs).subs(R, 0)
    extra = approximation.free_symbols - {n}
    if extra:
        raise ValueError(f"the statement of {label} has symbols without a number: {sorted(map(str, extra))}")
    approx = sp.lambdify(n, approximation, "mpmath")
    bound = sp.lambdify(n, expansion.remainder_bound, "mpmath")
    errors = []
    with mpmath.workdps(30):
        for N, value in exact.items():
            if N < expansion.start:
                continue
            a = approx(N)
            if not (mpmath.isfinite(a) and math.isfinite(value)):
                errors.append(math.nan)
                continue
            # 1e-15 · |sum| absorbs the float64 rounding of the terms of the exact sum.
            errors.append(float(abs(mpmath.mpf(value) - a) / (bound(N) + mpmath.mpf(1e-15) * abs(value))))
    steps = [N for N in exact if N >= expansion.start]
    return Check(
        "euler-maclaurin-remainder-bound",
        (steps[0], steps[-1]),
        worst_error(errors),
        1.0,
        detail=f"{label}: max |sum − expansion| / bound (passes when <= 1)",
    )


# -- the three sums of the issue ----------------------------------------------------------------
def _derivation(
    id_: str,
    title: str,
    expansion: EulerMaclaurin,
    exact: dict[int, float],
    label: str,
    extra: tuple[Check, ...] = (),
    explanation: str = "",
    statement: sp.Eq | None = None,
) -> Derivation:
    m = expansion.order
    lhs = sp.Sum(expansion.summand.subs(x, k), (k, 1, n))
    R = sp.Symbol(f"R_{m}")
    statement = statement if statement is not None else sp.Eq(lhs, expansion.approximation + R)
    steps = (
        rf"\sum_{{k=a}}^{{n}} f(k) = \int_a^n f + \frac{{f(a)+f(n)}}{{2}} + \sum_{{j=1}}^{{{m}}} \frac{{B_{{2j}}}}{{(2j)!}}\left(f^{{(2j-1)}}(n) - f^{{(2j-1)}}(a)\right) + R_{{{m}}}",
        rf"a = {expansion.start}\text{{ (terms }} k < a \text{{ summed exactly)}}, \quad f(x) = {sp.latex(expansion.summand)}",
        rf"|R_{{{m}}}| \le \frac{{2\zeta({2 * m})}}{{(2\pi)^{{{2 * m}}}}}\left|f^{{({2 * m - 1})}}(n) - f^{{({2 * m - 1})}}(a)\right| = {sp.latex(expansion.remainder_bound)}",
        r"f \text{ is completely monotone, so } f^{(2m)} \text{ keeps one sign on } [a, n]",
    )
    check = check_expansion(expansion, exact, label, statement)
    return Derivation(
        id=id_,
        title=title,
        statement=statement,
        assumptions=(Assumption(f"|R_{m}| bounded as stated", sp.Le(sp.Abs(R), expansion.remainder_bound)),),
        steps=steps,
        check=check,
        precision_checks=extra,
        explanation=explanation,
    )


CHECKPOINTS = (10, 30, 100, 300, 1000, 3000, 10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6)


@restatable
def inverse_sqrt_sum(*, statement: sp.Eq | None = None) -> Derivation:
    """Σ_{k≤n} k^{−1/2} = 2√n + ζ(1/2) + 1/(2√n) + …; checked against ζ(1/2) − ζ(1/2, n+1)."""
    expansion = EulerMaclaurin(x ** sp.Rational(-1, 2))
    with mpmath.workdps(30):
        exact = {N: float(mpmath.zeta(0.5) - mpmath.zeta(0.5, N + 1)) for N in CHECKPOINTS}
        constant, bound = expansion.constant
        err = abs(mpmath.mpf(str(sp.N(constant, 30))) - mpmath.zeta(0.5))
        constant_check = Check(
            "euler-maclaurin-constant-vs-mpmath-zeta",
            (expansion.start, 0),
            float(err / mpmath.mpf(str(sp.N(bound, 30)))),
            1.0,
            detail=f"C = {sp.N(constant, 12)} vs zeta(1/2) = {mpmath.nstr(mpmath.zeta(0.5), 12)}, |C - zeta(1/2)| / bound",
        )
    return _derivation(
        "sums.inverse_sqrt",
        r"Euler–Maclaurin: sum of k^(-1/2)",
        expansion,
        exact,
        "H_n^(1/2) via Hurwitz zeta",
        (constant_check,),
        statement=statement,
        explanation=(
            "H_n^(1/2) = 2 sqrt(n) + zeta(1/2) + 1/(2 sqrt(n)) + O(n^(-3/2)) diverges like 2 sqrt(n); "
            "its constant is zeta(1/2) ~ -1.4604, which SymPy 1.14 returns as the limit."
        ),
    )


@restatable
def shifted_sqrt_sum(eps: float = 0.5, *, statement: sp.Eq | None = None) -> Derivation:
    """Σ_{k≤n} 1/(√k + ε) = 2√n − 2ε ln(√n + ε) + C + …: AdaGrad's trajectory under a constant
    gradient with G_0 = 0 (ε here is torch's ε / |g|)."""
    e = sp.nsimplify(eps)
    expansion = EulerMaclaurin(1 / (sp.sqrt(x) + e))
    exact = exact_partial_sums(lambda ks: 1.0 / (np.sqrt(ks) + eps), CHECKPOINTS)
    return _derivation(
        "sums.shifted_sqrt",
        rf"Euler–Maclaurin: sum of 1/(sqrt(k) + {eps})",
        expansion,
        exact,
        "direct fsum",
        statement=statement,
        explanation="Sum 1/(sqrt k + eps) = 2 sqrt n - 2 eps ln(sqrt n + eps) + C + O(n^(-1/2)): AdaGrad's total movement under a constant gradient.",
    )


@restatable
def accumulator_sum(G0: float = 0.1, g: float = 0.5, *, statement: sp.Eq | None = None) -> Derivation:
    """Σ_{k≤n} 1/√(G_0 + k g²) = 2√(G_0 + n g²)/g² + C + …: AdaGrad's (ε = 0) total step / η."""
    G, gg = sp.nsimplify(G0), sp.nsimplify(g)
    expansion = EulerMaclaurin(1 / sp.sqrt(G + x * gg**2))
    exact = exact_partial_sums(lambda ks: 1.0 / np.sqrt(G0 + ks * g * g), CHECKPOINTS)
    return _derivation(
        "sums.accumulator",
        rf"Euler–Maclaurin: sum of 1/sqrt({G0} + k {g}^2)",
        expansion,
        exact,
        "direct fsum",
        statement=statement,
        explanation="Sum 1/sqrt(G0 + k g^2) = 2 sqrt(G0 + n g^2)/g^2 + C + O(n^(-1/2)): grows without bound, like sqrt(n).",
    )


@restatable
def sympy_harmonic_limit_finding(*, statement: sp.Eq | None = None) -> Derivation:
    """SymPy 1.14's ``limit(harmonic(t, 1/2), t, oo)`` against the numbers.

    The statement, lim H_t^{(1/2)} = L, is checked on the partial sums: they are increasing
    (positive terms) and bounded below by the integral test, H_N ≥ 2√(N + 1) − 2, so the
    limit is ∞. The check evaluates the statement's L: a finite L fails as soon as a partial
    sum exceeds it (H at 10², 10⁴, 10⁶, 10⁸ via Hurwitz ζ), an infinite L passes only if the
    lower bound holds at each of those N. The title's finding — SymPy's answer is wrong — is
    the second check: it fails if SymPy's limit agrees with the statement (a SymPy that answers
    ∞ would make this finding obsolete, and the test says so)."""
    t = sp.Symbol("t", integer=True, positive=True)
    sympy_says = sp.limit(sp.harmonic(t, sp.Rational(1, 2)), t, sp.oo)
    statement = (
        statement if statement is not None else sp.Eq(sp.Limit(sp.harmonic(t, sp.Rational(1, 2)), t, sp.oo), sp.oo)
    )
    claimed = sp.sympify(statement.rhs)
    violations, rows = 0, []
    with mpmath.workdps(30):
        for N in (10**2, 10**4, 10**6, 10**8):
            value = mpmath.zeta(0.5) - mpmath.zeta(0.5, N + 1)
            below = 2 * mpmath.sqrt(N + 1) - 2
            if claimed is sp.oo:
                violations += not value >= below
            elif claimed.is_number and claimed.is_finite:
                violations += value > mpmath.mpf(str(sp.N(claimed, 30)))  # a partial sum beyond the claimed limit
            else:
                violations += 1  # the statement does not give a limit
            rows.append(f"H({N:.0e}) = {mpmath.nstr(value, 10)} >= {mpmath.nstr(below, 10)}")
    disagrees = (
        sp.simplify(sympy_says - claimed) != 0 if claimed.is_finite or sympy_says.is_finite else sympy_says != claimed
    )
    checks = (
        Check(
            "partial-sums-vs-statement",
            (10**2, 10**8),
            float(violations),
            0.0,
            detail="; ".join(rows) + "; integral test: H_N >= 2 sqrt(N+1) - 2",
        ),
        Check(
            "sympy-disagrees",
            (0, 0),
            0.0 if disagrees else math.inf,
            0.0,
            detail=f"SymPy {sp.__version__}: limit(harmonic(t, 1/2), t, oo) = {sympy_says}",
        ),
    )
    return Derivation(
        id="sums.sympy_limit_finding",
        title="SymPy 1.14's limit of harmonic(t, 1/2) is wrong",
        statement=statement,
        assumptions=(Assumption(f"sympy.limit returns {sympy_says}"),),
        steps=(
            r"H_t^{(1/2)} = \sum_{k \le t} k^{-1/2} \ge \int_1^{t+1} x^{-1/2}\,dx = 2\sqrt{t+1} - 2 \to \infty",
            r"H_t^{(1/2)} = 2\sqrt{t} + \zeta(1/2) + O(t^{-1/2}) \text{ (Euler--Maclaurin, above)}",
        ),
        check=checks[0],
        precision_checks=checks[1:],
        kind="derived",
        explanation=f"SymPy {sp.__version__} gives limit(harmonic(t, 1/2), t, oo) = {sympy_says}; the sum diverges like 2 sqrt(t) (H at 1e6 = {float(mpmath.zeta(0.5) - mpmath.zeta(0.5, 10**6 + 1)):.1f}).",
    )


@restatable
def harmonic_sum(*, statement: sp.Eq | None = None) -> Derivation:
    """H_n = Σ_{k≤n} 1/k = ln n + γ + 1/(2n) − 1/(12n²) + …: the 1/t rule's total rate / η; checked
    against mpmath's harmonic numbers (digamma), the constant against mpmath's Euler γ."""
    expansion = EulerMaclaurin(1 / x)
    with mpmath.workdps(30):
        exact = {N: float(mpmath.harmonic(N)) for N in CHECKPOINTS}
        constant, bound = expansion.constant
        err = abs(mpmath.mpf(str(sp.N(constant, 30))) - mpmath.euler)
        constant_check = Check(
            "euler-maclaurin-constant-vs-mpmath-euler",
            (expansion.start, 0),
            float(err / mpmath.mpf(str(sp.N(bound, 30)))),
            1.0,
            detail=f"C = {sp.N(constant, 12)} vs gamma = {mpmath.nstr(mpmath.euler, 12)}, |C - gamma| / bound",
        )
    return _derivation(
        "sums.harmonic",
        "Euler--Maclaurin: the harmonic numbers H_n",
        expansion,
        exact,
        "H_n via mpmath.harmonic",
        (constant_check,),
        statement=statement,
        explanation="H_n = ln n + gamma + 1/(2n) - 1/(12 n^2) + O(n^(-4)): the sum of the 1/t rule's rates grows like ln n, without bound.",
    )


@lru_cache(maxsize=None)
def _derivations() -> tuple[Derivation, ...]:
    return (inverse_sqrt_sum(), shifted_sqrt_sum(), accumulator_sum(), harmonic_sum(), sympy_harmonic_limit_finding())


def derivations() -> list[Derivation]:
    """Every result of this module, computed once per process (each is immutable)."""
    return list(_derivations())

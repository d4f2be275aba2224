"""Surviving mutants that are equivalent: each changes no observable result, and says why.

A mutant id (``symopt mutate --list`` prints them) maps to the reason. ``symopt mutate`` reports
a survivor listed here as ``equivalent``, and names every entry whose mutant no longer exists
(so that this file cannot keep explaining what is gone). Add an entry only with the argument
that no input can tell the mutant from the original; a mutant that some check *could* catch is
a gap to close with that check instead.
"""

from __future__ import annotations

_ZERO_PATTERN = (
    "at a zero bit pattern (+0.0; -0.0 maps to 0 too) both branches give the same value: -magnitude = -0 = 0 = bits"
)
_SAME_SIDE_AT_ZERO = (
    "the two branches differ only where an ordered pattern is 0, and there both give |a - e| "
    "(|a| + |0| = |a - 0|): no input tells them apart"
)
_INF_MASKS = (
    "torch.equal of the two index sets is true only when the infinite positions of both agree and hold "
    "equal values, with | or & in either index: the same verdict for every input"
)

_REMAINDER_SIGN = (
    "R_2 is the Euler-Maclaurin remainder, known only through |R_2| <= bound (the statement's "
    "assumption); -R_2 satisfies the same bound, so the statement is the same; the check sets R_2 = 0"
)

#: the 1/t rule's learning rate: the post gives none, and no stated result depends on symopt's choice
_FREE_DEFAULT_LR = (
    "the post gives no learning rate for the 1/t rule (S3); symopt's default (0.1, "
    "rules.inverse_time.DEFAULT_LR) enters only the S3 figure, whose caption prints the value it used, "
    "while its derivations, claims and kernels take eta as an argument (no result depends on the value)"
)

#: the Triton kernels' template: a pointer or an offset plus a literal 0 (or 0 times n)
_PLUS_ZERO = (
    "'x + 0' -> 'x - 0' (a scalar's index 0, or the offset 0 * n_tensors of the first table row): "
    "x + 0 = x - 0 for every pointer and integer, so the loaded address is the same"
)

#: the plain 16-bit C kernels' fma where the product is exact in float32 (fma(a, b, c) = a*b + c)
_EXACT_F16_SQUARE = (
    "fmaf(g, g, G) -> g*g + G in float16 Adagrad without a grad_scale: g is a float16 (11 significant "
    "bits, |g| >= 2^-24 or 0), so g*g has at most 22 bits and |g*g| >= 2^-48 is a float32 normal: the "
    "product rounds to itself and both forms round the same exact g*g + G once (every float16 g: "
    "tests/test_mutate_fused.py)"
)
_EXACT_F16_PRODUCT = (
    "fmaf(c0, g, w) -> c0*g + w in float16 SGD's vector loop: c0 is -lr rounded through float16 and g a "
    "float16, so c0*g has at most 22 significant bits within float32's normal range (2^-48 .. 2^32): "
    "the product is exact and both forms round c0*g + w once (every float16 significand of c0 "
    "times every float16 g: tests/test_mutate_fused.py)"
)
_BF16_STORED_AT_ONCE = (
    "fmaf(c0, g, w) -> c0*g + w in bfloat16 SGD's vector loop, whose result is stored to bfloat16 at once: c0 "
    "(-lr rounded through bfloat16) and g have 8 significant bits, so p = c0*g (16 bits) is inexact in float32 only "
    "below its normal range, where |p| < 2^-134 (its last bit is under 2^-149). For a subnormal or zero w (on the "
    "2^-149 grid) the sum stays on that grid: round(w + p) = w + round(p), the same float32. For a normal bfloat16 w "
    "the nearest bfloat16 midpoint is at least 2^-134 away and neither sum reaches it (|p| <= 65025*2^-150 and the "
    "float32 rounding moves it by at most half the float32 spacing, 2^-150 or less there): both store w"
)

EXPLAINED: dict[str, str] = {
    # statements: sign of the Euler-Maclaurin remainder symbol R_2
    "statement-41ce242ef2": _REMAINDER_SIGN,  # sums.inverse_sqrt
    "statement-fb1b717807": _REMAINDER_SIGN,  # sums.shifted_sqrt
    "statement-18562d1ecb": _REMAINDER_SIGN,  # sums.accumulator
    "statement-34717b79d9": _REMAINDER_SIGN,  # sums.harmonic
    # python: mutmut on verify/ulp.py (ids are mutmut's names, hashed with the change)
    "python-2465d66c1b": _ZERO_PATTERN,  # ordered_bits: bits < 0 -> bits <= 0
    "python-7804129aa2": _ZERO_PATTERN,  # ordered_bits: bits < 0 -> bits < 1
    "python-bde82b8fb2": _INF_MASKS,  # ulp_distance: a[a_inf | e_inf] -> a[a_inf & e_inf]
    "python-7da9e634e8": _INF_MASKS,  # ulp_distance: e[a_inf | e_inf] -> e[a_inf & e_inf]
    "python-c7723d00fd": _SAME_SIDE_AT_ZERO,  # ulp_distance: ao >= 0 -> ao > 0
    "python-ce905a714e": _SAME_SIDE_AT_ZERO,  # ulp_distance: ao >= 0 -> ao >= 1
    "python-0438d01d21": _SAME_SIDE_AT_ZERO,  # ulp_distance: eo >= 0 -> eo > 0
    "python-d23e02c53e": _SAME_SIDE_AT_ZERO,  # ulp_distance: eo >= 0 -> eo >= 1
    # kernel-triton: the template's index arithmetic (kernels/triton/adagrad.py, rmsprop.py, plain kernels)
    "kernel-triton-8caadaf880": _PLUS_ZERO,  # adagrad plain: lr = tl.load(scalars + 0)
    "kernel-triton-b977e3bc7e": _PLUS_ZERO,  # adagrad plain: at_param = param_ptr + ...(offsets + 0 * n_tensors ...)
    "kernel-triton-1ea88ffb79": _PLUS_ZERO,  # rmsprop plain: lr = tl.load(scalars + 0)
    "kernel-triton-8665787039": _PLUS_ZERO,  # rmsprop plain: at_param = param_ptr + ...(offsets + 0 * n_tensors ...)
    # kernel-c: the plain 16-bit kernels' multiply-adds whose product is exact (or stored at once)
    "kernel-c-d67117b259": _EXACT_F16_SQUARE,  # adagrad_plain_f16 G (vector loop)
    "kernel-c-7eba4deb1f": _EXACT_F16_SQUARE,  # adagrad_plain_f16 G (scalar tail)
    "kernel-c-9c3a2c6025": _EXACT_F16_PRODUCT,  # sgd_plain_f16 w (vector loop; the tail's c1 is -lr in float32)
    "kernel-c-2b28002077": _BF16_STORED_AT_ONCE,  # sgd_plain_bf16 w (vector loop)
    # inverse_time[corrected|textbook] @ hyperparameter lr: default changed 0.1 -> 0.2
    "model-38d2aa30e5": _FREE_DEFAULT_LR,
    "model-527ca33942": _FREE_DEFAULT_LR,
    # sgd[torch] @ state momentum_buffer: initial value 0 -> 1
    "model-5a29411e49": (
        "SGD's momentum buffer is created at the first step as b_1 = g_1 (the rule's t = 1 guard) before "
        "anything reads it, as torch creates it; its initial value (0 stands for 'not yet') is never read"
    ),
}


#: Survivors that some check could catch but none does yet: a known gap, named with what is
#: missing. ``symopt mutate`` still counts and lists each as a survivor (with this reason); the
#: fast subsets in make test accept exactly these (a listed mutant that is killed fails them, so
#: that the entry is deleted when the gap closes).
#: (The kernel area's first full run, 2026-12-02, left 78 survivors in the generated Torch kernels'
#: sparse, compiled-only, differentiable and x = 1 paths; tests/test_kernel_paths.py, with
#: tests/test_differentiable.py among the area's checks, kills every one.)
#: (The last named kernel-c gaps, an fma dropped in a plain bfloat16 Adagrad or RMSprop kernel where the
#: product is exact in float32 except below its normal range, are killed by tests/test_fused_lowp.py's
#: constructed underflow inputs: a state near 2^-122, eps = 0, |g| below 2^-62, a param on a bfloat16
#: rounding boundary.)
KNOWN_GAPS: dict[str, str] = {}

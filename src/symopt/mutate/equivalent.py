"""Surviving mutants that are equivalent: each changes no observable result, and says why.

A mutant id (``symopt mutate --list`` prints them) maps to the reason. ``symopt mutate`` reports
a survivor listed here as ``equivalent``, and names every entry whose mutant no longer exists
(so that this file cannot keep explaining what is gone). Add an entry only with the argument
that no input can tell the mutant from the original; a mutant that some check *could* catch is
a gap to close with that check instead.
"""

from __future__ import annotations

_ZERO_PATTERN = ("at a zero bit pattern (+0.0; -0.0 maps to 0 too) both branches give the same value: "
                 "-magnitude = -0 = 0 = bits")
_SAME_SIDE_AT_ZERO = ("the two branches differ only where an ordered pattern is 0, and there both give |a - e| "
                      "(|a| + |0| = |a - 0|): no input tells them apart")
_INF_MASKS = ("torch.equal of the two index sets is true only when the infinite positions of both agree and hold "
              "equal values, with | or & in either index: the same verdict for every input")

_REMAINDER_SIGN = ("R_2 is the Euler-Maclaurin remainder, known only through |R_2| <= bound (the statement's "
                    "assumption); -R_2 satisfies the same bound, so the statement is the same; the check sets R_2 = 0")

#: the 1/t rule's learning rate: the post gives none, and no stated result depends on symopt's choice
_FREE_DEFAULT_LR = (
    "the post gives no learning rate for the 1/t rule (S3); symopt's default (0.1, "
    "rules.inverse_time.DEFAULT_LR) enters only the S3 figure, whose caption prints the value it used, "
    "while its derivations, claims and kernels take eta as an argument (no result depends on the value)"
)

#: the Triton kernels' template: a pointer or an offset plus a literal 0 (or 0 times n)
_PLUS_ZERO = ("'x + 0' -> 'x - 0' (a scalar's index 0, or the offset 0 * n_tensors of the first table row): "
              "x + 0 = x - 0 for every pointer and integer, so the loaded address is the same")

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
_GAP_LERP_ABS = ("torch's lerp branch test |w| < 0.5 with the abs dropped (w = 1 - alpha): the same for alpha in "
                 "[0, 1.5); it differs only at alpha >= 1.5 (a hazard torch accepts), where v_1 = (1 - alpha) g^2 < 0 makes "
                 "every param NaN from step 1 and only the grad_avg state's last bits tell the branches apart; no test "
                 "compares grad_avg alone in such a run (tests/test_triton.py compares every tensor, NaN never passes)")

_GAP_16BIT_FMA = ("an fma dropped (a*b + c rounded twice) in a 16-bit kernel: the float results differ by one float32 ULP "
                  "for some inputs, which changes the stored 16-bit value only when the result sits on a 16-bit rounding "
                  "boundary (measured: 1 element in 4 million random ones for Adagrad's grad_scale path; where the product "
                  "is exact in float32, as g*g of a 16-bit g without a grad_scale, the two agree always); "
                  "tests/test_fused_lowp.py compares 70 001 random elements bit for bit and constructs no inputs on that "
                  "boundary")

KNOWN_GAPS: dict[str, str] = {
    # kernel-c (2026-12-02 full run, 1041 mutants): the plain 16-bit kernels' multiply-adds
    "kernel-c-d67117b259": _GAP_16BIT_FMA,  # adagrad_plain_f16 G (grad_scale vector loops)
    "kernel-c-ad35ee2c13": _GAP_16BIT_FMA,  # adagrad_plain_f16 G (tail loops)
    "kernel-c-95cb459685": _GAP_16BIT_FMA,  # adagrad_plain_bf16 G (grad_scale vector loops)
    "kernel-c-6a500b691a": _GAP_16BIT_FMA,  # adagrad_plain_bf16 G (tail loops)
    "kernel-c-4f61610b95": _GAP_16BIT_FMA,  # rmsprop_plain_bf16 v
    "kernel-c-9c3a2c6025": _GAP_16BIT_FMA,  # sgd_plain_f16 w (vector loops)
    "kernel-c-0d7f08ea5a": _GAP_16BIT_FMA,  # sgd_plain_f16 w (tail loops)
    "kernel-c-2b28002077": _GAP_16BIT_FMA,  # sgd_plain_bf16 w (vector loops)
    "kernel-c-7a37513e0f": _GAP_16BIT_FMA,  # adam_plain_f16 m
    "kernel-c-def9cffa7d": _GAP_16BIT_FMA,  # adam_plain_f16 v
    "kernel-c-a21aca0451": _GAP_16BIT_FMA,  # adam_plain_bf16 v
    "kernel-c-fdb19666ba": _GAP_16BIT_FMA,  # adamw_plain_f16 m
    "kernel-c-940a9ea6f9": _GAP_16BIT_FMA,  # adamw_plain_f16 v (vector loops)
    "kernel-c-a94266f00f": _GAP_16BIT_FMA,  # adamw_plain_f16 v (tail loops)
    "kernel-c-ed037640a7": _GAP_16BIT_FMA,  # adamw_plain_bf16 m
    "kernel-c-e3e42d3927": _GAP_16BIT_FMA,  # adamw_plain_bf16 v (vector loops)
    "kernel-c-978122217c": _GAP_16BIT_FMA,  # adamw_plain_bf16 v (tail loops)
    # kernel-triton: every centered RMSprop variant's lerp condition
    "kernel-triton-7c533fd024": _GAP_LERP_ABS,  # _update_rmsprop_centered
    "kernel-triton-6b18228ded": _GAP_LERP_ABS,  # _update_rmsprop_centered_maximize
    "kernel-triton-fdf76c5e21": _GAP_LERP_ABS,  # _update_rmsprop_momentum_centered
    "kernel-triton-4adcea1ea4": _GAP_LERP_ABS,  # _update_rmsprop_momentum_centered_maximize
    "kernel-triton-1dcc1b8205": _GAP_LERP_ABS,  # _update_rmsprop_weight_decay_centered
    "kernel-triton-21a9d977e1": _GAP_LERP_ABS,  # _update_rmsprop_weight_decay_centered_maximize
    "kernel-triton-fb56795800": _GAP_LERP_ABS,  # _update_rmsprop_weight_decay_momentum_centered
    "kernel-triton-0628fa967c": _GAP_LERP_ABS,  # _update_rmsprop_weight_decay_momentum_centered_maximize
}


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
#: the kernel area's first full run (2026-12-02, 1197 mutants, 78 survivors): the area's checks
#: (symbolic, the quick and swept verify rows, tests/test_kernels.py and tests/test_torch_optim.py
#: selected by family) do not reach these code paths of the generated Torch kernels
_GAP_SPARSE = ("a sparse-gradient path (the textbook and 1/t kernels' sparse branch, Adagrad's update_sparse eps): "
               "the kernel area's checks step no sparse gradient through it; tests/test_optim_contract.py does for "
               "torch's dialect but is not among the area's checks")
_GAP_COMPILED_TENSOR_LR = ("the branch taken only under torch.compile with a tensor lr: the kernel area's checks run eagerly "
                           "(tests/test_compile.py compiles steps but is not among the area's checks)")
_GAP_DIFFERENTIABLE = ("update_differentiable with hyperparameters that require grad (_requires_grad): the area's checks "
                       "do not step differentiable=True with such tensors (tests/test_differentiable.py is not among them)")
_GAP_WEIGHT_DECAY_ONE = ("a guard 'x != 0' mutated to 'x != 1': it differs only at exactly 1 (weight_decay = 1, "
                         "momentum = 1), a value no verify case or selected test uses")
_GAP_SGD_FOREACH_GUARDS = ("SGD's foreach guards: 'all(step > 1)' -> '> 2' sends step 2 to the per-tensor loop, which "
                           "may well give the same bits (not shown); nesterov's 'momentum != 0' -> '!= 1' differs only at 1")

KNOWN_GAPS: dict[str, str] = {
    "kernel-f976290ae3": _GAP_WEIGHT_DECAY_ONE,  # adagrad.py:138: constant: 0 -> 1
    "kernel-a07a1e8b3f": _GAP_WEIGHT_DECAY_ONE,  # rmsprop.py:162: constant: 0 -> 1
    "kernel-32a1a69ef5": _GAP_WEIGHT_DECAY_ONE,  # sgd.py:140: constant: 0 -> 1
    "kernel-263d9f24b6": _GAP_WEIGHT_DECAY_ONE,  # adam.py:164: constant: 0 -> 1
    "kernel-9b205f1186": _GAP_WEIGHT_DECAY_ONE,  # adam.py:209: constant: 0 -> 1
    "kernel-51ac62171e": _GAP_WEIGHT_DECAY_ONE,  # adam.py:249: constant: 0 -> 1
    "kernel-7a36bdb5fd": _GAP_WEIGHT_DECAY_ONE,  # adamw.py:164: constant: 0 -> 1
    "kernel-562d914d09": _GAP_WEIGHT_DECAY_ONE,  # adamw.py:206: constant: 0 -> 1
    "kernel-46a82bed26": _GAP_WEIGHT_DECAY_ONE,  # adamw.py:246: constant: 0 -> 1
    "kernel-b735551b7b": _GAP_SPARSE,  # adagrad.py:185: delete: in-place call removed
    "kernel-cec4266a7d": _GAP_SPARSE,  # adagrad.py:185: call: add_ -> sub_
    "kernel-572c9278d6": _GAP_SPARSE,  # adagrad_textbook.py:141: delete: in-place call removed
    "kernel-6a6fbb3937": _GAP_SPARSE,  # adagrad_textbook.py:141: call: add_ -> sub_
    "kernel-4d1490fe0c": _GAP_SPARSE,  # adagrad_textbook.py:141: constant: 2 -> 3
    "kernel-d39aa1bb82": _GAP_SPARSE,  # adagrad_textbook.py:143: call: sqrt_ -> abs_
    "kernel-776f8d8312": _GAP_SPARSE,  # adagrad_textbook.py:143: call: add -> subtract
    "kernel-38870eab1d": _GAP_SPARSE,  # adagrad_textbook.py:145: delete: in-place call removed
    "kernel-a1377fe871": _GAP_SPARSE,  # adagrad_textbook.py:145: call: add_ -> sub_
    "kernel-379c50f2dc": _GAP_SPARSE,  # adagrad_textbook.py:145: keyword: alpha= negated
    "kernel-9c956126e5": _GAP_SPARSE,  # adagrad_textbook.py:145: binop: Div -> Mult
    "kernel-872076b6b3": _GAP_SPARSE,  # adagrad_textbook.py:145: unary: unary minus dropped
    "kernel-34bf479400": _GAP_SPARSE,  # inverse_time.py:129: binop: Div -> Mult
    "kernel-d010f40725": _GAP_SPARSE,  # inverse_time.py:135: delete: in-place call removed
    "kernel-4d2c3053da": _GAP_SPARSE,  # inverse_time.py:135: call: add_ -> sub_
    "kernel-d4a3edb7eb": _GAP_SPARSE,  # inverse_time.py:135: keyword: alpha= negated
    "kernel-a785c9dcf3": _GAP_SPARSE,  # inverse_time.py:135: unary: unary minus dropped
    "kernel-807621006d": _GAP_SPARSE,  # inverse_time_textbook.py:129: binop: Div -> Mult
    "kernel-75291bbcfa": _GAP_SPARSE,  # inverse_time_textbook.py:135: delete: in-place call removed
    "kernel-a4929a2d4d": _GAP_SPARSE,  # inverse_time_textbook.py:135: call: add_ -> sub_
    "kernel-36a304da35": _GAP_SPARSE,  # inverse_time_textbook.py:135: keyword: alpha= negated
    "kernel-5ba7c2d11e": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:169: condition: if test negated
    "kernel-a60bdf0a3b": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:170: delete: in-place call removed
    "kernel-168799d80b": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:170: call: _foreach_div_ -> _foreach_mul_
    "kernel-0ee59dcbf5": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:170: unary: unary minus dropped
    "kernel-83ffb10df2": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:171: delete: in-place call removed
    "kernel-6907fa0e6f": _GAP_COMPILED_TENSOR_LR,  # adagrad_textbook.py:171: call: _foreach_addcdiv_ -> _foreach_addcmul_
    "kernel-9da8a52c26": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:238: delete: in-place call removed
    "kernel-91a51dfd41": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:238: call: _foreach_add_ -> _foreach_sub_
    "kernel-de65f210e1": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:238: call: _foreach_mul -> _foreach_div
    "kernel-2f1d72b988": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:238: unary: unary minus dropped
    "kernel-00d1ded62c": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:244: delete: in-place call removed
    "kernel-d60436b919": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:244: call: _foreach_div_ -> _foreach_mul_
    "kernel-936dc560c4": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:244: unary: unary minus dropped
    "kernel-3a5af747b0": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:245: delete: in-place call removed
    "kernel-e1dd811ff9": _GAP_COMPILED_TENSOR_LR,  # rmsprop.py:245: call: _foreach_addcdiv_ -> _foreach_addcmul_
    "kernel-a844b8b0e4": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:151: condition: if test negated
    "kernel-641b88dccf": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:152: delete: in-place call removed
    "kernel-d62db331b4": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:152: call: _foreach_div_ -> _foreach_mul_
    "kernel-529180c982": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:152: unary: unary minus dropped
    "kernel-5b62b9a204": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:153: delete: in-place call removed
    "kernel-a20e074522": _GAP_COMPILED_TENSOR_LR,  # rmsprop_textbook.py:153: call: _foreach_addcdiv_ -> _foreach_addcmul_
    "kernel-24f3cd1ebd": _GAP_COMPILED_TENSOR_LR,  # sgd.py:212: delete: in-place call removed
    "kernel-5471ff5b32": _GAP_COMPILED_TENSOR_LR,  # sgd.py:212: call: _foreach_add_ -> _foreach_sub_
    "kernel-098bc76237": _GAP_COMPILED_TENSOR_LR,  # sgd.py:212: call: _foreach_mul -> _foreach_div
    "kernel-42f7f138a1": _GAP_COMPILED_TENSOR_LR,  # sgd.py:212: unary: unary minus dropped
    "kernel-7cf9a4b2fa": _GAP_DIFFERENTIABLE,  # sgd.py:142: condition: if test negated
    "kernel-83ecc51135": _GAP_DIFFERENTIABLE,  # sgd.py:143: call: addcmul_ -> addcdiv_
    "kernel-f86fbe169a": _GAP_DIFFERENTIABLE,  # sgd.py:146: constant: 0 -> 1
    "kernel-8994596d0e": _GAP_DIFFERENTIABLE,  # sgd.py:149: constant: 0 -> 1
    "kernel-face6a0d18": _GAP_DIFFERENTIABLE,  # sgd.py:152: constant: 0 -> 1
    "kernel-7e2551b330": _GAP_DIFFERENTIABLE,  # sgd.py:159: condition: if test negated
    "kernel-2a67f2682e": _GAP_DIFFERENTIABLE,  # sgd.py:160: delete: in-place call removed
    "kernel-f5c67c88a3": _GAP_DIFFERENTIABLE,  # sgd.py:160: call: addcmul_ -> addcdiv_
    "kernel-3e27b037e9": _GAP_DIFFERENTIABLE,  # sgd.py:160: keyword: value= negated
    "kernel-f297509a19": _GAP_DIFFERENTIABLE,  # sgd.py:160: unary: unary minus dropped
    "kernel-ae3ebe80ac": _GAP_DIFFERENTIABLE,  # sgd.py:160: constant: 1 -> 2
    "kernel-04580a0fdc": _GAP_DIFFERENTIABLE,  # adam.py:166: condition: if test negated
    "kernel-3c4dc94e6c": _GAP_DIFFERENTIABLE,  # adam.py:167: call: addcmul_ -> addcdiv_
    "kernel-13d8852656": _GAP_DIFFERENTIABLE,  # adam.py:176: delete: in-place call removed
    "kernel-ca27dfa264": _GAP_DIFFERENTIABLE,  # adam.py:176: keyword: weight= negated
    "kernel-7b97e0f651": _GAP_DIFFERENTIABLE,  # adam.py:176: binop: Sub -> Add
    "kernel-f6ff83cd6d": _GAP_DIFFERENTIABLE,  # adam.py:176: constant: 1 -> 2
    "kernel-67a0236c44": _GAP_DIFFERENTIABLE,  # adamw.py:173: delete: in-place call removed
    "kernel-31148d43d1": _GAP_DIFFERENTIABLE,  # adamw.py:173: keyword: weight= negated
    "kernel-ee48d7a199": _GAP_DIFFERENTIABLE,  # adamw.py:173: binop: Sub -> Add
    "kernel-413c4ce193": _GAP_DIFFERENTIABLE,  # adamw.py:173: constant: 1 -> 2
    "kernel-0ff9878df2": _GAP_SGD_FOREACH_GUARDS,  # sgd.py:192: constant: 1 -> 2
    "kernel-bfced8cac8": _GAP_SGD_FOREACH_GUARDS,  # sgd.py:204: constant: 0 -> 1
}


"""The conventions on which frameworks disagree, as explicit named fields.

A *dialect* is a preset of these fields: ``"torch"`` is what ``torch.optim`` executes,
``"textbook"`` is how the source post writes the formulas. Any field can be overridden when a rule
is built (``rules.adagrad(eps_placement="inside")`` is TensorFlow's/optax's ``eps_in_sqrt``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

EPS_PLACEMENTS = ("outside", "inside", "recursion", "none")
LR_DECAYS = ("none", "torch")
WEIGHT_DECAYS = ("none", "l2", "l1")
MOMENTUM_LR = ("outside", "inside")
SIGNS = ("descent", "ascent")
FOREACH_SCALES = ("operand", "op")
SCALAR_CONTRACTIONS = ("none", "fma")
COMPLEX_VIEWS = ("real", "none")
FUSED_TAILS = ("vector", "first_product")
EMA_FORMS = ("torch", "scale_add", "increment")
CENTERINGS = ("flag", "always", "never")
MOMENTUM_FORMS = ("family", "none", "heavy_ball", "dampened")


@dataclass(frozen=True)
class Conventions:
    """Where the conventions of one update rule sit.

    eps_placement
        ``"outside"``: σ = √v + ε (torch, chainer); ``"inside"``: σ = √(v + ε) (TensorFlow, optax
        ``eps_in_sqrt``, the post's AdaGrad); ``"recursion"``: ε is added inside the recursion of
        σ², σ_t² = α σ_{t-1}² + (1-α) g_t² + ε (the post's RMSProp).
    initial_accumulator
        ``None``: the accumulator starts at torch's ``initial_accumulator_value`` hyperparameter;
        a number: it starts there, fixed (the post: 0; TensorFlow's Adagrad: 0.1).
    lr_decay
        ``"torch"``: η_t = η / (1 + (t-1)·lr_decay) (torch.optim.Adagrad); ``"none"``.
    weight_decay
        ``"l2"``: g ← g + λ w before everything else (torch); ``"l1"``: g ← g + λ sign(w), the
        L1 penalty's subgradient, 0 at w = 0 (Caffe's ``regularization_type: "L1"``,
        ``caffe_cpu_sign`` then ``caffe_axpy``); ``"none"``: not offered.
    maximize
        Whether the rule offers torch's ``maximize`` flag (g ← −g first).
    momentum_lr
        Where η enters a momentum buffer: ``"outside"`` b ← μ b + g/σ, w ← w − η b (torch);
        ``"inside"`` b ← μ b + η g/σ, w ← w − b (TensorFlow). They differ when η changes.
    bias_correction
        Divide the second-moment average by 1 − α^t (Adam-style) before the square root.
    sign
        ``"descent"`` w ← w − …; ``"ascent"`` w ← w + … (the post's statement S3 as written).
    foreach_scale
        How torch's multi-tensor path applies a coefficient that differs per tensor (it depends
        on t): ``"operand"`` scales the tensor operand first, ``_foreach_mul`` then
        ``_foreach_addcdiv_`` (Adagrad's −clr); ``"op"`` passes the list to the op,
        ``_foreach_addcdiv_(w, m, σ, [−η/c₁ …])`` (Adam's step size), whose product stays in
        float32 opmath. The same number in exact arithmetic; in bfloat16/float16 the first rounds
        the product to the storage dtype (to 0 when it is subnormal there) and the second does not.
    scalar_contraction
        How torch's fused CPU kernel computes a per-tensor scalar a·b + c (Adagrad's
        clr = lr / (1 + (step − 1)·lr_decay)): ``"fma"`` rounds it once, as the C++ of
        ``FusedAdagradKernel.cpp`` does when compiled with floating-point contraction (GCC's
        default; measured on torch 2.13's CPU build: ``lr/fma(lr_decay, step − 1, 1)`` is its
        result bit for bit, the twice-rounded form is 1 ULP off on some steps); ``"none"``
        rounds every operation. Only the fused C printer reads it: the for-loop and foreach
        paths compute their scalars in Python floats, every operation rounded.
    complex_view
        How torch's code computes on a complex parameter: ``"real"`` views every tensor as its
        interleaved real pairs (``torch.view_as_real``) and runs the real ops on those, after the
        gradient transformations in the for-loop and first of all in the foreach path (Adagrad,
        RMSprop, Adam); ``"none"`` runs the same ops on the complex tensors themselves (SGD). The
        same numbers in exact arithmetic, not in floating point: a complex ``x.add(y, alpha=c)``
        rounds c·y before the sum (as a complex product), the real view's add fuses it into one
        rounding; a complex product with inf gives NaN where the real view gives inf.
    decoupled_weight_decay
        How λ enters. ``False`` (coupled, the L2 penalty's gradient): g ← g + λ w before the update
        (torch's Adagrad, RMSprop, SGD and Adam, TensorFlow's ``kernel_regularizer``); ``True``
        (decoupled, Loshchilov & Hutter): w ← w·(1 − η λ) before the update, λ scaled by η and
        outside the moment averages (torch's AdamW and ``Adam(decoupled_weight_decay=True)``;
        optax's ``adamw``, whose ``add_decayed_weights`` adds λ w to the update before it is
        scaled by −η, is the same number in exact arithmetic). Read only where the rule offers
        weight decay (``weight_decay="l2"``; the L1 penalty is always coupled).
    fused_tail
        How torch's fused CPU kernel rounds ``a·b + c·d`` (``T ← a·T + c·X``, ``a·T + c·X·Y``)
        in its scalar tail, the last ``numel mod W`` elements of a tensor that its vector loop
        (``W = at::vec::Vectorized<T>::size()``) leaves. ``"vector"``: as the vector loop, one
        rounding of the last product fused (``fma(c·X, Y, a·T)``, what torch's op sequence
        ``T.mul_(a).addcmul_(X, Y, value=c)`` computes everywhere: Adagrad, RMSprop);
        ``"first_product"``: the tail fuses the first product instead, ``fma(T, a, c·X·Y)``
        (ATen's ``FusedSGDKernel.cpp`` and ``FusedAdamKernel.cpp``, compiled by GCC with
        floating-point contraction: their vector loop passes the products to ``operator+`` and
        gets the last one fused, their scalar loop writes ``T*a + c*X*Y`` and gets the first;
        measured on torch 2.13's AVX2 CPU build, bit for bit). Only the fused C printer reads it; it is
        left out of ``repr`` and so of the model hash (no Python kernel depends on it): the C
        sources state it in their header, and ``symopt generate --check`` compares their text.

    The fields below describe other frameworks' dialects (``symopt.rules.dialects``). Their
    defaults are torch's, and every one of them is left out of ``repr`` (so of the model hash):
    a value that changes a rule changes its equations, which the hash covers.

    eps_placement ``"none"``
        No ε at all, σ = √G (TF1's ``AdagradOptimizer`` / kernel ``ApplyAdagrad``, the JAX
        example ``adagrad``); the rule then has no ε hyperparameter.
    eps_in_sqrt_flag
        The placement of ε is a boolean hyperparameter ``eps_in_sqrt`` (optax's ``eps_in_sqrt``,
        Chainer's ``eps_inside_sqrt``) whose default is ``eps_placement == "inside"``; ``False``:
        fixed by ``eps_placement`` (torch).
    eps_placement_momentum
        Where ε sits when momentum μ > 0: tf.keras 2's legacy ``RMSprop`` computes
        √v + ε itself when μ = 0 and calls the TF kernel (√(v + ε)) when μ > 0, so it is
        ``"inside"`` there with ``eps_placement="outside"``. ``None``: ``eps_placement`` (everyone else).
    eps_placement_centered
        Where ε sits when ``centered``: MXNet 2.0 (√v + ε plain, √(v − m² + ε) centered).
        ``None``: ``eps_placement``.
    initial_square_avg
        RMSProp's v₀: 0 (torch, Keras, optax's default); a fixed number (TF1's
        ``RMSPropOptimizer``, timm's ``RMSpropTF``, SB3's ``RMSpropTFLike``: 1); ``None``: a
        hyperparameter ``initial_scale`` (optax ``initial_scale``, torch7 ``initialMean``).
    ema_form
        How the averages are written (the same in exact arithmetic, not in rounding):
        ``"torch"``: v ← α v + (1 − α) g², m ← m + (1 − α)(g − m) (torch's ``mul_().addcmul_()``,
        ``lerp_``); ``"scale_add"``: both ρ x + (1 − ρ) y (Keras 3, optax, JAX, SB3);
        ``"increment"``: both x + (1 − ρ)(y − x) (TF's kernels ``ms += (g² − ms)(1 − ρ)``, timm).
    centering
        RMSProp's centered variance: ``"flag"`` a ``centered`` hyperparameter (torch);
        ``"always"`` (Chainer's ``RMSpropGraves``); ``"never"`` (the post, Lasagne, Caffe).
    momentum_form
        ``"family"``: the family's own (RMSProp: torch's heavy ball with ``momentum_lr``;
        AdaGrad: none); ``"none"``; ``"heavy_ball"`` b ← μ b + g/σ (RMSProp's, ``momentum_lr``
        places η); ``"dampened"``: b ← (1 − μ) g/σ + μ b, w ← w − η b (the JAX example's
        ``adagrad``, momentum 0.9 by default).
    momentum_lr_flag
        Where η enters the buffer is a boolean hyperparameter ``lr_in_momentum`` whose default
        is ``momentum_lr == "inside"`` (timm's ``RMSpropTF``).
    nesterov
        Offer a ``nesterov`` flag on the heavy-ball buffer as optax's ``trace(nesterov=True)``
        (after η): w ← w − (η g/σ + μ b) with the new b.
    bias_correction_flag
        Bias correction (÷ (1 − ρᵗ) of every average, as optax divides ν and μ) is a boolean
        hyperparameter ``bias_correction`` (optax's ``rmsprop``).
    decoupled_weight_decay_flag
        Coupled or decoupled weight decay is a boolean hyperparameter ``decoupled_decay`` (timm).
    zero_guard
        The step is 0 where the accumulator is 0: ``where(G > 0, g/σ, 0)`` (optax's
        ``scale_by_rss``: ``where(v > 0, rsqrt(v + ε), 0)``; the JAX example's
        ``where(G > 0, 1/√G, 0)``). ``False``: no guard (torch).
    """

    eps_placement: str = "outside"
    initial_accumulator: float | None = None
    lr_decay: str = "torch"
    weight_decay: str = "l2"
    maximize: bool = True
    momentum_lr: str = "outside"
    bias_correction: bool = False
    sign: str = "descent"
    foreach_scale: str = "operand"
    scalar_contraction: str = "fma"
    complex_view: str = "real"
    decoupled_weight_decay: bool = False
    fused_tail: str = field(default="vector", repr=False)
    eps_in_sqrt_flag: bool = field(default=False, repr=False)
    eps_placement_momentum: str | None = field(default=None, repr=False)
    eps_placement_centered: str | None = field(default=None, repr=False)
    initial_square_avg: float | None = field(default=0.0, repr=False)
    ema_form: str = field(default="torch", repr=False)
    centering: str = field(default="flag", repr=False)
    momentum_form: str = field(default="family", repr=False)
    momentum_lr_flag: bool = field(default=False, repr=False)
    nesterov: bool = field(default=False, repr=False)
    bias_correction_flag: bool = field(default=False, repr=False)
    decoupled_weight_decay_flag: bool = field(default=False, repr=False)
    zero_guard: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("eps_placement", EPS_PLACEMENTS),
            ("lr_decay", LR_DECAYS),
            ("weight_decay", WEIGHT_DECAYS),
            ("momentum_lr", MOMENTUM_LR),
            ("sign", SIGNS),
            ("foreach_scale", FOREACH_SCALES),
            ("scalar_contraction", SCALAR_CONTRACTIONS),
            ("complex_view", COMPLEX_VIEWS),
            ("fused_tail", FUSED_TAILS),
            ("ema_form", EMA_FORMS),
            ("centering", CENTERINGS),
            ("momentum_form", MOMENTUM_FORMS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
        for name in ("eps_placement_momentum", "eps_placement_centered"):
            value = getattr(self, name)
            if value is not None and value not in ("outside", "inside"):
                raise ValueError(f"{name} must be None, 'outside' or 'inside'; got {value!r}")
        for name in (
            "eps_in_sqrt_flag",
            "momentum_lr_flag",
            "nesterov",
            "bias_correction_flag",
            "decoupled_weight_decay_flag",
            "zero_guard",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if self.initial_square_avg is not None and not self.initial_square_avg >= 0:
            raise ValueError(f"initial_square_avg must be >= 0 or None; got {self.initial_square_avg!r}")
        if not isinstance(self.decoupled_weight_decay, bool):
            raise ValueError(f"decoupled_weight_decay must be True or False; got {self.decoupled_weight_decay!r}")
        if self.weight_decay == "l1" and (self.decoupled_weight_decay or self.decoupled_weight_decay_flag):
            raise ValueError(
                "weight_decay='l1' is coupled (λ sign(w) added to the gradient): decoupled_weight_decay "
                "and decoupled_weight_decay_flag must be False with it"
            )
        if self.initial_accumulator is not None and not self.initial_accumulator >= 0:
            raise ValueError(f"initial_accumulator must be >= 0 or None; got {self.initial_accumulator!r}")

    def with_overrides(self, **overrides: Any) -> Conventions:
        names = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown convention(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return replace(self, **overrides)


#: torch.optim's conventions: every option torch offers.
TORCH = Conventions()

#: The source post's formulas: no decay, no weight decay, no maximize, ε inside the root.
TEXTBOOK = Conventions(
    eps_placement="inside",
    initial_accumulator=0.0,
    lr_decay="none",
    weight_decay="none",
    maximize=False,
)

"""The source post, as data: what it is, the formulas it writes, the values it quotes, and its
statements S1–S13 in English.

The post is part 13 of a Traditional-Chinese PyTorch tutorial series, "你所不知道的 Pytorch 大補包"
("The PyTorch supplements you didn't know"), titled "我可以在 optimizer 中動態的調整學習率嗎？-
RMSProp、AdaGrad" ("Can I adjust the learning rate dynamically inside the optimizer? — RMSProp,
AdaGrad"), dated 2023-03-16. Part 12, which it builds on, covers SGD and Momentum. symopt models
its formulas as the ``textbook`` dialect of each rule (:mod:`symopt.rules`), derives what each
statement implies and gives a verdict on it (:mod:`symopt.derive.claims`).

The formulas and quotes below are copied from the post's text (its LaTeX and Chinese, verbatim);
the statements are an English rendering in the post's notation: w_t parameters, η learning rate,
g or ∇g the gradient, t the step (the post says "epoch"), ε a smoothing term.
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE = "你所不知道的 Pytorch 大補包(十三)：我可以在 optimizer 中動態的調整學習率嗎？- RMSProp、AdaGrad"
TITLE_EN = "Can I adjust the learning rate dynamically inside the optimizer? — RMSProp, AdaGrad"
SERIES = "你所不知道的 Pytorch 大補包 (The PyTorch supplements you didn't know), part 13"
DATE = "2023-03-16"

#: The post's formulas, verbatim (its LaTeX): the textbook dialects model exactly these.
FORMULAS: dict[str, tuple[str, ...]] = {
    "inverse_time": (r"w_{t+1} = w_t + \frac{\eta}{t} \nabla g",),
    "adagrad": (
        r"w_{t+1} = w_t - \frac{\eta}{\sigma_t} \nabla g",
        r"\sigma_t = \sqrt{G_t+\epsilon}",
        r"G_t = \sum^t_{n=1}g_n^2",
    ),
    "rmsprop": (
        r"w_{t+1} = w_t - \frac{\eta}{\sigma_t} \nabla g",
        r"\sigma_t = \sqrt{\alpha(\sigma_{t-1})^2+(1-\alpha)g_t^2+\epsilon}",
    ),
}

#: The values the post quotes, with its own words (verbatim) and what they say.
QUOTES: dict[str, tuple[str, str]] = {
    "adagrad.eps": (
        r"$\epsilon$ 是平滑項 (smooth term) 用於避免 $\sigma$ 為 0 否則會除 0，一般設為 $10^{-8}$",
        "ε is a smoothing term that keeps σ from being 0, generally set to 1e-8",
    ),
    "rmsprop.alpha": (r"實作上 $\alpha$ 會設為 0.9", "in practice α is set to 0.9"),
    "torch.rmsprop.alpha": (
        "在 Pytorch 上有 RMSProp 的實作函式：其中 alpha 參數預設 0.99",
        "PyTorch's RMSprop defaults alpha to 0.99",
    ),
}


@dataclass(frozen=True)
class Statement:
    """One statement of the post, numbered as symopt's claims number them: ``text`` in plain
    English (the CLI, the JSON), ``latex`` the same sentence with its formulas typeset (the
    report), where it has any."""

    id: str
    text: str
    latex: str = ""


#: What the post states, in English. Each gets a verdict in :func:`symopt.derive.claims.claims`.
STATEMENTS: tuple[Statement, ...] = (
    Statement(
        "S1",
        "A fixed learning rate has three regimes: too small converges slowly; too large jumps around the minimum and never settles; just right converges.",
    ),
    Statement(
        "S2",
        "Gradients are large early, so a large rate suits; later the rate should shrink: it should go from large to small.",
    ),
    Statement(
        "S3",
        "The simplest rule: w_{t+1} = w_t + (eta/t) grad g, with a plus sign.",
        r"The simplest rule: $w_{t+1} = w_t + \frac{\eta}{t}\,g$, with a plus sign.",
    ),
    Statement(
        "S4",
        "Objection to S3: t has nothing to do with the network, so every network gets the same schedule; the rate should depend on the network's own values.",
    ),
    Statement(
        "S5",
        "AdaGrad: w_{t+1} = w_t - eta/sigma_t g, sigma_t = sqrt(G_t + eps), G_t = sum of g_n^2 (called 'the weights' value'); eps generally 1e-8.",
        r"AdaGrad: $w_{t+1} = w_t - \frac{\eta}{\sigma_t}\,g_t$, $\sigma_t = \sqrt{G_t + \epsilon}$, "
        r"$G_t = \sum_n g_n^2$ (called `the weights' value'); $\epsilon$ generally $10^{-8}$.",
    ),
    Statement(
        "S6",
        "Because G_t only accumulates, AdaGrad's rate keeps shrinking towards 0; no manual tuning; near the end the rate is almost 0 and parameters can no longer improve.",
        r"Because $G_t$ only accumulates, AdaGrad's rate keeps shrinking towards 0; no manual tuning; near the end the rate is almost 0 and parameters can no longer improve.",
    ),
    Statement("S7", "In PyTorch, Adagrad is one call away and has essentially no hyperparameters that need tuning."),
    Statement("S8", "RMSProp was proposed by Hinton in lecture slides and never formally published."),
    Statement(
        "S9",
        "RMSProp: w_{t+1} = w_t - eta/sigma_t g, sigma_t = sqrt(alpha sigma_{t-1}^2 + (1 - alpha) g_t^2 + eps).",
        r"RMSProp: $w_{t+1} = w_t - \frac{\eta}{\sigma_t}\,g_t$, "
        r"$\sigma_t = \sqrt{\alpha\sigma_{t-1}^2 + (1 - \alpha)\,g_t^2 + \epsilon}$.",
    ),
    Statement(
        "S10",
        "In practice alpha = 0.9, which means that late in training the optimizer prefers old gradients in the sum of squares.",
        r"In practice $\alpha = 0.9$, which means that late in training the optimizer prefers old gradients in the sum of squares.",
    ),
    Statement(
        "S11",
        "RMSProp's alpha acts like a weighted average compared with AdaGrad's sum, and avoids sigma becoming too large.",
        r"RMSProp's $\alpha$ acts like a weighted average compared with AdaGrad's sum, and avoids $\sigma$ becoming too large.",
    ),
    Statement(
        "S12",
        "RMSProp resembles Momentum (it also uses the previous step's value), which makes it do better than AdaGrad on complicated loss surfaces.",
    ),
    Statement(
        "S13",
        "PyTorch's RMSprop defaults alpha to 0.99, meaning it relies heavily on the gradient history.",
        r"PyTorch's RMSprop defaults $\alpha$ to 0.99, meaning it relies heavily on the gradient history.",
    ),
)


def find(id_: str) -> Statement:
    """Statement ``id_`` (``"S1"`` … ``"S13"``)."""
    for s in STATEMENTS:
        if s.id == id_:
            return s
    raise KeyError(f"no statement {id_!r}; the post's are {', '.join(s.id for s in STATEMENTS)}")


def statement(id_: str) -> str:
    """The English text of statement ``id_`` (``"S1"`` … ``"S13"``)."""
    return find(id_).text


__all__ = ["DATE", "FORMULAS", "QUOTES", "SERIES", "STATEMENTS", "Statement", "TITLE", "TITLE_EN", "find", "statement"]

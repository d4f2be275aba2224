"""LaTeX text helpers shared by the layers that write LaTeX (the claims' explanations in
:mod:`symopt.derive.claims`, the report in :mod:`symopt.report`): escaping text for use outside
math mode, and ids in typewriter type that may break. A leaf: it imports nothing of symopt."""

from __future__ import annotations

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"$<$",
    ">": r"$>$",
}


#: Non-ASCII characters that appear in model descriptions and check details, in pdflatex's terms.
_UNICODE = {
    "−": "-",
    "–": "--",
    "—": "---",
    "’": "'",
    "‘": "`",
    "“": "``",
    "”": "''",
    "…": r"\ldots{}",
    "×": r"$\times$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "≠": r"$\ne$",
    "≈": r"$\approx$",
    "→": r"$\to$",
    "∞": r"$\infty$",
    "√": r"$\surd$",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "⁻": r"\textsuperscript{-}",
    "⁶": r"\textsuperscript{6}",
    "⁴": r"\textsuperscript{4}",
    "·": r"$\cdot$",
    "±": r"$\pm$",
    "∑": r"$\sum$",
    "Σ": r"$\Sigma$",
    "∫": r"$\int$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
    "ε": r"$\varepsilon$",
    "ζ": r"$\zeta$",
    "η": r"$\eta$",
    "λ": r"$\lambda$",
    "μ": r"$\mu$",
    "π": r"$\pi$",
    "ρ": r"$\rho$",
    "σ": r"$\sigma$",
    "τ": r"$\tau$",
    "∇": r"$\nabla$",
}


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped, for use outside math mode (non-ASCII
    characters mapped by :data:`_UNICODE`, any other shown as its code point)."""
    out = []
    for ch in text:
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(_UNICODE.get(ch, f"[U+{ord(ch):04X}]"))
    return "".join(out)


def breakable_id(text: str) -> str:
    """An id in typewriter type that may break after its dots, underscores, plus and equals signs."""
    out = escape(text)
    for mark in (".", r"\_", "+", "="):
        out = out.replace(mark, mark + r"\allowbreak{}")
    return r"\texttt{" + out + "}"

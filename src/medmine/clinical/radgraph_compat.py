"""A narrow compatibility shim that lets the radgraph package (<= 0.1.18) run on transformers 5.

radgraph vendors an old AllenNLP that calls two tokenizer methods transformers 5 removed:

- ``encode_plus(text, [pair], **kwargs)`` (``PretrainedTransformerTokenizer``, when it is built
  and for every report). Its documented replacement is calling the tokenizer,
  ``tokenizer(text, [pair], **kwargs)``: same keyword arguments, same ``BatchEncoding`` for one
  text or one pair.
- ``build_inputs_with_special_tokens(ids, [ids2])`` (``PretrainedTransformerIndexer``, which
  re-adds ``[CLS] ... [SEP]`` around each 512-wordpiece segment). Here it is rebuilt from the
  tokenizer's own template: the ids it puts before, between and after one dummy word (or a
  pair of them) when called with ``add_special_tokens=True``, e.g. ``[CLS] + ids + [SEP]`` for
  BERT, as transformers 4's ``BertTokenizer`` returned.

The shim wraps the one function through which radgraph obtains its tokenizers
(``radgraph.allennlp.common.cached_transformers.get_tokenizer``) and gives each tokenizer it
returns the missing methods. Nothing else changes: transformers' classes are not patched, and
a method a tokenizer still has (transformers 4) is left as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_MARK = "_medmine_encode_plus_shim"


def _encode_plus(tokenizer: Any) -> Callable[..., Any]:
    """``encode_plus`` of transformers 4 for one text (or pair): the tokenizer's ``__call__``."""

    def encode_plus(text: Any, text_pair: Any = None, **kwargs: Any) -> Any:
        if text_pair is not None:
            return tokenizer(text, text_pair, **kwargs)
        return tokenizer(text, **kwargs)

    return encode_plus


def _template(tokenizer: Any, pair: bool) -> list[list[int]]:
    """The special-token ids the tokenizer adds around one text (``[before, after]``) or a
    pair (``[before, between, after]``), read off its own output for dummy words."""
    words = ("a", "b") if pair else ("a",)
    plain = [tokenizer.encode(w, add_special_tokens=False) for w in words]
    full = tokenizer(*words, add_special_tokens=True)["input_ids"]
    parts, rest = [], list(full)
    for ids in plain:
        at = next(i for i in range(len(rest)) if rest[i : i + len(ids)] == ids)
        parts.append(rest[:at])
        rest = rest[at + len(ids) :]
    return [*parts, rest]


def _build_inputs(tokenizer: Any) -> Callable[..., list[int]]:
    """transformers 4's ``build_inputs_with_special_tokens`` from the tokenizer's template."""
    single, pair = _template(tokenizer, False), _template(tokenizer, True)

    def build_inputs_with_special_tokens(
        ids: list[int], ids2: list[int] | None = None
    ) -> list[int]:
        if ids2 is None:
            return [*single[0], *ids, *single[1]]
        return [*pair[0], *ids, *pair[1], *ids2, *pair[2]]

    return build_inputs_with_special_tokens


def with_removed_methods(tokenizer: Any) -> Any:
    """The tokenizer, given ``encode_plus`` and ``build_inputs_with_special_tokens`` when its
    transformers version has them no more."""
    if not hasattr(tokenizer, "encode_plus"):
        object.__setattr__(tokenizer, "encode_plus", _encode_plus(tokenizer))
    if not hasattr(tokenizer, "build_inputs_with_special_tokens"):
        object.__setattr__(tokenizer, "build_inputs_with_special_tokens", _build_inputs(tokenizer))
    return tokenizer


def install() -> bool:
    """Wrap radgraph's tokenizer getter (once per process). True when the shim is in place
    or not needed; the radgraph package must be importable."""
    from radgraph.allennlp.common import cached_transformers

    getter = cached_transformers.get_tokenizer
    if getattr(getter, _MARK, False):
        return True

    @functools.wraps(getter)
    def get_tokenizer(model_name: str, **kwargs: Any) -> Any:
        return with_removed_methods(getter(model_name, **kwargs))

    setattr(get_tokenizer, _MARK, True)
    cached_transformers.get_tokenizer = get_tokenizer
    return True


def needed() -> bool:
    """Whether this transformers lacks the methods (the shim is then in use)."""
    import transformers

    return not hasattr(transformers.PreTrainedTokenizerBase, "encode_plus")

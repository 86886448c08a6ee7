"""argparse flags declared by pydantic models: one declaration per option.

Each field of the model becomes `--field-name`, its docstring the help text, its default
shown; values stay strings until the model validates them, so the rules (ranges, literals,
paths) live in the model alone. `none` sets an optional field to None; booleans get
`--flag/--no-flag`.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInputError

M = TypeVar("M", bound=BaseModel)


def add_flags(parser: argparse.ArgumentParser, model: type[BaseModel], *,
              skip: Iterable[str] = ()) -> None:
    for name, field in model.model_fields.items():
        if name in set(skip):
            continue
        flag = "--" + name.replace("_", "-")
        default = field.get_default(call_default_factory=True)
        text = " ".join((field.description or "").split())
        shown = f"{text} (default: {default})" if default is not None else text
        shown = shown.replace("%", "%%")
        if field.annotation is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=shown)
            continue
        choices = [str(c) for c in get_args(field.annotation) if isinstance(c, str)] or None
        parser.add_argument(flag, dest=name, default=None, choices=choices,
                            metavar=None if choices else name.upper(), help=shown)


def from_flags(model: type[M], args: argparse.Namespace, **fixed: Any) -> M:
    """The model from the flags given (others keep their defaults), plus `fixed` values."""
    values: dict[str, Any] = {}
    for name in model.model_fields:
        value = getattr(args, name, None)
        if value is None:
            continue
        values[name] = None if isinstance(value, str) and value.lower() == "none" else value
    values.update({k: v for k, v in fixed.items() if v is not None})
    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: "
                             f"{e['msg']}" for e in exc.errors())
        raise InvalidInputError(problems) from exc

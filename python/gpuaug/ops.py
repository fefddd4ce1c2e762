"""gpuaug.ops: one class per operator, generated from the C++ descriptors (`gpuaug ops`).

Each class takes the operator's parameters as keyword arguments (left out = the default),
carries its docs, and gives the spec entry with `to_spec()`:

    ops.RandomResizedCrop(size=224, scale=(0.35, 1.0)).to_spec()
    # {'random_resized_crop': {'size': 224, 'scale': [0.35, 1.0]}}
"""
from __future__ import annotations

import inspect
from typing import Any

from . import _gpuaug

# Descriptor types as Python annotations (the descriptor's own text where none fits).
_ANNOTATIONS = {"float": "float", "int": "int", "bool": "bool", "str": "str"}


class Op:
    """Base of every generated operator class."""

    name: str = ""
    descriptor: dict[str, Any] = {}

    def __init__(self, **params: Any) -> None:
        known = {p["name"] for p in self.descriptor["params"]}
        unknown = sorted(set(params) - known)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown parameter {', '.join(unknown)} "
                            f"(parameters: {', '.join(sorted(known)) or 'none'})")
        self.params = {k: _plain(v) for k, v in params.items()}

    def to_spec(self) -> dict[str, dict[str, Any]]:
        """The spec entry, as in YAML's `- name: {params}`; parameters left out take defaults."""
        return {self.name: dict(self.params)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params == other.params  # type: ignore[attr-defined]


def _plain(value: Any) -> Any:
    """Lists for tuples and numpy arrays, Python numbers for numpy scalars (JSON takes no others)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # np.ndarray, np.generic
        return value.tolist()
    return value


def _class_name(op_name: str) -> str:
    return "".join(part.capitalize() for part in op_name.split("_"))


def _docstring(d: dict[str, Any]) -> str:
    lines = [d["summary"] + ".", "", f"Matches {d['reference']}.", ""]
    if d["params"]:
        lines.append("Args:")
        for p in d["params"]:
            lines.append(f"    {p['name']} ({p['type']}, default {p['default']!r}): {p['doc']}")
    if d["drawn"]:
        lines += ["", "Records per sample: " + ", ".join(d["drawn"]) + "."]
    return "\n".join(lines)


def _make_class(d: dict[str, Any]) -> type[Op]:
    parameters = [
        inspect.Parameter(p["name"], inspect.Parameter.KEYWORD_ONLY, default=p["default"],
                          annotation=_ANNOTATIONS.get(p["type"], p["type"]))
        for p in d["params"]
    ]

    def __init__(self: Op, **params: Any) -> None:
        Op.__init__(self, **params)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters],
        return_annotation=None)
    __init__.__annotations__ = {p.name: p.annotation for p in parameters}
    __init__.__doc__ = _docstring(d)
    cls = type(_class_name(d["name"]), (Op,), {
        "__init__": __init__, "__doc__": _docstring(d), "__module__": __name__,
        "name": d["name"], "descriptor": d,
    })
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    return cls


DESCRIPTORS: list[dict[str, Any]] = _gpuaug.op_descriptors()
BY_NAME: dict[str, type[Op]] = {}
for _d in DESCRIPTORS:
    _cls = _make_class(_d)
    globals()[_cls.__name__] = _cls
    BY_NAME[_d["name"]] = _cls

__all__ = ["Op", "DESCRIPTORS", "BY_NAME", *(cls.__name__ for cls in BY_NAME.values())]

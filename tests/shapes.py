"""Compare the structure and types of two JSON documents.

Used to hold our emulators' answers against real recorded payloads in
../shared/reference: same keys where the sample has them, same JSON types.
"""

from __future__ import annotations

from typing import Any


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_mismatches(sample: Any, ours: Any, path: str = "$", *, nullable: bool = True,
                     ignore: frozenset[str] = frozenset()) -> list[str]:
    """List where `ours` differs in structure from `sample`.

    Every key of a sample object must exist in ours with the same JSON type;
    a null on either side matches anything when `nullable` (real payloads carry
    nulls where the value is merely absent). Arrays compare each item of ours
    against the sample's first item. Keys named in `ignore` are skipped.
    """
    problems: list[str] = []
    a, b = _kind(sample), _kind(ours)
    if nullable and "null" in (a, b):
        return problems
    if a != b:
        return [f"{path}: sample is {a}, ours is {b}"]
    if a == "object":
        for key, value in sample.items():
            if key in ignore:
                continue
            if key not in ours:
                problems.append(f"{path}.{key}: missing in ours")
                continue
            problems += shape_mismatches(value, ours[key], f"{path}.{key}",
                                         nullable=nullable, ignore=ignore)
    elif a == "array" and sample and ours:
        for index, item in enumerate(ours):
            problems += shape_mismatches(sample[0], item, f"{path}[{index}]",
                                         nullable=nullable, ignore=ignore)
    return problems

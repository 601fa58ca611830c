"""Every IR class is a frozen, slotted dataclass: values compare and hash by their fields, survive
pickling and copying, and cannot be changed after construction.

The compiler relies on this: intents are deduplicated in sets and dicts, compiled results are
cached and compared, and an emitter must never be able to alter what the compiler decided.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import netc.ir.intents
import netc.ir.model
import netc.ir.span

CLASSES = [
    obj
    for module in (netc.ir.span, netc.ir.model, netc.ir.intents)
    for obj in vars(module).values()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
]


def values(cls: type, salt: str = "") -> list[str]:
    """One distinct value per field (the IR does not check types at construction)."""
    return [f"{f.name}{salt}" for f in dataclasses.fields(cls)]


def test_every_ir_class_is_found() -> None:
    assert len(CLASSES) >= 29


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_ir_class_is_a_frozen_slotted_dataclass(cls: type) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen and params.eq
    assert "__slots__" in cls.__dict__ and not hasattr(cls(*values(cls)), "__dict__")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_ir_values_compare_hash_pickle_and_stay_fixed(cls: type) -> None:
    a = cls(*values(cls))
    same = cls(**dict(zip(cls.__match_args__, values(cls))))  # keywords
    assert a == same and not a != same
    assert hash(a) == hash(same)
    assert len({a, same}) == 1
    assert a != cls(*values(cls, "x"))
    for name in cls.__match_args__:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(a, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(a, name)
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        a.not_a_field = 1
    restored = pickle.loads(pickle.dumps(a))
    assert restored == a and hash(restored) == hash(a) and type(restored) is cls
    assert copy.copy(a) == a and copy.deepcopy(a) == a
    first = cls.__match_args__[0]
    changed = dataclasses.replace(a, **{first: "new"})
    assert getattr(changed, first) == "new" and changed != a


def test_values_of_different_classes_with_equal_fields_differ() -> None:
    span = netc.ir.span.Span("f", 1, 1, 1, 2)
    bridge = netc.ir.intents.ForwardCross(netc.ir.model.Family.IPV4, "n", "b", span)
    twin = dataclasses.make_dataclass(
        "ForwardCross", ["family", "network", "bridge", "span"], frozen=True, slots=True
    )(netc.ir.model.Family.IPV4, "n", "b", span)
    assert bridge != twin


def test_defaults_are_kept() -> None:
    model = netc.ir.model
    span = netc.ir.span.Span("f", 1, 1, 1, 2)
    net = model.Network("n", "b", None, (), True, False, span)  # type: ignore[arg-type]
    assert (net.port_forwards, net.services, net.filters, net.isolate_guests) == (
        (),
        None,
        (),
        False,
    )

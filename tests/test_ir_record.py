"""`@record` must behave as `@dataclass(frozen=True, slots=True)` for every IR class.

Each IR class is compared with a twin that `dataclasses.make_dataclass` builds from the same
fields, frozen and slotted: signature, docstring, repr, equality, hash, immutability, pickling,
copying, `replace` and the class's own attributes.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle

import pytest

import netc.ir.intents
import netc.ir.model
import netc.ir.span
from netc.ir.record import record

CLASSES = [
    obj
    for module in (netc.ir.span, netc.ir.model, netc.ir.intents)
    for obj in vars(module).values()
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
]


def twin(cls: type) -> type:
    spec = []
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING:
            spec.append((f.name, f.type))
        else:
            spec.append((f.name, f.type, dataclasses.field(default=f.default)))
    namespace = {"__doc__": cls.__doc__} if _documented(cls) else {}
    return dataclasses.make_dataclass(
        cls.__name__, spec, namespace=namespace, frozen=True, slots=True
    )


def _documented(cls: type) -> bool:
    return not (cls.__doc__ or "").startswith(cls.__name__ + "(")


def values(cls: type, salt: str = "") -> list[str]:
    return [f"{f.name}{salt}" for f in dataclasses.fields(cls)]


def test_every_ir_class_is_a_record() -> None:
    assert len(CLASSES) >= 29
    for cls in CLASSES:
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_record_is_a_frozen_slotted_dataclass(cls: type) -> None:
    other = twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(other))
    assert cls.__doc__ == other.__doc__
    assert cls.__match_args__ == other.__match_args__
    assert cls.__slots__ == other.__slots__
    assert repr(cls.__dataclass_params__) == repr(other.__dataclass_params__)
    assert set(other.__dict__) <= set(cls.__dict__)
    own = {name: cls.__dict__[name] for name in set(cls.__dict__) - set(other.__dict__)}
    assert all(isinstance(v, (property, classmethod)) or callable(v) for v in own.values()), own
    assert cls.__init__.__annotations__ == other.__init__.__annotations__

    a, b = cls(*values(cls)), other(*values(cls))
    assert repr(a) == repr(b)
    assert hash(a) == hash(b)
    assert a == cls(*values(cls)) and not a != cls(*values(cls))
    assert a != cls(*values(cls, "x"))
    assert a.__eq__(b) is NotImplemented and b.__eq__(a) is NotImplemented
    assert a != b  # different classes, as between two dataclasses
    assert a == cls(**dict(zip(cls.__match_args__, values(cls))))  # keywords
    for name in cls.__match_args__:
        with pytest.raises(dataclasses.FrozenInstanceError) as mine:
            setattr(a, name, 1)
        with pytest.raises(dataclasses.FrozenInstanceError) as theirs:
            setattr(b, name, 1)
        assert str(mine.value) == str(theirs.value)
        with pytest.raises(dataclasses.FrozenInstanceError) as mine:
            delattr(a, name)
        with pytest.raises(dataclasses.FrozenInstanceError) as theirs:
            delattr(b, name)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.not_a_field = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.copy(a) == a and copy.deepcopy(a) == a
    first = cls.__match_args__[0]
    changed = dataclasses.replace(a, **{first: "new"})
    assert getattr(changed, first) == "new" and changed != a
    assert dataclasses.astuple(a) == dataclasses.astuple(b)


def test_missing_and_extra_arguments_fail_as_in_a_dataclass() -> None:
    span = netc.ir.span.Span
    with pytest.raises(TypeError, match=r"missing 3 required positional arguments"):
        span("f", 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"got multiple values for argument 'line'"):
        span("f", 1, 2, 3, 4, line=2)  # type: ignore[misc]


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


def test_a_record_that_contains_itself_prints_as_a_dataclass_would() -> None:
    @record
    class Box:
        item: object

    @dataclasses.dataclass(frozen=True, slots=True)
    class Plain:
        item: object

    mine, theirs = Box([]), Plain([])
    mine.item.append(mine)
    theirs.item.append(theirs)
    assert repr(mine) == repr(theirs).replace("Plain", "Box")


def test_what_record_cannot_do_is_refused() -> None:
    with pytest.raises(TypeError):

        @record
        class Factory:
            items: list = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError):

        @record
        class Checked:
            value: int

            def __post_init__(self) -> None:
                pass

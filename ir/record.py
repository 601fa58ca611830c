"""`@record`: the IR's frozen slotted dataclass, cheaper to define and to construct.

`record` gives a class everything `@dataclass(frozen=True, slots=True)` gives it, with the same
behaviour: fields, `__match_args__`, `__slots__`, `__init__` with the same signature, `repr`,
equality, hash, `FrozenInstanceError` on assignment, pickling, `dataclasses.replace`. Only how
two things are done differs:

* **Constructing.** A frozen dataclass's `__init__` stores each field with
  `object.__setattr__` (its own `__setattr__` refuses); compiling 10,000 networks makes over
  250,000 records (spans, subnets, intents). Storing through the slots' own descriptors does not
  go through `__setattr__`: an 8-field intent is made in 0.76 µs instead of 1.10 µs, and lowering
  1,000 networks takes a fifth less time.
* **Defining.** On Python 3.11 `dataclass` compiles six generated methods per frozen class, and
  `netc compile` imports about 30 of these classes at every start. Here only `__init__` is
  compiled (its signature names the fields); `repr`, `==`, `hash` and the frozen
  `__setattr__`/`__delattr__` are closures over the field names doing what dataclass's code does.
  Defining the intents takes 4 ms instead of 12, the model 3 ms instead of 7.

`dataclass` itself still reads the fields and makes the slotted class (`init`, `repr`, `eq` and
`frozen` off, so it compiles nothing); `__dataclass_params__` and the pickling methods are then
those of a real frozen slotted dataclass. `tests/test_ir_record.py` compares every IR class with
what `@dataclass(frozen=True, slots=True)` makes of the same source.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import reprlib
import sys
from typing import TypeVar

T = TypeVar("T", bound=type)

_MADE_HERE = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")


@dataclasses.dataclass(frozen=True, slots=True)
class _Reference:
    """A real frozen slotted dataclass: its parameters and pickling methods are shared."""

    field: int


def record(cls: T) -> T:
    """`@dataclass(frozen=True, slots=True)` for plain records: every field a positional or
    keyword `__init__` parameter, defaults allowed, nothing `field()` customises, and none of the
    methods above written by hand (use `@dataclass` for anything else)."""
    if any(name in cls.__dict__ for name in (*_MADE_HERE, "__post_init__")):
        raise TypeError(f"{cls.__name__}: @record makes {', '.join(_MADE_HERE)} itself")
    documented = bool(cls.__dict__.get("__doc__"))
    if not documented:
        # Written below from the real signature. Without a docstring, dataclass would take the
        # signature of the class before it has an `__init__`: object's, parsed from text by
        # `tokenize`, whose first use compiles its regular expressions (~7 ms of start-up).
        cls.__doc__ = cls.__name__
    made = dataclasses.dataclass(init=False, repr=False, eq=False, slots=True)(cls)
    fields = dataclasses.fields(made)
    for f in fields:
        plain = f.init and f.repr and f.compare and f.hash is None and not f.kw_only
        if not plain or f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{made.__name__}.{f.name}: @record supports only plain fields")
    for method in _methods(made, fields):
        method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
        setattr(made, method.__name__, method)
    made.__dataclass_params__ = _Reference.__dataclass_params__
    made.__getstate__ = _Reference.__getstate__
    made.__setstate__ = _Reference.__setstate__
    if not documented:  # what dataclass writes when the class has no docstring
        made.__doc__ = made.__name__ + str(inspect.signature(made)).replace(" -> None", "")
    return made


def _methods(cls: type, fields: tuple[dataclasses.Field, ...]) -> list:
    """The six methods. Only `__init__` is compiled (its signature names the fields); it stores
    through `__set_NAME`, the slot descriptor's `__set__` bound once here. The others are
    closures over the field names that do what dataclass's generated code does."""
    names = tuple(f.name for f in fields)
    closure: dict[str, object] = {f"__set_{name}": cls.__dict__[name].__set__ for name in names}
    params = []
    for f in fields:
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            closure[f"__default_{f.name}"] = f.default
            params.append(f"{f.name}=__default_{f.name}")
    stores = "".join(f"  __set_{name}(self, {name})\n" for name in names) or "  pass\n"
    source = (
        f"def __create_fn__({', '.join(closure)}):\n"
        f" def __init__(self, {', '.join(params)}):\n{stores}"
        " return __init__\n"
    )
    namespace: dict = {}
    exec(source, sys.modules[cls.__module__].__dict__, namespace)  # noqa: S102 - as dataclasses
    __init__ = namespace["__create_fn__"](**closure)
    __init__.__annotations__ = {f.name: f.type for f in fields} | {"return": None}
    if len(names) == 1:  # attrgetter of one name gives the value, not a 1-tuple
        only = operator.attrgetter(names[0])
        values = lambda self: (only(self),)  # noqa: E731
    else:
        values = operator.attrgetter(*names)

    @reprlib.recursive_repr()  # dataclass guards repr against a record that contains itself
    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in zip(names, values(self)))
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(values(self))

    def __setattr__(self, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return [__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__]

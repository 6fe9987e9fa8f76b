"""What a cell shows back, as MathCoder's Jupyter kernel showed it: the trailing expression's `text/plain`
display (tracebacks: worker_traceback.py).

Imported by worker.py (stdlib only, never the app); kept apart so the display rules are one module.

The display is what IPython's `text/plain` formatter showed. Our rules, checked against its output:
- Most values show as their `repr`: numbers, strings, sympy objects (their `str`, as without `init_printing`),
  numpy arrays. Classes show as their qualified name (`int`, `__main__.Foo`), functions as
  `<function __main__.f(x, y=2)>`, objects without a `__repr__` of their own as `<__main__.Foo at 0x...>`.
  numpy >= 2 is switched to its 1.25 scalar printing (`3.0`, not `np.float64(3.0)`), which the models saw.
- Lists, tuples, dicts (in insertion order) and sets (sorted) are laid out by us, as are Counter, defaultdict,
  OrderedDict, deque and exceptions (`ValueError('bad')`); a subclass of list, tuple, dict or set with a
  `__repr__` of its own shows as that. A container that fits in 79 columns from where it starts, counting the
  text after it up to the next place a line may break, is one line; otherwise each item goes on a line of its
  own, indented by the sum of the opening brackets' widths of the containers it is in (so a dict value that
  breaks is indented from the dict, not from its key). More than 1000 items end in `...`; a container met
  again inside itself shows as `[...]`, `(...)` or `{...}`.
- A multi-line repr (a numpy array, a sympy Matrix) inside a container has its later lines indented like that
  container's items, and breaks the container around it as a line too long would: the outermost one still on
  one line breaks, and the containers inside that one which already have items on that line stay on one line.
- A tuple key of a dict breaks when the line gets too long before its value reaches a place to break.
Where IPython's printer did something odder (after a tuple key or a multi-line repr broke a line, it may break
an earlier container still open on that line instead of the one that overflows), we keep our rule.
"""

import sys
import tokenize
import types
from collections import Counter, OrderedDict, defaultdict, deque

MAX_WIDTH = 79
MAX_SEQ_LENGTH = 1000


# --- compatibility settings ---------------------------------------------------------------------------------

_numpy_done = False


def apply_print_compat():
    """numpy >= 2 reprs scalars as `np.float64(3.0)`; MathCoder's kernel (numpy 1.x) printed `3.0`. Switch
    numpy's scalar printing to 1.25's once numpy is loaded (it is preloaded, so before the first cell)."""
    global _numpy_done
    if _numpy_done:
        return
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return
    _numpy_done = True
    try:
        if int(numpy.__version__.split(".")[0]) >= 2:
            numpy.set_printoptions(legacy="1.25")
    except Exception:  # noqa: BLE001 - a half-imported or unusual numpy keeps its own printing
        pass


def quiet(code):
    """IPython hides the display when the cell's last token, comments and newlines aside, is `;`."""
    try:
        lines = iter(code.splitlines(True))
        tokens = list(tokenize.generate_tokens(lambda: next(lines, "")))
    except (tokenize.TokenError, SyntaxError):
        return False
    for token in reversed(tokens):
        if token.type in (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            continue
        return token.type == tokenize.OP and token.string == ";"
    return False


# --- the display --------------------------------------------------------------------------------------------

_NOTHING = object()  # the missing key or value of a part


class _Box:
    """A value shown as `opener part, part, ... closer`. A part is (key, text, value): a dict item is
    (key, ": ", value), a sequence item (_NOTHING, "", item), a bare text such as `...` (_NOTHING, text, _NOTHING)."""

    __slots__ = ("opener", "parts", "closer")

    def __init__(self, opener, parts, closer):
        self.opener, self.parts, self.closer = opener, parts, closer


class _Walk(set):
    """The ids of the containers being shown (one met again inside itself shows as `[...]`), and each value's
    shape, made once per display."""

    __slots__ = ("shapes",)

    def __init__(self):
        super().__init__()
        self.shapes = {}

    def shape(self, value):
        """A _Box for a value shown as a container, else the text it shows as."""
        known = self.shapes.get(id(value))
        if known is None or known[0] is not value:
            known = self.shapes[id(value)] = (value, _shape(value))
        return known[1]


def _items(values):
    """Sequence items, cut after MAX_SEQ_LENGTH with `...`."""
    parts = [(_NOTHING, "", value) for value in values[:MAX_SEQ_LENGTH]]
    return parts + [(_NOTHING, "...", _NOTHING)] if len(values) > MAX_SEQ_LENGTH else parts


def _dict(mapping):
    """`{key: value, ...}` in insertion order, cut after MAX_SEQ_LENGTH items with `...`."""
    parts = [(key, ": ", value) for key, value in list(mapping.items())[:MAX_SEQ_LENGTH]]
    return _Box("{", parts + [(_NOTHING, "...", _NOTHING)] if len(mapping) > MAX_SEQ_LENGTH else parts, "}")


def _call(name, args, *texts):
    """`name(arg, ..., text)`; the arguments go one per line, under the first, when they do not fit."""
    parts = [(_NOTHING, "", arg) for arg in args] + [(_NOTHING, text, _NOTHING) for text in texts]
    return _Box(name + "(", [(_NOTHING, "", _Box("", parts, ""))], ")")


def _sorted(values):
    """Sets show sorted; values that do not compare sort by their `str`; failing that, as they come."""
    for key in (None, str):
        try:
            return sorted(values, key=key)
        except Exception:  # noqa: BLE001 - a value's comparison may raise anything
            pass
    return values


def _qualified(obj):
    """`int`, `math.sqrt`, `__main__.Foo.f`: a class's or function's name, with its module unless builtin."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None)
    if not isinstance(name, str):
        return repr(obj)
    return f"{module}.{name}" if isinstance(module, str) and module != "builtins" else name


def _shape(value):
    """How a value shows: a _Box for a container we lay out, else its text."""
    if isinstance(value, _Box):
        return value
    cls = type(value)
    rep = getattr(cls, "__repr__", None)
    if rep is list.__repr__:
        return _Box("[", _items(value), "]")
    if rep is tuple.__repr__:
        return _Box("(", _items(value), ",)" if len(value) == 1 else ")")
    if rep is dict.__repr__:
        return _dict(value)
    if rep in (set.__repr__, frozenset.__repr__) and value:
        plain = isinstance(value, set)
        return _Box("{" if plain else "frozenset({", _items(_sorted(list(value))), "}" if plain else "})")
    if isinstance(value, Counter) and value:
        return _call(cls.__name__, [_dict(dict(value.most_common()))])
    if isinstance(value, OrderedDict) and value:
        return _call(cls.__name__, [_Box("[", _items(list(value.items())), "]")])
    if isinstance(value, defaultdict):
        return _call(cls.__name__, [value.default_factory, _dict(value)])
    if isinstance(value, deque):
        maxlen = () if value.maxlen is None else (f"maxlen={value.maxlen}",)
        return _call(cls.__name__, [_Box("[", _items(list(value)), "]")], *maxlen)
    if isinstance(value, BaseException):
        return _call(_qualified(cls), value.args)
    if isinstance(value, type) and cls.__repr__ is type.__repr__:
        return _qualified(value)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        import inspect

        try:
            signature = str(inspect.signature(value))
        except Exception:  # noqa: BLE001 - a callable without a signature shows without one
            signature = ""
        return f"<function {_qualified(value)}{signature}>"
    if rep is object.__repr__:
        return f"<{_qualified(cls)} at 0x{id(value):x}>"
    return "\n".join(repr(value).splitlines())


def _end(column, text):
    """The column after `text` written from `column`."""
    last = text.rfind("\n")
    return column + len(text) if last < 0 else len(text) - last - 1


def _flat(value, indent, walk):
    """`value` with every container on one line; the lines of a multi-line text inside start at `indent`, the
    indentation of the container holding it."""
    if value is _NOTHING:
        return ""
    shape = walk.shape(value)
    if isinstance(shape, str):
        return shape.replace("\n", "\n" + " " * indent)
    if id(value) in walk:
        return shape.opener + "..." + shape.closer.lstrip(",")
    walk.add(id(value))
    inner = indent + len(shape.opener)
    parts = ", ".join(_flat_part(part, inner, walk) for part in shape.parts)
    walk.discard(id(value))
    return shape.opener + parts + shape.closer


def _flat_part(part, indent, walk):
    key, text, value = part
    return _flat(key, indent, walk) + text + _flat(value, indent, walk)


def _layout(value, column, indent, trail, taken, walk, fixed=None):
    """`value` written from `column`, inside containers indented by `indent` in all, with `trail` characters
    after it before the next place a line may break. `taken`: the first line break of a multi-line text inside
    is already accounted for by a container around this one. `fixed`: True puts each item of this container
    on a line of its own, False keeps them all on one (their own items may still break)."""
    shape = None if value is _NOTHING else walk.shape(value)
    if not isinstance(shape, _Box) or id(value) in walk:
        return _flat(value, indent, walk)
    walk.add(id(value))
    try:
        return _layout_box(shape, column, indent, trail, taken, walk, fixed)
    finally:
        walk.discard(id(value))


def _layout_box(box, column, indent, trail, taken, walk, fixed):
    inner = indent + len(box.opener)
    flats = [_flat_part(part, inner, walk) for part in box.parts]
    flat = box.opener + ", ".join(flats) + box.closer
    count = len(flats)
    breaks = [index for index, text in enumerate(flats) for _ in range(text.count("\n"))]  # items with lines
    if fixed is None and not breaks and column + len(flat) + trail <= MAX_WIDTH:
        return flat
    taken_by = [False] * count  # the items whose first line break this container, or one around it, takes
    broken = 1 if fixed or fixed is None and not breaks else count  # items from here on start a line each
    if fixed is False and breaks:
        taken_by[breaks[0]] = taken
    elif fixed is None and breaks:
        # Multi-line items: walk the lines of the one-line form until something breaks this container. A line
        # too long breaks it after the item the line starts in, if it has an item break on that line (the first
        # line always counts). Else the line break ending the line does, after that same item, and the item
        # holding it takes it if this container had an item break on that line; except that a container around
        # this one takes the first one when `taken`, which leaves this one on one line for good if it had an
        # item break on that line.
        lines = flat.split("\n")
        for number, line in enumerate(lines):
            first = breaks[number - 1] if number else 0
            last = breaks[number] if number < len(breaks) else count - 1
            width = len(line) + (column if number == 0 else 0) + (trail if number == len(breaks) else 0)
            if width > MAX_WIDTH and (number == 0 or last > first):
                broken = first + 1
                break
            if number == len(breaks):
                break
            if number == 0 and taken:
                taken_by[last] = True
                if last:
                    break
                continue
            broken = first + 1
            taken_by[last] = taken_by[last] or last > first
            break
    out = [box.opener]
    at = column + len(box.opener)
    for index, part in enumerate(box.parts):
        if index:
            out.append(",\n" + " " * inner if index >= broken else ", ")
            at = inner if index >= broken else at + 2
        after = len(box.closer) + trail if index == count - 1 else 1
        text = _layout_part(part, at, inner, after, taken_by[index], walk)
        out.append(text)
        at = _end(at, text)
    out.append(box.closer)
    return "".join(out)


def _layout_part(part, column, indent, trail, taken, walk):
    key, text, value = part
    if key is _NOTHING:
        return text + _layout(value, column + len(text), indent, trail, taken, walk)
    # A dict item whose key is a container of several items (a tuple): the key breaks when the line gets too
    # long, or a multi-line value breaks it, before the value reaches its first place to break; a container
    # value then keeps its items on one line.
    split = keep = False
    key_shape, shape = walk.shape(key), None if value is _NOTHING else walk.shape(value)
    if isinstance(key_shape, _Box) and len(key_shape.parts) > 1 and id(key) not in walk:
        key_flat = _flat(key, indent, walk)
        if isinstance(shape, _Box) and len(shape.parts) > 1 and id(value) not in walk:
            head = _flat_part(shape.parts[0], indent + len(shape.opener), walk)
            region = len(shape.opener) + len(head) + 1
        else:
            head = _flat(value, indent, walk)
            region = len(head) + trail
        end = column + len(key_flat) + len(text)
        hard = "\n" in head
        split = "\n" not in key_flat and (hard and not taken or not hard and end + region > MAX_WIDTH)
        keep = split and isinstance(shape, _Box) and (hard or end <= MAX_WIDTH)
        taken = taken or split and hard
    shown = _layout(key, column, indent, len(text), False, walk, True if split else None) + text
    return shown + _layout(value, _end(column, shown), indent, trail, taken, walk, False if keep else None)


def pretty(value):
    """IPython's `text/plain` for `value` (see the module's docstring)."""
    return _layout(value, 0, 0, 0, False, _Walk())


def display_repr(value):
    """Text Jupyter shows for a cell's trailing expression: IPython's `text/plain`."""
    apply_print_compat()  # numpy may have been imported by this very cell
    return pretty(value)

"""A compiled program as plain data: what running it needs, and nothing of
the compiler.

runtime/codegen.py compiles an IR module into a `ProgramImage`: the code
object of the generated module (its functions carry NPL names, files and
lines), each struct's slot, fields and method code, the function slots,
`main`, the NPL file names and texts (for stack traces) and the index sites
(for `list index 5, length 3` messages). Everything in it is data that
`marshal` can store, so the compile cache of `npl run` (npl/runcache.py) keeps
images on disk and runs them without parsing, checking, lowering or
generating code.

This module imports no compiler module, no `ast` and no NumPy (NumPy is
imported when an image names an array helper): it is on the start-up path of
every cached `npl run`.

    new_namespace(image)        the dict the code runs in (helpers, structs)
    translate_error(exc, ...)   an escaping exception -> NplRuntimeError with
                                an NPL stack trace
    Runner(image)               a namespace plus running: constants, main
"""
from __future__ import annotations

import marshal
from types import CodeType

from npl.stdlib.helpers import ARRAY_HELPER_NAMES, HELPERS, array_helpers

from .errors import NplRuntimeError, translate
from .execution import run_deep
from .rtvalues import build_struct_class, demangle, npl_repr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

# The builtins generated code runs with. No user name can refer to them (user
# names are all mangled); C code called from generated frames (NumPy's lazy
# imports) needs __import__ to be present.
SANDBOX_BUILTINS = {"__import__": __import__}

# Bump when the layout of `ProgramImage.to_data` changes.
IMAGE_FORMAT = 1


class ProgramImage:
    """A compiled, not yet loaded program.

    code             the generated module's code object (run once: it
                     defines the functions and initialises the constants)
    structs          (slot, IR name, field names, method code) per struct
    functions        IR function name -> namespace slot
    main             IR name of main, or None; main_takes_args
    files            the NPL file names whose frames form stack traces
    sources          file name -> text, for the source lines of traces
    index_sites      per sequence-index site k (the column of its Subscript
                     node is k + 1): (kind, container ref, index ref), a ref
                     being ("const", value), ("local", name), ("global", name)
                     or None
    uses_numpy       whether the code names an array helper
    """

    __slots__ = ("code", "structs", "functions", "main", "main_takes_args", "files", "sources",
                 "index_sites", "uses_numpy")

    def __init__(self, code: CodeType, structs: list, functions: dict[str, str],
                 main: Optional[str], main_takes_args: bool, files: frozenset,
                 sources: dict[str, str], index_sites: list, uses_numpy: bool):
        self.code = code
        self.structs = structs
        self.functions = functions
        self.main = main
        self.main_takes_args = main_takes_args
        self.files = files
        self.sources = sources
        self.index_sites = index_sites
        self.uses_numpy = uses_numpy

    def to_data(self) -> tuple:
        """A tuple of marshal-able values (see `from_data`)."""
        return (IMAGE_FORMAT, self.code, [tuple(s) for s in self.structs], dict(self.functions),
                self.main, self.main_takes_args, frozenset(self.files), dict(self.sources),
                [tuple(s) for s in self.index_sites], self.uses_numpy)

    @classmethod
    def from_data(cls, data: tuple) -> "ProgramImage":
        """The image `to_data` gave; ValueError if `data` is not one."""
        if not isinstance(data, tuple) or len(data) != 10 or data[0] != IMAGE_FORMAT:
            raise ValueError("not a program image of this format")
        (_, code, structs, functions, main, takes_args, files, sources, sites, uses_numpy) = data
        if not isinstance(code, CodeType) or not isinstance(functions, dict) \
                or not isinstance(sources, dict) or not isinstance(files, frozenset):
            raise ValueError("malformed program image")
        for struct in structs:
            slot, ir_name, names, struct_code = struct
            if not (isinstance(slot, str) and isinstance(ir_name, str)
                    and isinstance(struct_code, CodeType)):
                raise ValueError("malformed struct in program image")
        return cls(code, list(structs), functions, main, bool(takes_args), files, sources,
                   list(sites), bool(uses_numpy))

    def dumps(self) -> bytes:
        return marshal.dumps(self.to_data())

    @classmethod
    def loads(cls, data: bytes) -> "ProgramImage":
        try:
            value = marshal.loads(data)
        except (EOFError, ValueError, TypeError) as exc:
            raise ValueError(f"unreadable program image: {exc}") from None
        return cls.from_data(value)


def code_names(code: CodeType) -> set[str]:
    """Every global/attribute name the code object and its nested ones use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= code_names(const)
    return names


def uses_array_helpers(code: CodeType) -> bool:
    return not ARRAY_HELPER_NAMES.isdisjoint(code_names(code))


def new_namespace(image: ProgramImage) -> tuple[dict[str, Any], dict[str, type]]:
    """The namespace `image.code` runs in (sandboxed builtins, the helpers,
    the struct classes) and the struct classes by IR name. Externs are not
    bound here (runtime/codegen.py `load` binds them)."""
    namespace: dict[str, Any] = {"__builtins__": dict(SANDBOX_BUILTINS)}
    namespace.update(HELPERS)
    if image.uses_numpy:
        namespace.update(array_helpers())
    structs: dict[str, type] = {}
    for slot, ir_name, names, code in image.structs:
        cls = structs[ir_name] = build_struct_class(ir_name, names, code)
        namespace[slot] = cls
    return namespace, structs


def exec_module(code: CodeType, namespace: dict) -> None:
    """Run the module body (defines the functions, initialises constants)."""
    exec(code, namespace)


# ------------------------------------------------------------------ errors

def translate_error(exc: BaseException, image: ProgramImage, namespace: dict) -> NplRuntimeError:
    """`exc`, escaping the image's code, as an NplRuntimeError with an NPL
    stack trace (source lines included)."""
    err = translate(exc, image.files, describe=npl_repr, rename=demangle)
    if isinstance(exc, IndexError):
        detail = index_detail(exc, image, namespace)
        err.message = detail or err.message
    return err.with_sources(image.sources)


def index_detail(exc: IndexError, image: ProgramImage, namespace: dict) -> Optional[str]:
    """`list index 5, length 3` for a failed `xs[i]` whose operands are
    plain variables or constants (re-read from the failing frame)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or tb.tb_frame.f_code.co_filename not in image.files:
        return None
    positions = list(tb.tb_frame.f_code.co_positions())
    site = positions[tb.tb_lasti // 2][2] if tb.tb_lasti // 2 < len(positions) else None
    sites = image.index_sites
    if not site or site > len(sites):
        return None
    kind, container, index = sites[site - 1]
    try:
        seq = _peek(container, tb.tb_frame.f_locals, namespace)
        i = _peek(index, tb.tb_frame.f_locals, namespace)
    except LookupError:
        return None
    return f"index out of range: {kind} index {i}, length {len(seq)}"


def _peek(ref: Optional[tuple], frame_locals: dict, namespace: dict) -> Any:
    """The value of a side-effect-free operand, or LookupError."""
    if ref is None:
        raise LookupError(ref)
    what, value = ref
    if what == "const":
        return value
    if what == "local":
        return frame_locals[value]
    if what == "global":
        return namespace[value]
    raise LookupError(ref)


# ------------------------------------------------------------------ running

class Runner:
    """An image loaded into a fresh namespace, run without limits: what a
    cached `npl run` executes (runtime/codegen.py `Program` is the full
    version, with limits, externs and tests)."""

    def __init__(self, image: ProgramImage):
        self.image = image
        self.namespace, self.structs = new_namespace(image)

    def guarded(self, fn: Callable[..., Any], args: list[Any]) -> Any:
        try:
            return fn(*args)
        except (Exception, RecursionError) as exc:
            raise translate_error(exc, self.image, self.namespace) from None

    def initialise(self) -> None:
        """Define the functions and initialise the constants (may raise
        NplRuntimeError)."""
        run_deep(self.guarded, exec_module, [self.image.code, self.namespace])

    def run_main(self, argv: list[str]) -> None:
        """Run `main()` or `main(args)` (may raise NplRuntimeError)."""
        image = self.image
        if image.main is None:
            raise KeyError("the program has no main function")
        fn = self.namespace[image.functions[image.main]]
        args = [list(argv)] if image.main_takes_args else []
        prepare_heap()
        run_deep(self.guarded, fn, args)


# Collections of the youngest generation happen after this many new
# containers (CPython's default is 700): fewer, larger young collections cost
# far less in programs that build many objects (binary-trees: -20 % CPU).
YOUNG_GC_THRESHOLD = 10_000


def prepare_heap() -> None:
    """Tune the garbage collector for the program's whole run, before
    `main`: the objects alive now (the loaded program; in a compiling
    process, the compiler's data too) are moved out of the collector's sight
    (gc.freeze: a program that allocates many containers would otherwise
    rescan them in every full collection; binary-trees ran 30 % slower), and
    the youngest generation is collected less often (YOUNG_GC_THRESHOLD). No
    NPL value has a finaliser or a weak reference, so when cycles are
    collected cannot be observed. A threshold above ours, or a disabled
    collector, is left alone."""
    import gc
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_GC_THRESHOLD:
        gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)

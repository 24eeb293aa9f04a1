"""The low-level half of runtime/numba_rt.py: its constants, KernelFault,
and the intrinsics that emit checks straight into the caller's LLVM code:
`ix` and the guards `nz`, `ge0`, `gt0`, `finite`, `unit`, and `fail`, each
in a raising and a flagging (`_e`) form; `nn`, an index proven in range
passed on unsigned; the overflow-checked int64 `add_c`, `sub_c`, `mul_c`
of hot unmarked functions; `smul_ovf` and `f2bits`; and the failure record
of a parallel loop (`new_err`, `check_err`). numba_rt.py re-exports all of
it: generated modules see one module, `rt`.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as llir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
TWO63 = 9.223372036854775808e18            # 2.0 ** 63
RECURSION_LIMIT = 20_000                   # native frames per kernel call chain


class KernelFault(Exception):
    """A failed check in compiled kernel code: args are (site, x, y)
    (internal: runtime/jit.py turns it into the interpreter's error)."""


# ------------------------------------------------------------------ intrinsics

@intrinsic
def f2bits(typingctx, x):
    """The IEEE-754 bits of a float (ints pass through unchanged)."""
    if isinstance(x, types.Integer):
        def codegen_int(context, builder, signature, args):
            return context.cast(builder, args[0], signature.args[0], types.int64)
        return types.int64(x), codegen_int
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llir.IntType(64))
    return sig, codegen


@intrinsic
def record(typingctx, err, site, x, y):
    """err[0] = site, err[1] = x, err[2] = y, unless a failure is already
    recorded (atomic compare-and-swap on err[0])."""
    sig = types.void(err, types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        _record(context, builder, signature.args[0], *args)
        return context.get_dummy_value()
    return sig, codegen


def _overflow_intrinsic(op: str):
    @intrinsic
    def checked(typingctx, a, b):
        sig = types.UniTuple(types.int64, 2)(types.int64, types.int64)

        def codegen(context, builder, signature, args):
            res = getattr(builder, f"{op}_with_overflow")(args[0], args[1])
            value = builder.extract_value(res, 0)
            flag = builder.zext(builder.extract_value(res, 1), llir.IntType(64))
            return context.make_tuple(builder, signature.return_type, [value, flag])
        return sig, codegen
    return checked


smul_ovf = _overflow_intrinsic("smul")


def _checked_intrinsic(op: str):
    """a OP b on int64, raising KernelFault(site + 1, a, b) where it
    overflows (for hot unmarked functions, whose ints must not wrap)."""
    @intrinsic
    def checked(typingctx, a, b, site):
        sig = types.int64(types.int64, types.int64, types.int64)

        def codegen(context, builder, signature, args):
            a, b, site = args
            res = getattr(builder, f"{op}_with_overflow")(a, b)
            _fail_block(context, builder, builder.extract_value(res, 1),
                        builder.add(site, site.type(1)), a, b)
            return builder.extract_value(res, 0)
        return sig, codegen
    return checked


add_c = _checked_intrinsic("sadd")
sub_c = _checked_intrinsic("ssub")
mul_c = _checked_intrinsic("smul")


def _raise_fault(site, x, y):
    raise KernelFault(site, x, y)


_raise_fault_jit = njit(_raise_fault)
_FAULT_SIG = types.void(types.int64, types.int64, types.int64)


def _emit_raise(context, builder, site, x, y):
    """In a cold block: raise KernelFault(site, x, y) by calling one shared
    compiled function (a `raise` at every check would make Numba emit a
    conversion function per check, and inlining one would rerun its
    pipeline per check: compiling would take several times longer)."""
    if _FAULT_SIG.args not in _raise_fault_jit.overloads:
        _raise_fault_jit.compile(_FAULT_SIG.args)
    cres = _raise_fault_jit.overloads[_FAULT_SIG.args]
    context.active_code_library.add_linking_library(cres.library)
    vals = [context.cast(builder, v, t, types.int64) for v, t in
            zip((site, x, y), (types.int64, types.int64, types.int64))]
    status, _ = context.call_internal_no_propagate(builder, cres.fndesc, _FAULT_SIG, vals)
    # it always fails: leave with its status, so the block never rejoins the hot path
    context.call_conv.return_status_propagate(builder, status)
    if not builder.block.is_terminated:
        builder.unreachable()


def _emit_abort(context, builder, errty, errv, site, x, y):
    """In a cold block inside a parallel loop: record the failure in `err`
    and leave the function with an error status (Numba drops the exception
    there, but it stops that thread's share of the loop)."""
    _record(context, builder, errty, errv, site, x, y)
    context.call_conv.return_user_exc(builder, KernelFault, (0, 0, 0))


def _record(context, builder, errty, errv, site, x, y):
    arr = cgutils.create_struct_proxy(errty)(context, builder, value=errv)
    i64 = llir.IntType(64)
    res = builder.cmpxchg(arr.data, llir.Constant(i64, 0), site, "monotonic", "monotonic")
    with builder.if_then(builder.extract_value(res, 1)):
        builder.store(x, builder.gep(arr.data, [llir.Constant(i64, 1)]))
        builder.store(y, builder.gep(arr.data, [llir.Constant(i64, 2)]))


def _fail_block(context, builder, bad, site, x, y, err=None):
    with cgutils.if_unlikely(builder, bad):
        if err is None:
            _emit_raise(context, builder, site, x, y)
        else:
            _emit_abort(context, builder, err[0], err[1], site, x, y)


@intrinsic
def ix(typingctx, i, n, site):
    """Index i of an axis of length n (negative: from the end), checked: an
    unsigned index (so Numba adds no wraparound of its own), or
    KernelFault(site, i, n)."""
    sig = types.uint64(types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i, n, site = args
        j = builder.select(builder.icmp_signed("<", i, i.type(0)), builder.add(i, n), i)
        _fail_block(context, builder, builder.icmp_unsigned(">=", j, n), site, i, n)
        return j
    return sig, codegen


@intrinsic
def nn(typingctx, i):
    """An index already known to be in range (so >= 0), as unsigned: Numba
    then adds no wraparound for negative indices of its own."""
    sig = types.uint64(types.int64)

    def codegen(context, builder, signature, args):
        return args[0]
    return sig, codegen


@intrinsic
def ix_e(typingctx, i, n, site, err):
    """`ix` inside a parallel loop (failures recorded in `err`)."""
    sig = types.uint64(types.int64, types.int64, types.int64, err)

    def codegen(context, builder, signature, args):
        i, n, site, errv = args
        j = builder.select(builder.icmp_signed("<", i, i.type(0)), builder.add(i, n), i)
        _fail_block(context, builder, builder.icmp_unsigned(">=", j, n), site, i, n,
                    (signature.args[3], errv))
        return j
    return sig, codegen


@intrinsic
def fail(typingctx, site, x, y):
    """Raise KernelFault(site, x, y)."""
    sig = types.void(types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        vals = [context.cast(builder, v, t, types.int64) for v, t in zip(args, signature.args)]
        _emit_raise(context, builder, *vals)
        builder.position_at_end(builder.append_basic_block("npl.after_fail"))
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def fail_e(typingctx, site, x, y, err):
    """`fail` inside a parallel loop: record in `err` and abort."""
    sig = types.void(types.int64, types.int64, types.int64, err)

    def codegen(context, builder, signature, args):
        vals = [context.cast(builder, v, t, types.int64) for v, t in zip(args[:3], signature.args[:3])]
        _emit_abort(context, builder, signature.args[3], args[3], *vals)
        # the rest of the block is unreachable; give Numba a fresh one to fill
        builder.position_at_end(builder.append_basic_block("npl.after_abort"))
        return context.get_dummy_value()
    return sig, codegen


def _guard(doc: str, bad_int, bad_float):
    """An intrinsic pair g(x, site) / g_e(x, site, err) that returns x and
    fails (payload: x, as IEEE bits for a float) when bad_*(builder, x)."""
    def make(flagging: bool):
        def typer(typingctx, x, site, err=None):
            if not isinstance(x, (types.Integer, types.Float, types.Boolean)):
                return None
            args = (x, types.int64) + ((err,) if flagging else ())

            def codegen(context, builder, signature, args):
                v = args[0]
                if isinstance(signature.args[0], types.Float):
                    bad = bad_float(builder, v)
                    payload = builder.bitcast(context.cast(builder, v, signature.args[0], types.float64),
                                              llir.IntType(64))
                else:
                    bad = bad_int(builder, v)
                    payload = context.cast(builder, v, signature.args[0], types.int64)
                err = (signature.args[2], args[2]) if flagging else None
                _fail_block(context, builder, bad, args[1], payload, llir.Constant(llir.IntType(64), 0), err)
                return v
            return x(*args), codegen
        if flagging:
            def guard_e(typingctx, x, site, err):
                return typer(typingctx, x, site, err)
            guard_e.__doc__ = doc + " (inside a parallel loop)"
            return intrinsic(guard_e)

        def guard(typingctx, x, site):
            return typer(typingctx, x, site)
        guard.__doc__ = doc
        return intrinsic(guard)
    return make(False), make(True)


def _zero(builder, v):
    return builder.icmp_signed("==", v, v.type(0))


nz, nz_e = _guard("x, failing if it is zero (a divisor)",
                  _zero, lambda b, v: b.fcmp_ordered("==", v, v.type(0.0)))
ge0, ge0_e = _guard("x, failing if x < 0 (sqrt's domain)",
                    lambda b, v: b.icmp_signed("<", v, v.type(0)),
                    lambda b, v: b.fcmp_ordered("<", v, v.type(0.0)))
gt0, gt0_e = _guard("x, failing if x <= 0 (log's domain)",
                    lambda b, v: b.icmp_signed("<=", v, v.type(0)),
                    lambda b, v: b.fcmp_ordered("<=", v, v.type(0.0)))
finite, finite_e = _guard("x, failing if x is infinite (sin's domain)",
                          lambda b, v: llir.Constant(llir.IntType(1), 0),
                          lambda b, v: b.fcmp_ordered("==", b.call(
                              b.module.declare_intrinsic("llvm.fabs", [v.type]), [v]), v.type(math.inf)))
unit, unit_e = _guard("x, failing if |x| > 1 (asin's domain)",
                      lambda b, v: b.or_(b.icmp_signed(">", v, v.type(1)), b.icmp_signed("<", v, v.type(-1))),
                      lambda b, v: b.fcmp_ordered(">", b.call(
                          b.module.declare_intrinsic("llvm.fabs", [v.type]), [v]), v.type(1.0)))


@njit
def new_err():
    """The failure record of one parallel loop (a call, so that Numba's
    parfor pass does not treat it as an array it may hoist or fuse)."""
    return np.zeros(4, np.int64)


@njit
def check_err(err):
    if err[0] != 0:
        raise KernelFault(err[0], err[1], err[2])

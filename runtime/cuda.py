"""Kernels on an NVIDIA GPU with numba.cuda (`--device cuda`, docs/reference.md §8).

A @kernel runs on the GPU when its body is one `prange` loop over array
elements, optionally preceded by scalar set-up and allocations and with an
optional scalar `+=` reduction:

    @kernel
    def saxpy(a: float, x: array[float], y: array[float]) -> array[float]:
        out = empty(len(x))                     # allocations, scalars
        for i in prange(len(x)):                # one prange from 0, step 1
            out[i] = a * x[i] + y[i]            # 1-D arrays indexed by i only
        return out                              # an array, the reduction, or nothing

    @kernel
    def total(x: array[float]) -> float:
        s = 0.0
        for i in prange(len(x)):
            s += x[i] * x[i]                    # the reduction
        return s

The loop body may use scalars (int, float, bool), `arr[i]` of 1-D arrays
(read or written), if/else, inner `range` loops, arithmetic, comparisons and
the scalar math built-ins (runtime/cuda_pattern.py decides). Everything
else (other kernels, 2-D arrays, other indices) keeps the kernel on the
CPU; `plan` says why when NPL_JIT_VERBOSE=1.

On the device the loop is a grid-stride loop (THREADS threads per block,
at most BLOCKS_PER_SM blocks per multiprocessor). A reduction keeps one
partial sum per thread, adds them up per block in shared memory and does
one atomic add per block. Arrays go to the device once per call and come
back only when the kernel writes them; torch CUDA tensors passed through
the embedding API are used in place (__cuda_array_interface__) and array
results come back as torch tensors on the device.

Semantics. A failure the interpreter would report (division by zero, a math
domain error, an index out of range because an array is shorter than the
loop) is detected on the device, or before the launch, and the call is then
re-run on the CPU, which raises the interpreter's error with its NPL trace.
Reductions add in a different order (float rounding, docs/reference.md §8). NVVM's
contraction of a * b + c into fused multiply-adds is switched off, so
elementwise arithmetic rounds as on the CPU; transcendental functions come
from CUDA's libdevice and may differ from the CPU's libm in the last bit.
"""
from __future__ import annotations

import math
import sys
import threading
from typing import Any, Callable

from npl.compiler import ir
from npl.lang.errors import ConfigKind
from npl.lang.types import BOOL, FLOAT, INT, ArrayT

from .cuda_pattern import NotGpu, Pattern, host_eval, match

THREADS = 256                   # threads per block (a power of two: the block reduction halves)
BLOCKS_PER_SM = 32
NB = {FLOAT: "float64", INT: "int64", BOOL: "boolean"}
NP = {FLOAT: "float64", INT: "int64", BOOL: "bool_"}

_lock = threading.RLock()
_state: dict[str, Any] = {}
_nofma = threading.local()


class DeviceError(ConfigKind):
    """`--device cuda` (device="cuda") where no usable NVIDIA GPU is."""


# ------------------------------------------------------------------ the device

def cuda_module():
    """numba.cuda, imported once (numba.cuda still calls np.row_stack, which
    NumPy 2 may lack)."""
    with _lock:
        if "cuda" not in _state:
            import numpy as np
            if not hasattr(np, "row_stack"):
                np.row_stack = np.vstack
            from numba import cuda
            _patch_nvvm()
            _state["cuda"] = cuda
        return _state["cuda"]


def _patch_nvvm() -> None:
    """Compile NPL's kernels with -fma=0 (numba.cuda does not expose NVVM's
    contraction option; only compilations inside `no_fma()` are affected)."""
    try:
        from numba.cuda.cudadrv import nvvm
        original = nvvm.compile_ir
    except (ImportError, AttributeError):      # the CUDA simulator has no NVVM
        return
    if getattr(original, "_npl", False):
        return

    def compile_ir(llvmir, **opts):
        if getattr(_nofma, "on", False) and not opts.get("fastmath"):
            opts["fma"] = False
        return original(llvmir, **opts)
    compile_ir._npl = True
    nvvm.compile_ir = compile_ir


class no_fma:
    def __enter__(self):
        _nofma.on = True

    def __exit__(self, *exc):
        _nofma.on = False


def availability() -> tuple[bool, str]:
    """(usable, reason when not)."""
    with _lock:
        if "available" not in _state:
            try:
                cuda = cuda_module()
                ok = bool(cuda.is_available())
                reason = "" if ok else "no CUDA driver or no NVIDIA GPU found"
                if ok:
                    name = getattr(_device(), "name", None) or "CUDA simulator"
                    reason = name.decode() if isinstance(name, bytes) else str(name)
            except Exception as exc:  # numba.cuda missing or broken
                ok, reason = False, f"numba.cuda cannot be used: {type(exc).__name__}: {exc}"
            _state["available"] = (ok, reason)
        return _state["available"]


def _device():
    return cuda_module().current_context().device


def require() -> None:
    ok, reason = availability()
    if not ok:
        raise DeviceError(f"--device cuda needs an NVIDIA GPU with a working CUDA driver ({reason}); "
                          "run without --device cuda (and NPL_DEVICE=cuda) to use the CPU")


def device_name() -> str:
    ok, reason = availability()
    return reason if ok else "none"


# ------------------------------------------------------------------ device code

class _DeviceLowerer:
    """The loop body as numba.cuda source (Python text). Checks that would
    fail set err[0] = 1 (the call is then re-run on the CPU)."""

    def __init__(self, pat: Pattern, consts: Callable[[str], Any]):
        self.pat = pat
        self.consts = consts
        self.lines: list[str] = []

    def name(self, n: str) -> str:
        return "v_" + "".join(c if c.isalnum() and c.isascii() else f"_{ord(c):x}_" for c in n)

    def block(self, stmts, indent: int) -> None:
        if not stmts:
            self.lines.append(" " * indent + "pass")
        for s in stmts:
            self.stmt(s, indent)

    def stmt(self, s, indent: int) -> None:
        pad = " " * indent
        red = self.pat.reduction
        if isinstance(s, ir.Assign) and s.name == red:
            self.lines.append(f"{pad}_part = _part + ({self.expr(s.value.args[1])})")
        elif isinstance(s, ir.Assign):
            value = self.expr(s.value)
            if s.value.type == INT and self.pat.fn.locals.get(s.name) == FLOAT:
                value = f"float({value})"
            self.lines.append(f"{pad}{self.name(s.name)} = {value}")
        elif isinstance(s, ir.SetItem):
            self.lines.append(f"{pad}{self.name(s.obj.name)}[_i] = {self.expr(s.value)}")
        elif isinstance(s, ir.If):
            self.lines.append(f"{pad}if {self.expr(s.test)}:")
            self.block(s.body, indent + 4)
            if s.orelse:
                self.lines.append(f"{pad}else:")
                self.block(s.orelse, indent + 4)
        elif isinstance(s, ir.ForRange):
            step = self.expr(s.step)
            if not (isinstance(s.step, ir.Const) and s.step.value != 0):
                step = f"_nonzero({step}, _err)"
            self.lines.append(f"{pad}for {self.name(s.var)} in range({self.expr(s.start)}, "
                              f"{self.expr(s.stop)}, {step}):")
            self.block(s.body, indent + 4)
        else:  # pragma: no cover (match() admits nothing else)
            raise NotGpu(type(s).__name__)

    def expr(self, e) -> str:
        if isinstance(e, ir.Const):
            return _literal(e.value)
        if isinstance(e, ir.Local):
            return "_i" if e.name == self.pat.loop.var else self.name(e.name)
        if isinstance(e, ir.Global):
            return _literal(self.consts(e.name))
        if isinstance(e, ir.Compare):
            ops = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
            parts = [self.expr(e.operands[0])]
            for op, x in zip(e.ops, e.operands[1:]):
                parts += [ops[op], self.expr(x)]
            return "(" + " ".join(parts) + ")"
        if isinstance(e, ir.And):
            return "(" + " and ".join(self.expr(v) for v in e.values) + ")"
        if isinstance(e, ir.Or):
            return "(" + " or ".join(self.expr(v) for v in e.values) + ")"
        if isinstance(e, ir.IfExp):
            return f"({self.flt(e.body, e.type)} if {self.expr(e.test)} else {self.flt(e.orelse, e.type)})"
        return self.prim(e)

    def flt(self, e, want) -> str:
        x = self.expr(e)
        return f"float({x})" if e.type == INT and want == FLOAT else x

    def prim(self, e: ir.Prim) -> str:
        op, a = e.op, [self.expr(x) for x in e.args]
        t = [x.type for x in e.args]
        binops = {"add": "+", "sub": "-", "mul": "*", "bitand": "&", "bitor": "|", "bitxor": "^"}
        if op == "getitem":
            return f"{self.name(e.args[0].name)}[_i]"
        if op in binops:
            return f"({a[0]} {binops[op]} {a[1]})"
        if op == "truediv":
            return f"({a[0]} / _nonzero({a[1]}, _err))"
        if op == "floordiv":
            if e.type == INT:
                return f"_ifloordiv({a[0]}, {a[1]}, _err)"
            return f"({a[0]} // _nonzero({a[1]}, _err))"
        if op == "mod":
            return f"({a[0]} % _nonzero({a[1]}, _err))"
        if op == "pow":
            return f"_ipow({a[0]}, {a[1]}, _err)" if e.type == INT else f"_fpow({a[0]}, {a[1]}, _err)"
        if op == "neg":
            return f"(-{a[0]})"
        if op == "pos":
            return a[0]
        if op == "not":
            return f"(not {a[0]})"
        if op in ("int_to_float", "float"):
            return f"float({a[0]})"
        if op in ("truthy", "bool"):
            return a[0] if t[0] == BOOL else f"({a[0]} != 0)"
        if op == "int":
            return f"_f2i({a[0]}, _err)" if t[0] == FLOAT else f"int({a[0]})"
        if op == "round":
            return f"_f2i(_rint({a[0]}), _err)" if t[0] == FLOAT else a[0]
        if op in ("floor", "ceil"):
            return f"_{op}(float({a[0]}), _err)"
        if op in ("min", "max", "abs"):
            args = [self.flt(x, e.type) for x in e.args]
            return f"{op}({', '.join(args)})"
        if op in ("isnan", "isinf"):
            return f"math.{op}(float({a[0]}))"
        if op == "atan2":
            return f"math.atan2(float({a[0]}), float({a[1]}))"
        if op == "log" and len(a) == 2:
            return f"_logb(float({a[0]}), float({a[1]}), _err)"
        if op in ("sqrt", "exp", "log", "log2", "log10", "sin", "cos", "tan", "asin", "acos", "atan"):
            return f"_{op}(float({a[0]}), _err)"
        raise NotGpu(op)  # pragma: no cover

    def source(self) -> str:
        pat = self.pat
        params = [self.name(n) for n in pat.arrays] + [self.name(n) for n in pat.scalars]
        red = pat.reduction
        lines = ["@cuda.jit(_SIG)", f"def npl_kernel({', '.join(params + ['_n', '_err', '_acc'])}):",
                 "    _start = cuda.grid(1)", "    _stride = cuda.gridsize(1)"]
        zero = "0.0" if red and pat.fn.locals.get(red) == FLOAT else "0"
        if red:
            lines.append(f"    _part = {zero}")
        lines.append("    for _i in range(_start, _n, _stride):")
        self.lines = []
        self.block(pat.loop.body, 8)
        lines += self.lines
        if red:
            dtype = "float64" if zero == "0.0" else "int64"
            lines += [f"    _sm = cuda.shared.array({THREADS}, numba.{dtype})",
                      "    _t = cuda.threadIdx.x",
                      "    _sm[_t] = _part",
                      "    cuda.syncthreads()",
                      f"    _s = {THREADS // 2}",
                      "    while _s > 0:",
                      "        if _t < _s:",
                      "            _sm[_t] += _sm[_t + _s]",
                      "        cuda.syncthreads()",
                      "        _s //= 2",
                      "    if _t == 0:",
                      "        cuda.atomic.add(_acc, 0, _sm[0])"]
        return DEVICE_HELPERS + "\n" + "\n".join(lines) + "\n"


DEVICE_HELPERS = '''
import math
import numba
from numba import cuda

TWO63 = 9.223372036854775808e18


@cuda.jit(device=True, inline=True)
def _fail(err):
    err[0] = 1


@cuda.jit(device=True, inline=True)
def _nonzero(b, err):
    if b == 0:
        _fail(err)
        return 1
    return b


@cuda.jit(device=True, inline=True)
def _ifloordiv(a, b, err):
    if b == 0:
        _fail(err)
        return 0
    if b == -1:
        return -a
    return a // b


@cuda.jit(device=True, inline=True)
def _ipow(a, b, err):
    if b < 0:
        _fail(err)
        return 0
    r = 1
    while b > 0:
        if b & 1:
            r *= a
        a *= a
        b >>= 1
    return r


@cuda.jit(device=True, inline=True)
def _fpow(a, b, err):
    x = float(a)
    y = float(b)
    r = x ** y
    if not math.isfinite(r) and math.isfinite(x) and math.isfinite(y):
        _fail(err)
    return r


@cuda.jit(device=True, inline=True)
def _f2i(x, err):
    if x != x or x >= TWO63 or x < -TWO63:
        _fail(err)
        return 0
    return int(x)


@cuda.jit(device=True, inline=True)
def _floor(x, err):
    if x != x or x >= TWO63 or x < -TWO63:
        _fail(err)
        return 0
    return math.floor(x)


@cuda.jit(device=True, inline=True)
def _ceil(x, err):
    if x != x or x >= TWO63 or x < -TWO63:
        _fail(err)
        return 0
    return math.ceil(x)


@cuda.jit(device=True, inline=True)
def _rint(x):
    r = math.floor(x)
    d = x - r
    if d > 0.5 or (d == 0.5 and r % 2.0 != 0.0):
        r += 1.0
    return r


@cuda.jit(device=True, inline=True)
def _sqrt(x, err):
    if x < 0.0:
        _fail(err)
    return math.sqrt(x)


@cuda.jit(device=True, inline=True)
def _log(x, err):
    if x <= 0.0:
        _fail(err)
        return 0.0
    return math.log(x)


@cuda.jit(device=True, inline=True)
def _log2(x, err):
    if x <= 0.0:
        _fail(err)
        return 0.0
    return math.log2(x)


@cuda.jit(device=True, inline=True)
def _log10(x, err):
    if x <= 0.0:
        _fail(err)
        return 0.0
    return math.log10(x)


@cuda.jit(device=True, inline=True)
def _logb(x, b, err):
    if x <= 0.0 or b <= 0.0 or b == 1.0:
        _fail(err)
        return 0.0
    return math.log(x) / math.log(b)


@cuda.jit(device=True, inline=True)
def _exp(x, err):
    r = math.exp(x)
    if math.isinf(r) and math.isfinite(x):
        _fail(err)
    return r


@cuda.jit(device=True, inline=True)
def _sin(x, err):
    if math.isinf(x):
        _fail(err)
    return math.sin(x)


@cuda.jit(device=True, inline=True)
def _cos(x, err):
    if math.isinf(x):
        _fail(err)
    return math.cos(x)


@cuda.jit(device=True, inline=True)
def _tan(x, err):
    if math.isinf(x):
        _fail(err)
    return math.tan(x)


@cuda.jit(device=True, inline=True)
def _asin(x, err):
    if x < -1.0 or x > 1.0:
        _fail(err)
        return 0.0
    return math.asin(x)


@cuda.jit(device=True, inline=True)
def _acos(x, err):
    if x < -1.0 or x > 1.0:
        _fail(err)
        return 0.0
    return math.acos(x)


@cuda.jit(device=True, inline=True)
def _atan(x, err):
    return math.atan(x)


@cuda.jit
def npl_fill(a, value):
    start = cuda.grid(1)
    for i in range(start, a.shape[0], cuda.gridsize(1)):
        a[i] = value
'''


def _literal(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "(-math.inf)"
    return repr(v)


# ------------------------------------------------------------------ plans

class GpuPlan:
    """A kernel compiled for the GPU and the host code that launches it."""

    def __init__(self, jit, pat: Pattern):
        self.jit = jit
        self.pat = pat
        self._kernel = None
        self._fill = None

    def signature(self) -> str:
        fn = self.pat.fn
        types = {**{p.name: p.type for p in fn.params}, **{n: a.type for n, a in self.pat.allocs.items()}}
        sig = []
        for n in self.pat.arrays:
            sig.append(f"{NB[types[n].elem]}[::1]")
        for n in self.pat.scalars:
            sig.append(NB[fn.locals.get(n, types.get(n, FLOAT))])
        red = self.pat.reduction
        acc = NB[fn.locals[red]] if red else "int64"
        return f"void({', '.join(sig + ['int64', 'int64[::1]', acc + '[::1]'])})"

    def kernel(self):
        if self._kernel is None:
            cuda_module()
            source = _DeviceLowerer(self.pat, self.jit.const_value).source()
            namespace = {"_SIG": self.signature()}
            with no_fma():
                exec(compile(source, f"<npl-gpu {self.pat.fn.name}>", "exec"), namespace)
            self._kernel = namespace["npl_kernel"]
            self._fill = namespace["npl_fill"]
        return self._kernel

    def entry(self, cpu: Callable, interpreted: Callable) -> Callable:
        plan = self

        def gpu_entry(*args):
            return plan.run(args, cpu)
        gpu_entry.__name__ = getattr(interpreted, "__name__", self.pat.fn.name)
        gpu_entry.__wrapped__ = cpu
        return gpu_entry

    # -------------------------------------------------------- launching
    def run(self, args: tuple, cpu: Callable):
        import numpy as np
        from .jitcache import stats
        cuda = cuda_module()
        pat, fn = self.pat, self.pat.fn
        env = {p.name: a for p, a in zip(fn.params, args)}
        torch_mode = any(_is_cuda_tensor(a) for a in args)
        try:
            for s in pat.setup:
                if s.name not in pat.allocs:
                    value = host_eval(s.value, env, self.jit.const_value)
                    env[s.name] = float(value) if fn.locals.get(s.name) == FLOAT else value
            n = int(host_eval(pat.loop.stop, env, self.jit.const_value))
            sizes = {name: int(host_eval(a.args[0], env, self.jit.const_value))
                     for name, a in pat.allocs.items()}
        except Exception:
            return self.on_cpu(args, cpu, torch_mode)
        if any(size < 0 for size in sizes.values()):
            return self.on_cpu(args, cpu, torch_mode)
        device: dict[str, Any] = {}
        host_copies: list[tuple[Any, Any]] = []
        for p in fn.params:
            if not isinstance(p.type, ArrayT) or p.name not in pat.arrays:
                continue
            value = env[p.name]
            if _is_cuda_tensor(value):
                if not value.is_contiguous() or str(value.dtype) != f"torch.{_TORCH[p.type.elem]}":
                    return self.on_cpu(args, cpu, torch_mode)
                device[p.name] = cuda.as_cuda_array(value.detach())
            elif isinstance(value, np.ndarray) and value.flags.c_contiguous and value.dtype == NP[p.type.elem]:
                device[p.name] = cuda.to_device(value)
                if p.name in pat.written:
                    host_copies.append((device[p.name], value))
            else:
                return self.on_cpu(args, cpu, torch_mode)
            if n > 0 and len(value) < n:
                return self.on_cpu(args, cpu, torch_mode)     # the CPU reports the index error
        results: dict[str, Any] = {}
        for name, alloc in pat.allocs.items():
            elem = alloc.type.elem
            size = sizes[name]
            if torch_mode:
                import torch
                t = torch.empty(size, dtype=getattr(torch, _TORCH[elem]), device="cuda")
                results[name] = t
                arr = cuda.as_cuda_array(t)
            else:
                arr = cuda.device_array(size, dtype=NP[elem])
            fill = {"zeros": 0, "empty": 0, "ones": 1}.get(alloc.op)
            if alloc.op == "full":
                fill = host_eval(alloc.args[1], env, self.jit.const_value)
            if not (alloc.op == "empty" and name in pat.filled) and size > 0:
                self.kernel()
                with no_fma():
                    self._fill[self.blocks(size), THREADS](arr, fill)
            device[name] = arr
            if n > 0 and name in pat.arrays and size < n:
                return self.on_cpu(args, cpu, torch_mode)
        red = pat.reduction
        red_type = fn.locals.get(red) if red else INT
        err = cuda.to_device(np.zeros(1, np.int64))
        acc = cuda.to_device(np.zeros(1, NP[red_type]))
        if n > 0:
            launch_args = [device[a] for a in pat.arrays]
            for s in pat.scalars:
                t = fn.locals.get(s) or next(p.type for p in fn.params if p.name == s)
                launch_args.append({FLOAT: float, INT: int, BOOL: bool}[t](env[s]))
            kernel = self.kernel()
            with no_fma():
                kernel[self.blocks(n), THREADS](*launch_args, n, err, acc)
            stats["gpu_launches"] += 1
            if int(err.copy_to_host()[0]) != 0:
                return self.on_cpu(args, cpu, torch_mode)
        for dev, host in host_copies:
            dev.copy_to_host(host)
        if pat.result is None:
            return None
        if pat.result == red:
            total = acc.copy_to_host()[0].item()
            return env[red] + total
        if pat.result in pat.allocs:
            return results[pat.result] if torch_mode else device[pat.result].copy_to_host()
        value = env[pat.result]
        return value

    def blocks(self, n: int) -> int:
        if "sms" not in _state:
            _state["sms"] = int(getattr(_device(), "MULTIPROCESSOR_COUNT", 1) or 1)
        return max(1, min((n + THREADS - 1) // THREADS, BLOCKS_PER_SM * _state["sms"]))

    def on_cpu(self, args: tuple, cpu: Callable, torch_mode: bool):
        """Run the call on the CPU (it raises the interpreter's error where
        the GPU found one); CUDA tensors travel through host copies."""
        if not torch_mode:
            return cpu(*args)
        import torch
        host = [a.detach().cpu().numpy() if _is_cuda_tensor(a) else a for a in args]
        result = cpu(*host)
        for a, h in zip(args, host):
            if _is_cuda_tensor(a):
                a.copy_(torch.from_numpy(h))
        import numpy as np
        if isinstance(result, np.ndarray):
            return torch.from_numpy(result).to("cuda")
        return result


_TORCH = {FLOAT: "float64", INT: "int64", BOOL: "bool"}


def _is_cuda_tensor(v) -> bool:
    torch = sys.modules.get("torch")        # a tensor exists only once torch is imported
    return torch is not None and isinstance(v, torch.Tensor) and bool(v.is_cuda)


def plan(jit, fn: ir.Function) -> GpuPlan:
    """The GPU plan of `fn`; raises NotGpu, saying why, when it stays on the CPU."""
    return GpuPlan(jit, match(fn))

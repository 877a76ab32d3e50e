"""Take network access away from the calling process, for good: a seccomp filter under which
creating an IPv4 or IPv6 socket fails with EACCES.

The query workers call it before they open the store. The endpoint refuses SERVICE before any
engine sees a query (`mlkg.sparql`), but the engine itself would follow one: pyoxigraph and the
Oxigraph server both call the IRI of a SERVICE clause, with no switch to turn that off. So a query
that slipped past the check (one did, on 2026-12-07, through an escape the check read otherwise
than the engine) could still make the server connect somewhere. Under this filter, the kernel
refuses that connection whatever the query says; the engine reports the failure as an error.

Linux only, on x86-64 and AArch64 (the syscall numbers differ by architecture); elsewhere
`deny_network` does nothing and returns False. Unix sockets (the worker's pipe) stay allowed.
Standard library only: a worker imports little, to start fast.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EACCES = 13
_AF_INET, _AF_INET6 = 2, 10
#: machine: (AUDIT_ARCH value, number of the socket syscall)
_ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of seccomp_data
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
# offsets in struct seccomp_data: nr, arch, then args[0] at 16 (its low half on little-endian)
_NR, _ARCH, _ARG0 = 0, 4, 16


class _Filter(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def program(arch: int, socket_nr: int) -> bytes:
    """The BPF program: socket(AF_INET or AF_INET6, ...) fails with EACCES; all else is allowed."""

    def op(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    return b"".join(
        [
            op(_LD_W_ABS, 0, 0, _ARCH),
            op(_JEQ_K, 0, 5, arch),  # another architecture's calls: allow (numbers differ)
            op(_LD_W_ABS, 0, 0, _NR),
            op(_JEQ_K, 0, 3, socket_nr),
            op(_LD_W_ABS, 0, 0, _ARG0),
            op(_JEQ_K, 2, 0, _AF_INET),
            op(_JEQ_K, 1, 0, _AF_INET6),
            op(_RET_K, 0, 0, _RET_ALLOW),
            op(_RET_K, 0, 0, _RET_ERRNO | _EACCES),
        ]
    )


def deny_network() -> bool:
    """Install the filter on this process (and whatever it starts later); True if it is in place."""
    known = _ARCHES.get(platform.machine())
    if not sys.platform.startswith("linux") or known is None or sys.byteorder != "little":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    code = program(*known)
    buffer = ctypes.create_string_buffer(code, len(code))
    prog = _Filter(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0

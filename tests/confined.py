"""Run a command confined as deploy/trustcenter-gate@.service confines the gate, without systemd.

systemd cannot run as PID 1 on the machines the tests run on (a container or a VM whose init is not
systemd), so tests/test_deploy.py cannot start the unit itself. This applies the parts of the unit's confinement
that decide whether the gate works under it, with the same kernel mechanisms systemd uses:

- ProtectSystem=strict with ReadWritePaths: every mount read-only, except the folders named with --writable
  (the state folder, and a temporary folder standing in for PrivateTmp's /tmp);
- NoNewPrivileges;
- SystemCallFilter=@system-service, SystemCallFilter=~@privileged @resources with SystemCallErrorNumber=EPERM:
  a seccomp filter (libseccomp, as systemd) allowing exactly the calls named with --allow (the test expands
  the groups with `systemd-analyze syscall-filter`, so systemd's own lists are used), EPERM for the rest;
- RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6: socket() for those families only;
- MemoryDenyWriteExecute: systemd's seccomp rules (no mapping both writable and executable, no mprotect() or
  shmat() that makes memory executable).

Not applied: User= (the test runs it as its own user), ProtectHome, PrivateDevices, ProtectProc and the other
Protect*= settings, which hide what the gate never reads. Needs root (a mount namespace: run it under
`unshare --mount --propagation private`) and libseccomp.

    python tests/confined.py --writable DIR [--writable DIR] --allow read,write,... -- COMMAND ARGS...
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import socket

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
KEPT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
KERNEL_FILE_SYSTEMS = ("proc", "sys", "dev")  # systemd leaves these to their own Protect*= settings

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
ADDRESS_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)
# Allowed only with the arguments below (MemoryDenyWriteExecute, RestrictAddressFamilies).
CONDITIONAL = ("mmap", "mprotect", "pkey_mprotect", "shmat", "socket")


def scmp_act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class ArgCmp(ctypes.Structure):
    """libseccomp's struct scmp_arg_cmp."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def read_only_except(writable: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(source: str | None, target: str, flags: int) -> None:
        if libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"mount {target}: {os.strerror(error)}")

    with open("/proc/self/mountinfo", encoding="utf-8") as table:
        mounts = [line.split() for line in table]
    for fields in mounts:
        point = fields[4].encode().decode("unicode_escape")  # mountinfo writes a space as \040
        if point.split("/")[1] in KERNEL_FILE_SYSTEMS:
            continue
        kept = sum(KEPT_FLAGS.get(option, 0) for option in fields[5].split(","))
        mount(None, point, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)
    for folder in writable:
        mount(folder, folder, MS_BIND)  # a mount of its own, then made writable again
        mount(None, folder, MS_REMOUNT | MS_BIND)


def load_filter(allowed: set[str]) -> None:
    library = ctypes.util.find_library("seccomp")
    if library is None:
        raise SystemExit("confined.py: libseccomp is not installed (Debian: libseccomp2)")
    seccomp = ctypes.CDLL(library, use_errno=True)
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgCmp)]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(scmp_act_errno(1))  # SystemCallErrorNumber=EPERM

    def allow(name: str, *conditions: tuple[int, int, int, int]) -> None:
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number < 0:  # a call of another architecture (setuid32, ...): nothing to allow here
            return
        array = (ArgCmp * max(len(conditions), 1))(*(ArgCmp(*condition) for condition in conditions))
        result = seccomp.seccomp_rule_add_array(context, SCMP_ACT_ALLOW, number, len(conditions), array)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

    for name in sorted(allowed - set(CONDITIONAL)):
        allow(name)
    if "mmap" in allowed:  # not both PROT_WRITE and PROT_EXEC
        for prot in (0, PROT_WRITE, PROT_EXEC):
            allow("mmap", (2, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, prot))
    for name in ("mprotect", "pkey_mprotect"):  # never PROT_EXEC
        if name in allowed:
            allow(name, (2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))
    if "shmat" in allowed:
        allow("shmat", (2, SCMP_CMP_MASKED_EQ, SHM_EXEC, 0))
    if "socket" in allowed:
        for family in ADDRESS_FAMILIES:
            allow("socket", (0, SCMP_CMP_EQ, int(family), 0))
    result = seccomp.seccomp_load(context)  # sets no_new_privs first (NoNewPrivileges)
    if result != 0:
        raise OSError(-result, f"seccomp_load: {os.strerror(-result)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writable", action="append", default=[])
    parser.add_argument("--allow", required=True, help="comma-separated system call names")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("no command")
    read_only_except(options.writable)
    load_filter(set(options.allow.split(",")))
    os.execv(command[0], command)  # noqa: S606 - the command as given, confined


if __name__ == "__main__":
    main()

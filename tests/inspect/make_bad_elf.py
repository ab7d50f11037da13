#!/usr/bin/env python3
"""make_bad_elf.py — writes the broken ELF files the `kiln size` bad-input cases read
(tests/bad/cases/size-*.elf; committed, rerun to regenerate). Each is wrong in one way."""
import os
import struct

cases = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bad', 'cases')


def ehdr(cls=2, shoff=64, shnum=2, shstrndx=0):
    ident = b'\x7fELF' + bytes([cls, 1, 1, 0]) + b'\0' * 8
    # type EXEC, machine x86-64, version, entry, phoff, shoff, flags, sizes, counts
    return ident + struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, 0, 0, shoff, 0, 64, 56, 0, 64, shnum, shstrndx)


def shdr(type_, offset, size, flags=0, link=0, entsize=0):
    return struct.pack('<IIQQQQIIQQ', 0, type_, flags, 0, offset, size, link, 0, 1, entsize)


def write(name, data):
    open(os.path.join(cases, name), 'wb').write(data)


# section headers said to be far past the end of a 200-byte file
write('size-truncated.elf', ehdr(shoff=0x10000, shnum=30) + b'\0' * 136)
# a 32-bit header
write('size-32bit.elf', b'\x7fELF' + bytes([1, 1, 1, 0]) + b'\0' * 44)
# only the identification bytes
write('size-short.elf', b'\x7fELF' + bytes([2, 1, 1, 0]) + b'\0' * 8)
# a section whose bytes would run past the end of the file
write('size-section-past-end.elf', ehdr(shoff=64, shnum=2) + shdr(0, 0, 0) + shdr(1, 100, 1 << 40, flags=2))
# a symbol table whose string table is out of the file
write('size-bad-strtab.elf', ehdr(shoff=64, shnum=3) + shdr(0, 0, 0) + shdr(2, 0, 48, link=2, entsize=24)
      + shdr(3, 1 << 32, 16))

"""Resident RPC dispatcher: runs ON the board (MicroPython 1.9.2 subset).

hil.protocol sends this file, minified, through the raw REPL once per boot; its names
land in the REPL's globals. Every request is then one raw-REPL line

    _d(seq, 'module.func', 'args_repr', checksum)

where checksum is the Fletcher-16 of the text '%d %s %s' % (seq, func, args_repr), and
the reply is one printed line

    seq status payload checksum

with status O (payload = repr of the result), E (payload = repr of repr(exception)) or
C (request checksum wrong; payload 0; nothing ran). The reply checksum is the
Fletcher-16 of the line up to the space before it. A repeated seq (the host retrying
after a lost reply) gets the cached reply again without running anything twice.

'module.func' imports module lazily (a flat file on the board, or a built-in such as
gc); a name without a dot is looked up in these globals (the helpers below, builtins).
Functions called this way must not print: stdout carries the reply.

The file has two parts: the dispatcher, installed at every boot, and the upload helpers
after the ON-DEMAND marker, installed only while files are written.

Keep this file small: the micro:bit has ~9.5 KB of heap for all of it and the chip.

On a board with files the host also stores the first part as nt_rpc.py and, after a
soft reset, installs it with `from nt_rpc import _d, _f` (setting nt_rpc._G to the
REPL's globals, where the on-demand part lands): that costs ~0.7 KB of heap instead
of the ~2 KB that compiling the same text sent through the REPL needs at its peak.
"""
import gc

_L = [0, '']  # last seq and its reply line
_G = None  # imported as nt_rpc: the REPL's globals, for names without a dot


def _f(s, c=0):
    # Fletcher-16 of the UTF-8 bytes of s, continuing from c = b << 8 | a.
    a = c & 255
    b = c >> 8
    for x in bytes(s, 'utf-8'):
        a = (a + x) % 255
        b = (b + a) % 255
    return b << 8 | a


def _d(q, n, a, k):
    if _f('%d %s %s' % (q, n, a)) != k:
        r = '%d C 0' % q
        print(r, _f(r))
    else:
        if q != _L[0]:
            try:
                # looked up on every call, not cached: a cached function would keep
                # the code of a module the firmware drops (nt_new.done) alive
                i = n.rfind('.')
                f = getattr(__import__(n[:i]), n[i + 1:]) if i > 0 else eval(n, _G or globals())
                r = 'O ' + repr(f(*eval(a)))
            except Exception as e:
                r = 'E ' + repr(repr(e))
            r = '%d %s' % (q, r)
            _L[0] = q
            _L[1] = '%s %d' % (r, _f(r))
        print(_L[1])
    gc.collect()


# ON-DEMAND: the host installs what follows only while it uploads files, then
# soft-resets (the lines above cost ~1.1 KB of heap on the micro:bit; these ~1.4 KB more).
_F = [None]  # file open for upload


def _o(p):
    # Start an upload: one open(p, 'w') session (1.9.2 has no append mode).
    _F[0] = open(p, 'w')


def _w(s):
    return _F[0].write(s)


def _c(p):
    # End an upload; return (bytes, Fletcher-16) of the file as written.
    _F[0].close()
    _F[0] = None
    n = c = 0
    f = open(p)
    while 1:
        s = f.read(64)
        if not s:
            break
        n += len(bytes(s, 'utf-8'))
        c = _f(s, c)
    f.close()
    return n, c


def _r(p):
    # Contents of a small text file, or None if it is missing.
    try:
        f = open(p)
    except OSError:
        return None
    s = f.read()
    f.close()
    return s

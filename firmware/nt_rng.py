# SPEC section 12: the shared counter-based generator (murmur3 fmix32).
# The 32-bit constants are big ints on a board (no const()): slower but exact.
_RNG_GOLDEN = 0x9E3779B9
_RNG_MUL1 = 0x85EBCA6B
_RNG_MUL2 = 0xC2B2AE35
_M32 = 0xFFFFFFFF


def draw(seed, stream, a, b):
    """Unsigned 32-bit draw at the coordinates (stream, a, b) for the chip seed:
    mix32(mix32(mix32(seed + stream * golden) ^ a) ^ b), with mix32 the fmix32
    finaliser written out in the loop (one call level less: the micro:bit's C stack
    runs out in nt_noise.init otherwise)."""
    h = (seed + stream * _RNG_GOLDEN) & _M32
    for x in (a & _M32, b & _M32, 0):
        h ^= h >> 16
        h = (h * _RNG_MUL1) & _M32
        h ^= h >> 13
        h = (h * _RNG_MUL2) & _M32
        h = h ^ (h >> 16) ^ x
    return h


def sym(seed, stream, a, b, amp):
    """A draw mapped to -amp..amp (SPEC section 8)."""
    return draw(seed, stream, a, b) % (2 * amp + 1) - amp

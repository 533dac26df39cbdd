/* SM2 signature verification (GB/T 32918.2, section 7) on the recommended curve.
 *
 * Why native: verification is the node's hottest crypto path and the bindings on the
 * registries verify 20-3,900 signatures a second per core. Verification handles no secret,
 * so this code may branch on its inputs; signing stays in a constant-time library.
 *
 * Theory of operation
 * - Field: 4 x 64-bit limbs, little-endian, Montgomery form with R = 2^256. For the SM2
 *   prime p = 2^256 - 2^224 - 2^96 + 2^64 - 1, -p^-1 mod 2^64 = 1, so each reduction row
 *   takes the low limb itself as its multiplier, and m p needs shifts, not products. Every
 *   field value is kept fully reduced (in [0, p)), so equality is limb equality. The
 *   product and square are x86-64 assembly with MULX/ADCX/ADOX where the processor has
 *   them (checked at import), portable C otherwise; `arithmetic()` says which.
 * - Points: Jacobian (X, Y, Z) with Z = 0 for the point at infinity; a = -3 doubling;
 *   additions of a point with Z = 1 are mixed (madd-2007-bl).
 * - s*G + t*Q in one shared doubling chain (Shamir/Straus interleaving): s in width-11
 *   wNAF over a table of 512 affine odd multiples of G (32 KiB, made once at import), t in
 *   width-5 wNAF over the 8 odd multiples Q, 3Q, ..., 15Q made per signature with co-Z
 *   additions. In verify_many these are made affine for a group of 64 signatures with
 *   one inversion (Montgomery's trick), so that every addition in the chain is mixed;
 *   verify (one signature) keeps them Jacobian, as an inversion would cost more than it
 *   saves.
 * - The final check avoids an inversion: x1 = X/Z^2 must be congruent to r - e modulo n,
 *   and as x1 < p < 2n it is (r - e) mod n or that plus n; each candidate c is checked as
 *   X == c * Z^2 (mod p).
 * - All of it is variable time (it branches on the inputs and indexes tables by them),
 *   which is sound because verification handles no secret.
 *
 * Interface: verify(public65, e32, rs64) -> bool and verify_many(publics, digests,
 * signatures) -> bytes (one 0/1 byte per item; the three buffers hold 65-, 32- and
 * 64-byte records), and arithmetic() -> str (the field arithmetic in use). Wrong sizes
 * raise ValueError, non-buffers TypeError; well-formed but invalid inputs (a point off the
 * curve, r or s out of [1, n-1], r + s = n) verify false.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef unsigned long long limb; /* the type the carry intrinsics take */
typedef limb fe[4];

typedef struct { fe x, y, z; } jpoint; /* Jacobian; z == 0 is the point at infinity */
typedef struct { fe x, y; } apoint;    /* affine, never infinity */

static const fe P = {0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFF00000000ULL,
                     0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL};
static const limb N[4] = {0x53BBF40939D54123ULL, 0x7203DF6B21C6052BULL,
                              0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL};
/* R^2 mod p, to enter the Montgomery domain. */
static const fe R2 = {0x0000000200000003ULL, 0x00000002FFFFFFFFULL,
                      0x0000000100000001ULL, 0x0000000400000002ULL};
static const limb B_STD[4] = {0xDDBCBD414D940E93ULL, 0xF39789F515AB8F92ULL,
                                  0x4D5A9E4BCF6509A7ULL, 0x28E9FA9E9D9F5E34ULL};
static const limb GX_STD[4] = {0x715A4589334C74C7ULL, 0x8FE30BBFF2660BE1ULL,
                                   0x5F9904466A39C994ULL, 0x32C4AE2C1F198119ULL};
static const limb GY_STD[4] = {0x02DF32E52139F0A0ULL, 0xD0A9877CC62A4740ULL,
                                   0x59BDCEE36B692153ULL, 0xBC3736A2F4F6779CULL};

#define G_WINDOW 11
#define G_TABLE (1 << (G_WINDOW - 2))
#define P_WINDOW 5
#define P_TABLE (1 << (P_WINDOW - 2))
_Static_assert(G_WINDOW <= 15 && P_WINDOW <= 15, "wNAF digits are int16_t");

static fe FE_ONE, FE_B;         /* Montgomery 1 and b */
static apoint G_ODD[G_TABLE];   /* G, 3G, 5G, ..., (2*G_TABLE - 1)G */

/* ---- 256-bit integers ------------------------------------------------------------- */

static void load_be(limb r[4], const unsigned char *b) {
    for (int i = 0; i < 4; i++) {
        limb v = 0;
        for (int j = 0; j < 8; j++) v = (v << 8) | b[(3 - i) * 8 + j];
        r[i] = v;
    }
}

static int is_zero(const limb a[4]) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

static int lt(const limb a[4], const limb b[4]) { /* a < b */
    for (int i = 3; i >= 0; i--) {
        if (a[i] != b[i]) return a[i] < b[i];
    }
    return 0;
}

static limb add4(limb r[4], const limb a[4], const limb b[4]) {
    u128 t = 0;
    for (int i = 0; i < 4; i++) {
        t += (u128)a[i] + b[i];
        r[i] = (limb)t;
        t >>= 64;
    }
    return (limb)t;
}

static limb sub4(limb r[4], const limb a[4], const limb b[4]) {
    limb borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 t = (u128)a[i] - b[i] - borrow;
        r[i] = (limb)t;
        borrow = (limb)(t >> 64) & 1;
    }
    return borrow;
}

/* ---- the field modulo p ------------------------------------------------------------ */

#if defined(__x86_64__)
#include <x86intrin.h>
#define ADC(c, a, b, out) ((c) = _addcarry_u64((c), (a), (b), &(out)))
#define SBB(c, a, b, out) ((c) = _subborrow_u64((c), (a), (b), &(out)))
#else
static inline unsigned char adc_(unsigned char c, limb a, limb b, limb *out) {
    u128 t = (u128)a + b + c;
    *out = (limb)t;
    return (unsigned char)(t >> 64);
}
static inline unsigned char sbb_(unsigned char c, limb a, limb b, limb *out) {
    u128 t = (u128)a - b - c;
    *out = (limb)t;
    return (unsigned char)((t >> 64) & 1);
}
#define ADC(c, a, b, out) ((c) = adc_((c), (a), (b), &(out)))
#define SBB(c, a, b, out) ((c) = sbb_((c), (a), (b), &(out)))
#endif

/* r = x if keep_x else y, without a branch (the choice is unpredictable). */
static inline void select4(fe r, limb keep_x, const limb x[4], const limb y[4]) {
    limb mask = (limb)0 - keep_x;
    for (int i = 0; i < 4; i++) r[i] = (x[i] & mask) | (y[i] & ~mask);
}

/* K = 2^256 - p = 2^224 + 2^96 - 2^64 + 1: adding it modulo 2^256 subtracts p. */
#define K0 1ULL
#define K1 0xFFFFFFFFULL
#define K3 0x100000000ULL

/* r = s - p when s >= p, for s < 2^256: needs s[3] >= P[3], which a value the arithmetic
 * produces has with probability about 2^-32, so the branch is all but never taken. */
static inline void fe_canon(fe r) {
    if (__builtin_expect(r[3] >= P[3], 0) && !lt(r, P)) sub4(r, r, P);
}

static inline void fe_add(fe r, const fe a, const fe b) {
    limb s[4], m;
    unsigned char c = 0;
    ADC(c, a[0], b[0], s[0]); ADC(c, a[1], b[1], s[1]);
    ADC(c, a[2], b[2], s[2]); ADC(c, a[3], b[3], s[3]);
    /* a carry out means a + b = 2^256 + s >= p: a + b - p = s + K, and below p */
    m = (limb)0 - c;
    c = 0;
    ADC(c, s[0], m & K0, r[0]); ADC(c, s[1], m & K1, r[1]);
    ADC(c, s[2], 0, r[2]);      ADC(c, s[3], m & K3, r[3]);
    fe_canon(r);
}

static inline void fe_sub(fe r, const fe a, const fe b) {
    limb d[4];
    unsigned char c = 0, br = 0;
    SBB(br, a[0], b[0], d[0]); SBB(br, a[1], b[1], d[1]);
    SBB(br, a[2], b[2], d[2]); SBB(br, a[3], b[3], d[3]);
    limb mask = (limb)0 - br;
    ADC(c, d[0], P[0] & mask, r[0]); ADC(c, d[1], P[1] & mask, r[1]);
    ADC(c, d[2], P[2] & mask, r[2]); ADC(c, d[3], P[3] & mask, r[3]);
}

/* r = s + top 2^256 mod p for top <= 7: 2^256 = K mod p. */
static inline void fe_fold(fe r, const limb s[4], limb top) {
    unsigned char c = 0;
    ADC(c, s[0], top * K0, r[0]);
    ADC(c, s[1], top * K1, r[1]);
    ADC(c, s[2], 0, r[2]);
    ADC(c, s[3], top * K3, r[3]);
    /* a carry out (s at least 2^256 - 7K, rare) is 2^256 = K once more */
    if (__builtin_expect(c, 0)) {
        c = 0;
        ADC(c, r[0], K0, r[0]); ADC(c, r[1], K1, r[1]);
        ADC(c, r[2], 0, r[2]);  ADC(c, r[3], K3, r[3]);
    }
    fe_canon(r);
}

/* r = a 2^k mod p for k in 1..3. */
static inline void fe_lsh(fe r, const fe a, int k) {
    limb s[4];
    s[3] = (a[3] << k) | (a[2] >> (64 - k));
    s[2] = (a[2] << k) | (a[1] >> (64 - k));
    s[1] = (a[1] << k) | (a[0] >> (64 - k));
    s[0] = a[0] << k;
    fe_fold(r, s, a[3] >> (64 - k));
}

/* r = 3a mod p: a + 2a in one pass. */
static inline void fe_mul3(fe r, const fe a) {
    limb s[4];
    unsigned char c = 0;
    ADC(c, a[0], a[0] << 1, s[0]);
    ADC(c, a[1], (a[1] << 1) | (a[0] >> 63), s[1]);
    ADC(c, a[2], (a[2] << 1) | (a[1] >> 63), s[2]);
    ADC(c, a[3], (a[3] << 1) | (a[2] >> 63), s[3]);
    fe_fold(r, s, (a[3] >> 63) + c);
}

static void fe_neg(fe r, const fe a) {
    if (is_zero(a)) { memset(r, 0, sizeof(fe)); return; }
    sub4(r, P, a);
}

/* t[i..i+4] += a_i * b, the row of the schoolbook product (t[i+4] starts at zero). */
#define MUL_ROW(i, ai)                                                                  \
    do {                                                                                \
        u128 p0 = (u128)(ai) * b[0], p1 = (u128)(ai) * b[1];                            \
        u128 p2 = (u128)(ai) * b[2], p3 = (u128)(ai) * b[3];                            \
        limb x1, x2, x3, x4;                                                            \
        unsigned char c = 0;                                                            \
        ADC(c, (limb)p1, (limb)(p0 >> 64), x1);                                         \
        ADC(c, (limb)p2, (limb)(p1 >> 64), x2);                                         \
        ADC(c, (limb)p3, (limb)(p2 >> 64), x3);                                         \
        ADC(c, (limb)(p3 >> 64), 0, x4);                                                \
        c = 0;                                                                          \
        ADC(c, t[i], (limb)p0, t[i]);                                                   \
        ADC(c, t[i + 1], x1, t[i + 1]);                                                 \
        ADC(c, t[i + 2], x2, t[i + 2]);                                                 \
        ADC(c, t[i + 3], x3, t[i + 3]);                                                 \
        ADC(c, 0, x4, t[i + 4]);                                                        \
    } while (0)

/* One row of Montgomery reduction. With m = t[i], (t + m p) / 2^64 adds m q at limb i+1,
 * where q = (p + 1) / 2^64 = 2^192 - 2^160 - 2^32 + 1, so m q = [m, 0, 0, m] -
 * [m<<32, m>>32, m<<32, m>>32]: shifts, no multiplication. `pending` is the carry out of
 * the previous row's top limb, which belongs in this row's top limb. */
#define REDUCE_ROW(i)                                                                   \
    do {                                                                                \
        limb m = t[i], lo = m << 32, hi = m >> 32, q0, q1, q2, q3;                      \
        unsigned char b_ = 0, c = 0;                                                    \
        SBB(b_, m, lo, q0);                                                             \
        SBB(b_, 0, hi, q1);                                                             \
        SBB(b_, 0, lo, q2);                                                             \
        SBB(b_, m, hi, q3);                                                             \
        q3 += pending;                                                                  \
        ADC(c, t[i + 1], q0, t[i + 1]);                                                 \
        ADC(c, t[i + 2], q1, t[i + 2]);                                                 \
        ADC(c, t[i + 3], q2, t[i + 3]);                                                 \
        ADC(c, t[i + 4], q3, t[i + 4]);                                                 \
        pending = c;                                                                    \
    } while (0)

/* r = t / 2^256 mod p for a 512-bit t below p 2^256, fully reduced. */
static inline __attribute__((always_inline)) void fe_reduce(fe r, limb t[8]) {
    limb pending = 0, d[4];
    unsigned char br = 0;
    REDUCE_ROW(0);
    REDUCE_ROW(1);
    REDUCE_ROW(2);
    REDUCE_ROW(3);
    SBB(br, t[4], P[0], d[0]); SBB(br, t[5], P[1], d[1]);
    SBB(br, t[6], P[2], d[2]); SBB(br, t[7], P[3], d[3]);
    select4(r, (limb)(pending | !br), d, t + 4);
}

/* Montgomery product a b / 2^256 mod p, fully reduced (portable C). */
static inline __attribute__((always_inline)) void fe_mul_c(fe r, const fe a, const fe b) {
    limb t[8] = {0};
    MUL_ROW(0, a[0]);
    MUL_ROW(1, a[1]);
    MUL_ROW(2, a[2]);
    MUL_ROW(3, a[3]);
    fe_reduce(r, t);
}

/* a^2 / 2^256 mod p: the six cross products once, doubled, plus the four squares. */
static inline __attribute__((always_inline)) void fe_sqr_c(fe r, const fe a) {
    limb t[8];
    unsigned char c = 0;
    u128 p01 = (u128)a[0] * a[1], p02 = (u128)a[0] * a[2], p03 = (u128)a[0] * a[3];
    u128 p12 = (u128)a[1] * a[2], p13 = (u128)a[1] * a[3], p23 = (u128)a[2] * a[3];
    limb c1, c2, c3, c4, c5, c6, c7 = 0;
    /* cross sum: p01 + p02 2^64 + (p03 + p12) 2^128 + p13 2^192 + p23 2^256 (in 2^64 units) */
    c1 = (limb)p01;
    ADC(c, (limb)(p01 >> 64), (limb)p02, c2);
    ADC(c, (limb)(p02 >> 64), (limb)p03, c3);
    ADC(c, (limb)(p03 >> 64), (limb)p13, c4);
    ADC(c, (limb)(p13 >> 64), (limb)p23, c5);
    ADC(c, (limb)(p23 >> 64), 0, c6);
    c = 0;
    ADC(c, c3, (limb)p12, c3);
    ADC(c, c4, (limb)(p12 >> 64), c4);
    ADC(c, c5, 0, c5);
    ADC(c, c6, 0, c6);
    c7 = c6 >> 63;                                /* double the cross sum */
    c6 = (c6 << 1) | (c5 >> 63);
    c5 = (c5 << 1) | (c4 >> 63);
    c4 = (c4 << 1) | (c3 >> 63);
    c3 = (c3 << 1) | (c2 >> 63);
    c2 = (c2 << 1) | (c1 >> 63);
    c1 <<= 1;
    u128 s0 = (u128)a[0] * a[0], s1 = (u128)a[1] * a[1];
    u128 s2 = (u128)a[2] * a[2], s3 = (u128)a[3] * a[3];
    c = 0;
    t[0] = (limb)s0;
    ADC(c, c1, (limb)(s0 >> 64), t[1]);
    ADC(c, c2, (limb)s1, t[2]);
    ADC(c, c3, (limb)(s1 >> 64), t[3]);
    ADC(c, c4, (limb)s2, t[4]);
    ADC(c, c5, (limb)(s2 >> 64), t[5]);
    ADC(c, c6, (limb)s3, t[6]);
    ADC(c, c7, (limb)(s3 >> 64), t[7]);
    fe_reduce(r, t);
}


#if defined(__x86_64__) && defined(__GNUC__)
/* The portable C out of line where the assembly is the likely choice. */
static __attribute__((noinline)) void fe_mul_portable(fe r, const fe a, const fe b) {
    fe_mul_c(r, a, b);
}

static __attribute__((noinline)) void fe_sqr_portable(fe r, const fe a) { fe_sqr_c(r, a); }

/* The x86-64 product with MULX and the two carry chains of ADCX/ADOX (BMI2 and ADX: Intel
 * since Broadwell, AMD since Zen; checked at import, see `use_adx`), kept short in latency
 * because the point formulas wait on it: the full 512-bit product t, then the four rows of
 * Montgomery reduction of fe_reduce with shifts in place of multiplications (m = t_i adds
 * m (p + 1) / 2^64 = [m, 0, 0, m] - [m << 32, m >> 32, m << 32, m >> 32] at limb i + 1), a
 * row's carry out held as 0 or -1 in `c` and added to the next row's top limb, and one
 * conditional subtraction of p at the end. */
static int use_adx;

/* t[i..i+4] += a b_i for i >= 1: t[i+4] is new, and zeroing it clears CF and OF. */
#define PRODUCT_ROW(bi, ti, ti1, ti2, ti3, ti4)                                         \
    "movq " bi "(%[b]), %%rdx\n\t"                                                         \
    "xorl %k[" ti4 "], %k[" ti4 "]\n\t"                                                 \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"                                                     \
    "adcxq %[lo], %[" ti "]\n\t"                                                        \
    "adoxq %[hi], %[" ti1 "]\n\t"                                                       \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"                                                     \
    "adcxq %[lo], %[" ti1 "]\n\t"                                                       \
    "adoxq %[hi], %[" ti2 "]\n\t"                                                       \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t"                                                     \
    "adcxq %[lo], %[" ti2 "]\n\t"                                                       \
    "adoxq %[hi], %[" ti3 "]\n\t"                                                       \
    "mulxq 24(%[a]), %[lo], %[hi]\n\t"                                                     \
    "adcxq %[lo], %[" ti3 "]\n\t"                                                       \
    "adoxq %[hi], %[" ti4 "]\n\t"                                                       \
    "adcq $0, %[" ti4 "]\n\t"

/* One reduction row with m = t_i: q = [m - l, -h, -l, m - h] with l = m << 32, h = m >> 32
 * and the borrows between, built in t_i, c, hi and rdx, plus the previous row's carry out,
 * which that row left as 0 or -1 in its own t (`carry`); this row leaves its carry in t_i. */
#define REDUCE_ROW_ASM(carry, ti, ti1, ti2, ti3, ti4)                                   \
    "movq %[" ti "], %%rdx\n\t"                                                         \
    "movq %[" ti "], %[lo]\n\t"                                                         \
    "shlq $32, %[lo]\n\t"                                                               \
    "movq %[" ti "], %[hi]\n\t"                                                         \
    "shrq $32, %[hi]\n\t"                                                               \
    "subq %[hi], %%rdx\n\t"                                                             \
    "movl $0, %k[c]\n\t"                                                                \
    "subq %[lo], %[" ti "]\n\t"                                                         \
    "sbbq %[hi], %[c]\n\t"                                                              \
    "movl $0, %k[hi]\n\t"                                                               \
    "sbbq %[lo], %[hi]\n\t"                                                             \
    "sbbq $0, %%rdx\n\t"                                                                \
    carry                                                                               \
    "addq %[" ti "], %[" ti1 "]\n\t"                                                    \
    "adcq %[c], %[" ti2 "]\n\t"                                                         \
    "adcq %[hi], %[" ti3 "]\n\t"                                                        \
    "adcq %%rdx, %[" ti4 "]\n\t"                                                        \
    "sbbq %[" ti "], %[" ti "]\n\t"

/* The four reduction rows on t7..t0 and the final subtraction; the result is t7..t4. */
#define MONT_REDUCE_ASM \
        REDUCE_ROW_ASM("", "t0", "t1", "t2", "t3", "t4") \
        REDUCE_ROW_ASM("subq %[t0], %%rdx\n\t", "t1", "t2", "t3", "t4", "t5") \
        REDUCE_ROW_ASM("subq %[t1], %%rdx\n\t", "t2", "t3", "t4", "t5", "t6") \
        REDUCE_ROW_ASM("subq %[t2], %%rdx\n\t", "t3", "t4", "t5", "t6", "t7") \
        /* the value is t7..t4 plus -t3 2^256, below 2p: subtract p unless that borrows */ \
        "movq %[t4], %[t0]\n\t" \
        "movq %[t5], %[t1]\n\t" \
        "movq %[t6], %[t2]\n\t" \
        "movq %[t7], %[lo]\n\t" \
        "subq $-1, %[t0]\n\t" \
        "sbbq %[p1], %[t1]\n\t" \
        "sbbq $-1, %[t2]\n\t" \
        "sbbq %[p3], %[lo]\n\t" \
        "sbbq $0, %[t3]\n\t" \
        "cmovncq %[t0], %[t4]\n\t" \
        "cmovncq %[t1], %[t5]\n\t" \
        "cmovncq %[t2], %[t6]\n\t" \
        "cmovncq %[lo], %[t7]\n\t"

#define MONT_OUTPUTS                                                                    \
    [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4),     \
    [t5] "=&r"(t5), [t6] "=&r"(t6), [t7] "=&r"(t7), [lo] "=&r"(lo), [hi] "=&r"(hi),     \
    [c] "=&r"(c)
#define MONT_CONSTANTS [p1] "m"(P[1]), [p3] "m"(P[3])

static inline __attribute__((always_inline)) void fe_mul_adx(fe r, const fe a, const fe b) {
    limb t0, t1, t2, t3, t4, t5, t6, t7, lo, hi, c;
    __asm__(
        "movq 0(%[b]), %%rdx\n\t"
        "mulxq 0(%[a]), %[t0], %[t1]\n\t"
        "mulxq 8(%[a]), %[lo], %[t2]\n\t"
        "addq %[lo], %[t1]\n\t"
        "mulxq 16(%[a]), %[lo], %[t3]\n\t"
        "adcq %[lo], %[t2]\n\t"
        "mulxq 24(%[a]), %[lo], %[t4]\n\t"
        "adcq %[lo], %[t3]\n\t"
        "adcq $0, %[t4]\n\t"
        PRODUCT_ROW("8", "t1", "t2", "t3", "t4", "t5")
        PRODUCT_ROW("16", "t2", "t3", "t4", "t5", "t6")
        PRODUCT_ROW("24", "t3", "t4", "t5", "t6", "t7")
        MONT_REDUCE_ASM
        : MONT_OUTPUTS
        : [a] "r"(a), [b] "r"(b), MONT_CONSTANTS
        : "rdx", "cc", "memory");
    r[0] = t4;
    r[1] = t5;
    r[2] = t6;
    r[3] = t7;
}

/* a^2 / 2^256 mod p: the six cross products once, doubled in the CF chain while the OF
 * chain adds the four squares, then the same reduction. */
static inline __attribute__((always_inline)) void fe_sqr_adx(fe r, const fe a) {
    limb t0, t1, t2, t3, t4, t5, t6, t7, lo, hi, c;
    __asm__(
        "movq 0(%[a]), %%rdx\n\t"          /* a0 (a1, a2, a3) at limbs 1..4 */
        "mulxq 8(%[a]), %[t1], %[t2]\n\t"
        "mulxq 16(%[a]), %[lo], %[t3]\n\t"
        "addq %[lo], %[t2]\n\t"
        "mulxq 24(%[a]), %[hi], %[t4]\n\t"
        "adcq %[hi], %[t3]\n\t"
        "adcq $0, %[t4]\n\t"
        "movq 8(%[a]), %%rdx\n\t"          /* a1 (a2, a3) at limbs 3..5 */
        "mulxq 16(%[a]), %[lo], %[hi]\n\t"
        "mulxq 24(%[a]), %[t6], %[t5]\n\t"
        "addq %[lo], %[t3]\n\t"
        "adcq %[hi], %[t4]\n\t"
        "adcq $0, %[t5]\n\t"
        "addq %[t6], %[t4]\n\t"
        "adcq $0, %[t5]\n\t"
        "movq 16(%[a]), %%rdx\n\t"         /* a2 a3 at limbs 5..6 */
        "mulxq 24(%[a]), %[lo], %[t6]\n\t"
        "addq %[lo], %[t5]\n\t"
        "adcq $0, %[t6]\n\t"
        "xorl %k[t7], %k[t7]\n\t"           /* double (CF) and add the squares (OF) */
        "movq 0(%[a]), %%rdx\n\t"
        "mulxq %%rdx, %[t0], %[hi]\n\t"
        "adcxq %[t1], %[t1]\n\t"
        "adoxq %[hi], %[t1]\n\t"
        "movq 8(%[a]), %%rdx\n\t"
        "mulxq %%rdx, %[lo], %[hi]\n\t"
        "adcxq %[t2], %[t2]\n\t"
        "adoxq %[lo], %[t2]\n\t"
        "adcxq %[t3], %[t3]\n\t"
        "adoxq %[hi], %[t3]\n\t"
        "movq 16(%[a]), %%rdx\n\t"
        "mulxq %%rdx, %[lo], %[hi]\n\t"
        "adcxq %[t4], %[t4]\n\t"
        "adoxq %[lo], %[t4]\n\t"
        "adcxq %[t5], %[t5]\n\t"
        "adoxq %[hi], %[t5]\n\t"
        "movq 24(%[a]), %%rdx\n\t"
        "mulxq %%rdx, %[lo], %[hi]\n\t"
        "adcxq %[t6], %[t6]\n\t"
        "adoxq %[lo], %[t6]\n\t"
        "adcxq %[t7], %[t7]\n\t"
        "adoxq %[hi], %[t7]\n\t"
        MONT_REDUCE_ASM
        : MONT_OUTPUTS
        : [a] "r"(a), MONT_CONSTANTS
        : "rdx", "cc", "memory");
    r[0] = t4;
    r[1] = t5;
    r[2] = t6;
    r[3] = t7;
}
#undef PRODUCT_ROW
#undef REDUCE_ROW_ASM
#undef MONT_REDUCE_ASM
#undef MONT_OUTPUTS
#undef MONT_CONSTANTS

static inline __attribute__((always_inline)) void fe_mul(fe r, const fe a, const fe b) {
    if (__builtin_expect(use_adx, 1)) fe_mul_adx(r, a, b);
    else fe_mul_portable(r, a, b);
}

static inline __attribute__((always_inline)) void fe_sqr(fe r, const fe a) {
    if (__builtin_expect(use_adx, 1)) fe_sqr_adx(r, a);
    else fe_sqr_portable(r, a);
}

/* The assembly where the processor has BMI2 and ADX, unless XINLIAN_SM2_PORTABLE is set
 * (non-empty), which the tests use to check the portable arithmetic on any machine. */
static void select_field(void) {
    const char *portable = getenv("XINLIAN_SM2_PORTABLE");
    __builtin_cpu_init();
    use_adx = __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("adx")
        && (portable == NULL || portable[0] == '\0');
}

static const char *arithmetic_name(void) {
    return use_adx ? "x86-64 mulx/adx" : "portable C";
}
#else
static inline void fe_mul(fe r, const fe a, const fe b) { fe_mul_c(r, a, b); }
static inline void fe_sqr(fe r, const fe a) { fe_sqr_c(r, a); }
static void select_field(void) {}
static const char *arithmetic_name(void) { return "portable C"; }
#endif

static void fe_to_mont(fe r, const limb a[4]) { fe_mul(r, a, R2); }

static void fe_inv(fe r, const fe a) { /* a^(p-2): at import and once per group */
    static const limb e[4] = {0xFFFFFFFFFFFFFFFDULL, 0xFFFFFFFF00000000ULL,
                                  0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL};
    fe acc;
    memcpy(acc, FE_ONE, sizeof acc);
    for (int i = 255; i >= 0; i--) {
        fe_sqr(acc, acc);
        if ((e[i / 64] >> (i % 64)) & 1) fe_mul(acc, acc, a);
    }
    memcpy(r, acc, sizeof acc);
}

/* ---- points ------------------------------------------------------------------------ */

static int fe_eq(const fe a, const fe b) { return memcmp(a, b, sizeof(fe)) == 0; }

static void pt_double(jpoint *r, const jpoint *p) { /* dbl-2001-b, a = -3 */
    fe delta, gamma, beta, alpha, t1, t2;
    if (is_zero(p->z)) { *r = *p; return; }
    fe_sqr(delta, p->z);
    fe_sqr(gamma, p->y);
    fe_mul(beta, p->x, gamma);
    fe_sub(t1, p->x, delta);
    fe_add(t2, p->x, delta);
    fe_mul(alpha, t1, t2);
    fe_mul3(alpha, alpha);                /* alpha = 3 (X - delta) (X + delta) */
    fe_mul(t1, p->y, p->z);
    fe_add(r->z, t1, t1);
    fe_lsh(beta, beta, 2);                /* 4 beta */
    fe_sqr(t1, alpha);                    /* X3 = alpha^2 - 8 beta */
    fe_add(t2, beta, beta);
    fe_sub(r->x, t1, t2);
    fe_sub(t1, beta, r->x);               /* Y3 = alpha (4 beta - X3) - 8 gamma^2 */
    fe_mul(t1, alpha, t1);
    fe_sqr(gamma, gamma);
    fe_lsh(gamma, gamma, 3);
    fe_sub(r->y, t1, gamma);
}

/* The common tail of both additions: from H, r = 2 (S2 - S1), U1, S1 and Z3. */
static void pt_add_tail(jpoint *out, const fe h, const fe rr, const fe u1, const fe s1,
                        const fe z3) {
    fe i, j, v, t;
    fe_add(t, h, h);
    fe_sqr(i, t);                         /* I = (2H)^2 */
    fe_mul(j, h, i);                      /* J = H I */
    fe_mul(v, u1, i);                     /* V = U1 I */
    fe_sqr(t, rr);                        /* X3 = r^2 - J - 2V */
    fe_sub(t, t, j);
    fe_sub(t, t, v);
    fe_sub(out->x, t, v);
    fe_sub(t, v, out->x);                 /* Y3 = r (V - X3) - 2 S1 J */
    fe_mul(t, rr, t);
    fe_mul(j, s1, j);
    fe_add(j, j, j);
    fe_sub(out->y, t, j);
    memcpy(out->z, z3, sizeof(fe));
}

static void pt_add(jpoint *r, const jpoint *a, const jpoint *b) { /* add-2007-bl */
    fe z1z1, z2z2, u1, u2, s1, s2, h, rr, z3;
    if (is_zero(a->z)) { *r = *b; return; }
    if (is_zero(b->z)) { *r = *a; return; }
    fe_sqr(z1z1, a->z);
    fe_sqr(z2z2, b->z);
    fe_mul(u1, a->x, z2z2);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s1, a->y, b->z);
    fe_mul(s1, s1, z2z2);
    fe_mul(s2, b->y, a->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, u1);
    fe_sub(rr, s2, s1);
    if (is_zero(h)) {
        if (is_zero(rr)) { pt_double(r, a); return; }
        memset(r, 0, sizeof *r);
        return;
    }
    fe_add(rr, rr, rr);
    fe_add(z3, a->z, b->z);               /* Z3 = ((Z1 + Z2)^2 - Z1Z1 - Z2Z2) H */
    fe_sqr(z3, z3);
    fe_sub(z3, z3, z1z1);
    fe_sub(z3, z3, z2z2);
    fe_mul(z3, z3, h);
    pt_add_tail(r, h, rr, u1, s1, z3);
}

static void pt_add_affine(jpoint *r, const jpoint *a, const apoint *b) { /* madd-2007-bl */
    fe z1z1, u2, s2, h, rr, z3;
    if (is_zero(a->z)) {
        memcpy(r->x, b->x, sizeof(fe));
        memcpy(r->y, b->y, sizeof(fe));
        memcpy(r->z, FE_ONE, sizeof(fe));
        return;
    }
    fe_sqr(z1z1, a->z);
    fe_mul(u2, b->x, z1z1);
    fe_mul(s2, b->y, a->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, a->x);
    fe_sub(rr, s2, a->y);
    if (is_zero(h)) {
        if (is_zero(rr)) { pt_double(r, a); return; }
        memset(r, 0, sizeof *r);
        return;
    }
    fe_add(rr, rr, rr);
    fe_add(z3, a->z, h);                  /* Z3 = (Z1 + H)^2 - Z1Z1 - H^2 = 2 Z1 H */
    fe_mul(z3, z3, z3);
    fe_sub(z3, z3, z1z1);
    fe_sqr(u2, h);
    fe_sub(z3, z3, u2);
    jpoint a_copy = *a;                   /* r may alias a */
    pt_add_tail(r, h, rr, a_copy.x, a_copy.y, z3);
}

/* ---- scalars ------------------------------------------------------------------------ */

/* k >>= n for a five-limb k and 0 < n < 64. */
static inline void shr5(limb k[5], int n) {
    for (int i = 0; i < 4; i++) k[i] = (k[i] >> n) | (k[i + 1] << (64 - n));
    k[4] >>= n;
}

/* Width-w NAF of a 256-bit scalar: digits[i] odd in (-2^(w-1), 2^(w-1)) or 0; returns
 * the number of digits (at most 257). Runs of zeros are skipped a word or a count of
 * trailing zeros at a time. */
static int wnaf(int16_t digits[258], const limb k_in[4], int w) {
    limb k[5] = {k_in[0], k_in[1], k_in[2], k_in[3], 0};
    const int64_t window = (int64_t)1 << w, mask = window - 1;
    int pos = 0, len = 0;
    memset(digits, 0, 258 * sizeof digits[0]);
    while (k[0] | k[1] | k[2] | k[3] | k[4]) {
        if (k[0] == 0) {                               /* 64 zero digits */
            k[0] = k[1]; k[1] = k[2]; k[2] = k[3]; k[3] = k[4]; k[4] = 0;
            pos += 64;
            continue;
        }
        if (!(k[0] & 1)) {
            int z = __builtin_ctzll(k[0]);
            shr5(k, z);
            pos += z;
        }
        int64_t d = (int64_t)(k[0] & (limb)mask);
        if (d >= window / 2) d -= window;
        if (d > 0) {                                   /* k -= d: its low w bits become 0 */
            limb borrow = (limb)d;
            for (int i = 0; i < 5 && borrow; i++) {
                limb old = k[i];
                k[i] = old - borrow;
                borrow = old < borrow;
            }
        } else {
            limb carry = (limb)(-d);
            for (int i = 0; i < 5 && carry; i++) {
                k[i] += carry;
                carry = k[i] < carry;
            }
        }
        digits[pos] = (int16_t)d;
        len = pos + 1;
        shr5(k, w);
        pos += w;
    }
    return len;
}

/* ---- verification ------------------------------------------------------------------- */

static int decode_point(jpoint *out, const unsigned char *b) {
    limb x[4], y[4];
    fe lhs, rhs, t;
    if (b[0] != 0x04) return 0;
    load_be(x, b + 1);
    load_be(y, b + 33);
    if (!lt(x, P) || !lt(y, P)) return 0;
    fe_to_mont(out->x, x);
    fe_to_mont(out->y, y);
    memcpy(out->z, FE_ONE, sizeof(fe));
    fe_sqr(lhs, out->y);                  /* y^2 == x^3 - 3x + b */
    fe_sqr(rhs, out->x);
    fe_mul(rhs, rhs, out->x);
    fe_add(t, out->x, out->x);
    fe_add(t, t, out->x);
    fe_sub(rhs, rhs, t);
    fe_add(rhs, rhs, FE_B);
    return fe_eq(lhs, rhs);
}

/* X == c Z^2 (mod p) for the plain integer c < p? */
static int x_matches(const jpoint *q, const fe zz, const limb c[4]) {
    fe cm;
    fe_to_mont(cm, c);
    fe_mul(cm, cm, zz);
    return fe_eq(cm, q->x);
}

/* Signature and key checks, and t = (r + s) mod n: 0 when the signature cannot verify. */
static int parse(const unsigned char *pub, const unsigned char *sig, limb r[4], limb s[4],
                 limb t[4], jpoint *q) {
    load_be(r, sig);
    load_be(s, sig + 32);
    if (is_zero(r) || !lt(r, N) || is_zero(s) || !lt(s, N)) return 0;
    if (add4(t, r, s) || !lt(t, N)) sub4(t, t, N);
    if (is_zero(t)) return 0;
    return decode_point(q, pub);
}

/* sum = a + b for points that share their Z (a != +-b), and a moved to sum's Z (Meloni's
 * co-Z addition, ZADDU: 5M + 2S, where a general addition costs 11M + 5S). */
static void pt_add_coz(jpoint *sum, jpoint *a, const jpoint *b) {
    fe c, w1, w2, d, a1, u, t;
    fe_sub(t, a->x, b->x);
    fe_mul(sum->z, a->z, t);              /* Z3 = Z (X1 - X2) */
    fe_sqr(c, t);
    fe_mul(w1, a->x, c);                  /* W1 = X1 C, W2 = X2 C, C = (X1 - X2)^2 */
    fe_mul(w2, b->x, c);
    fe_sub(u, a->y, b->y);
    fe_sqr(d, u);                         /* D = (Y1 - Y2)^2 */
    fe_sub(t, w1, w2);
    fe_mul(a1, a->y, t);                  /* A1 = Y1 (W1 - W2) */
    fe_sub(t, d, w1);
    fe_sub(sum->x, t, w2);                /* X3 = D - W1 - W2 */
    fe_sub(t, w1, sum->x);
    fe_mul(t, u, t);
    fe_sub(sum->y, t, a1);                /* Y3 = (Y1 - Y2) (W1 - X3) - A1 */
    memcpy(a->x, w1, sizeof(fe));         /* a = (W1, A1, Z3) */
    memcpy(a->y, a1, sizeof(fe));
    memcpy(a->z, sum->z, sizeof(fe));
}

/* Q, 3Q, ..., (2 P_TABLE - 1) Q in Jacobian coordinates for an affine Q (none is infinity:
 * n is prime). 2Q has Z = 2y, and Q with that Z is (4 x y^2, 8 y^4, 2y), terms of the
 * doubling; from there each odd multiple is a co-Z addition of 2Q, which the addition
 * keeps at the new multiple's Z. */
static void odd_multiples(jpoint out[P_TABLE], const jpoint *q) {
    jpoint two, cur;
    fe gamma, t;
    pt_double(&two, q);
    fe_sqr(gamma, q->y);
    fe_mul(t, q->x, gamma);
    fe_lsh(cur.x, t, 2);
    fe_sqr(t, gamma);
    fe_lsh(cur.y, t, 3);
    memcpy(cur.z, two.z, sizeof(fe));
    out[0] = *q;
    for (int i = 1; i < P_TABLE; i++) {
        pt_add_coz(&out[i], &two, &cur);
        cur = out[i];
    }
}

/* s G + t Q over Q's odd multiples (`affine`: their Z is one and x, y are affine), then
 * the check against r and e. */
static int finish(const limb r[4], const limb s[4], const limb t[4],
                  const unsigned char *digest, const jpoint q_odd[P_TABLE], int affine) {
    limb e[4], c[4], c2[4];
    jpoint acc;
    int16_t ds[258], dt[258];
    int ls = wnaf(ds, s, G_WINDOW), lt_ = wnaf(dt, t, P_WINDOW);
    int len = ls > lt_ ? ls : lt_;
    memset(&acc, 0, sizeof acc);
    for (int i = len - 1; i >= 0; i--) {
        pt_double(&acc, &acc);
        if (ds[i]) {
            apoint g = G_ODD[(ds[i] > 0 ? ds[i] : -ds[i]) / 2];
            if (ds[i] < 0) fe_neg(g.y, g.y);
            pt_add_affine(&acc, &acc, &g);
        }
        if (dt[i]) {
            const jpoint *m = &q_odd[(dt[i] > 0 ? dt[i] : -dt[i]) / 2];
            if (affine) {
                apoint ma;
                memcpy(ma.x, m->x, sizeof(fe));
                if (dt[i] < 0) fe_neg(ma.y, m->y);
                else memcpy(ma.y, m->y, sizeof(fe));
                pt_add_affine(&acc, &acc, &ma);
            } else {
                jpoint mj = *m;
                if (dt[i] < 0) fe_neg(mj.y, mj.y);
                pt_add(&acc, &acc, &mj);
            }
        }
    }
    if (is_zero(acc.z)) return 0;                    /* s G + t Q = O */

    /* R = (e + x1) mod n == r  <=>  x1 = (r - e) mod n, or that plus n when below p. */
    load_be(e, digest);
    if (!lt(e, N)) sub4(e, e, N);
    if (sub4(c, r, e)) add4(c, c, N);
    fe zz;
    fe_sqr(zz, acc.z);
    if (x_matches(&acc, zz, c)) return 1;
    if (!add4(c2, c, N) && lt(c2, P)) return x_matches(&acc, zz, c2);
    return 0;
}

/* One signature: Q's table stays Jacobian (making it affine would cost an inversion). */
static int verify_one(const unsigned char *pub, const unsigned char *digest,
                      const unsigned char *sig) {
    limb r[4], s[4], t[4];
    jpoint q, q_odd[P_TABLE];
    if (!parse(pub, sig, r, s, t, &q)) return 0;
    odd_multiples(q_odd, &q);
    return finish(r, s, t, digest, q_odd, 0);
}

/* vals[i] = vals[i]^-1 for `count` nonzero field elements with one inversion (Montgomery's
 * trick: 3 (count - 1) multiplications); prefix holds count elements of scratch. */
static void fe_inv_many(fe *vals, fe *prefix, size_t count) {
    fe inv, t;
    if (count == 0) return;
    memcpy(prefix[0], vals[0], sizeof(fe));
    for (size_t i = 1; i < count; i++) fe_mul(prefix[i], prefix[i - 1], vals[i]);
    fe_inv(inv, prefix[count - 1]);
    for (size_t i = count - 1; i > 0; i--) {
        fe_mul(t, inv, prefix[i - 1]);                /* vals[i]^-1 */
        fe_mul(inv, inv, vals[i]);                    /* (vals[0] ... vals[i-1])^-1 */
        memcpy(vals[i], t, sizeof(fe));
    }
    memcpy(vals[0], inv, sizeof(fe));
}

/* (X, Y, Z) -> (X / Z^2, Y / Z^3, 1), given zi = 1 / Z. */
static void to_affine(jpoint *pt, const fe zi) {
    fe zi2, zi3;
    fe_sqr(zi2, zi);
    fe_mul(zi3, zi2, zi);
    fe_mul(pt->x, pt->x, zi2);
    fe_mul(pt->y, pt->y, zi3);
    memcpy(pt->z, FE_ONE, sizeof(fe));
}

/* Signatures verified together: each one's table of Q's odd multiples is made affine with
 * a single inversion for the whole group, so every addition in the main loop is mixed. */
#define GROUP 64

typedef struct {
    jpoint q_odd[GROUP][P_TABLE];
    limb r[GROUP][4], s[GROUP][4], t[GROUP][4];
    fe zs[GROUP * (P_TABLE - 1)], prefix[GROUP * (P_TABLE - 1)];
} workspace;

static void verify_group(workspace *w, const unsigned char *pubs, const unsigned char *digests,
                         const unsigned char *sigs, size_t count, unsigned char *out) {
    size_t nz = 0;
    for (size_t i = 0; i < count; i++) {
        jpoint q;
        out[i] = (unsigned char)parse(pubs + i * 65, sigs + i * 64, w->r[i], w->s[i], w->t[i],
                                      &q);
        if (!out[i]) continue;
        odd_multiples(w->q_odd[i], &q);
        for (int k = 1; k < P_TABLE; k++) memcpy(w->zs[nz++], w->q_odd[i][k].z, sizeof(fe));
    }
    fe_inv_many(w->zs, w->prefix, nz);
    nz = 0;
    for (size_t i = 0; i < count; i++) {
        if (!out[i]) continue;
        for (int k = 1; k < P_TABLE; k++) to_affine(&w->q_odd[i][k], w->zs[nz++]);
        out[i] = (unsigned char)finish(w->r[i], w->s[i], w->t[i], digests + i * 32,
                                       w->q_odd[i], 1);
    }
}

static void init_tables(void) {
    static const limb one[4] = {1, 0, 0, 0};
    static jpoint g_odd[G_TABLE];
    static fe zs[G_TABLE], prefix[G_TABLE];
    jpoint g, g2;
    select_field();
    fe_to_mont(FE_ONE, one);
    fe_to_mont(FE_B, B_STD);
    fe_to_mont(g.x, GX_STD);
    fe_to_mont(g.y, GY_STD);
    memcpy(g.z, FE_ONE, sizeof(fe));
    pt_double(&g2, &g);
    g_odd[0] = g;
    for (int i = 1; i < G_TABLE; i++) pt_add(&g_odd[i], &g_odd[i - 1], &g2);
    for (int i = 0; i < G_TABLE; i++) memcpy(zs[i], g_odd[i].z, sizeof(fe));
    fe_inv_many(zs, prefix, G_TABLE);
    for (int i = 0; i < G_TABLE; i++) {
        to_affine(&g_odd[i], zs[i]);
        memcpy(G_ODD[i].x, g_odd[i].x, sizeof(fe));
        memcpy(G_ODD[i].y, g_odd[i].y, sizeof(fe));
    }
}

/* ---- Python interface --------------------------------------------------------------- */

#define PUB_SIZE 65
#define DIGEST_SIZE 32
#define SIG_SIZE 64

static PyObject *py_verify(PyObject *self, PyObject *args) {
    Py_buffer pub, digest, sig;
    int ok;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:verify", &pub, &digest, &sig)) return NULL;
    if (pub.len != PUB_SIZE || digest.len != DIGEST_SIZE || sig.len != SIG_SIZE) {
        PyBuffer_Release(&pub);
        PyBuffer_Release(&digest);
        PyBuffer_Release(&sig);
        PyErr_SetString(PyExc_ValueError,
                        "verify takes a 65-byte public key, a 32-byte digest and 64-byte r||s");
        return NULL;
    }
    ok = verify_one(pub.buf, digest.buf, sig.buf);
    PyBuffer_Release(&pub);
    PyBuffer_Release(&digest);
    PyBuffer_Release(&sig);
    return PyBool_FromLong(ok);
}

static PyObject *py_verify_many(PyObject *self, PyObject *args) {
    Py_buffer pubs, digests, sigs;
    PyObject *out = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*:verify_many", &pubs, &digests, &sigs)) return NULL;
    Py_ssize_t count = digests.len / DIGEST_SIZE;
    if (digests.len % DIGEST_SIZE || pubs.len != count * PUB_SIZE
            || sigs.len != count * SIG_SIZE) {
        PyErr_SetString(PyExc_ValueError,
                        "verify_many takes 65-, 32- and 64-byte records, as many of each");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, count);
    if (out == NULL) goto done;
    if (count > 0) {
        unsigned char *res = (unsigned char *)PyBytes_AS_STRING(out);
        const unsigned char *pb = pubs.buf, *db = digests.buf, *sb = sigs.buf;
        workspace *w = PyMem_RawMalloc(sizeof *w);
        if (w == NULL) {
            Py_CLEAR(out);
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < count; i += GROUP) {
            size_t n = (size_t)(count - i < GROUP ? count - i : GROUP);
            verify_group(w, pb + i * PUB_SIZE, db + i * DIGEST_SIZE, sb + i * SIG_SIZE, n,
                         res + i);
        }
        Py_END_ALLOW_THREADS
        PyMem_RawFree(w);
    }
done:
    PyBuffer_Release(&pubs);
    PyBuffer_Release(&digests);
    PyBuffer_Release(&sigs);
    return out;
}

static PyObject *py_arithmetic(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyUnicode_FromString(arithmetic_name());
}

static PyMethodDef methods[] = {
    {"verify", py_verify, METH_VARARGS,
     "verify(public65, e32, rs64) -> bool: SM2 verification of r||s over the digest e."},
    {"verify_many", py_verify_many, METH_VARARGS,
     "verify_many(publics, digests, signatures) -> bytes: one 0/1 byte per record."},
    {"arithmetic", py_arithmetic, METH_NOARGS,
     "arithmetic() -> str: the field arithmetic in use, 'x86-64 mulx/adx' or 'portable C'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sm2verify",
    "Native SM2 signature verification (GB/T 32918.2) over precomputed digests.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sm2verify(void) {
    init_tables();
    return PyModule_Create(&module);
}

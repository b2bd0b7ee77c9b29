/*
 * simd_exp.h (internal) -- e^x on a vector, for softmax: x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split in two for exactness), e^r by a degree-6
 * polynomial (Cephes' expf coefficients, within 2 ulp), times 2^n built in
 * the exponent bits. Inputs are clamped to [-87.3, 88.7] first (beyond,
 * e^x is 0 or +Inf in float, which the clamp gives as denormal-free 0 and
 * FLT_MAX-ish: softmax only feeds it x <= 0); NaN stays NaN.
 * The includer defines VF, VI (int vector), and the V* operations below.
 */
#include <math.h>

static inline VF
EXP(VF x)
{
    const VF hi = SET1(88.7f), lo = SET1(-87.3f);
    VF nanm = NANMASK_KEEP(x);                  /* NaN lanes to put back */
    x = MINV(MAXV(x, lo), hi);
    VF fx = ROUND(MUL(x, SET1(1.44269504088896341f)));
    VF r = SUB(SUB(x, MUL(fx, SET1(0.693359375f))), MUL(fx, SET1(-2.12194440e-4f)));
    VF p = SET1(1.9875691500e-4f);
    p = FMA(p, r, SET1(1.3981999507e-3f));
    p = FMA(p, r, SET1(8.3334519073e-3f));
    p = FMA(p, r, SET1(4.1665795894e-2f));
    p = FMA(p, r, SET1(1.6666665459e-1f));
    p = FMA(p, r, SET1(5.0000001201e-1f));
    p = FMA(p, MUL(r, r), ADD(r, SET1(1.0f)));
    return PUTNAN(MUL(p, POW2(fx)), nanm);
}

static inline float
EXP1(float x)
{
    return expf(x);
}

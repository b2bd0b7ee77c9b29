// sgemm.comp -- row-major C[M x N] = A[M x K] . B[K x N]. Built twice:
// TILE 128 for large products, TILE 64 when 128-tiles would leave compute
// units idle (kernels.c chooses).
//
// Each workgroup of 256 threads computes a TILE x TILE tile of C. With
// TILE 128 each thread computes an 8 x 8 block of it: rows 4ty..4ty+3 and
// 64+4ty..64+4ty+3, columns 4tx..4tx+3 and 64+4tx..64+4tx+3 (two halves,
// so that the 16 threads of a row read 16 consecutive vec4s of shared
// memory); with TILE 64, a 4 x 4 block. K goes by slices of BK (8, or 16
// for TILE 64, so that each thread loads one vec4 of each matrix): A's
// slice is stored transposed and B's as it is, in shared memory, while
// the next slice's global loads are already in flight (register
// prefetch). Loads are vec4 when K (for A) or N (for B) is a
// multiple of 4 and the vec4 lies inside the matrix, else scalar with
// zeros past the edges; stores likewise. Each element of C sums its k
// terms in order.
#version 450
layout(local_size_x = 256) in;
layout(push_constant) uniform Push { uint M; uint N; uint K; } p;
layout(set = 0, binding = 0) readonly buffer A1 { float a1[]; };
layout(set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 1) readonly buffer B1 { float b1[]; };
layout(set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 2) writeonly buffer C1 { float c1[]; };
layout(set = 0, binding = 2) writeonly buffer C4 { vec4 c4[]; };

#ifndef TILE
#define TILE 128
#endif
const uint BM = TILE, BN = TILE, BK = TILE == 128 ? 8u : 16u;
shared vec4 As[BK][BM / 4u];
shared vec4 Bs[BK][BN / 4u];

vec4 load_a(uint r, uint k)
{
    if (r >= p.M)
        return vec4(0.0);
    uint at = r * p.K + k;
    if ((p.K & 3u) == 0u && k + 3u < p.K)
        return a4[at >> 2];
    vec4 v = vec4(0.0);
    if (k < p.K) v.x = a1[at];
    if (k + 1u < p.K) v.y = a1[at + 1u];
    if (k + 2u < p.K) v.z = a1[at + 2u];
    if (k + 3u < p.K) v.w = a1[at + 3u];
    return v;
}

vec4 load_b(uint k, uint c)
{
    if (k >= p.K)
        return vec4(0.0);
    uint at = k * p.N + c;
    if ((p.N & 3u) == 0u && c + 3u < p.N)
        return b4[at >> 2];
    vec4 v = vec4(0.0);
    if (c < p.N) v.x = b1[at];
    if (c + 1u < p.N) v.y = b1[at + 1u];
    if (c + 2u < p.N) v.z = b1[at + 2u];
    if (c + 3u < p.N) v.w = b1[at + 3u];
    return v;
}

void store_c(uint r, uint c, vec4 v)
{
    if (r >= p.M)
        return;
    uint at = r * p.N + c;
    if ((p.N & 3u) == 0u && c + 3u < p.N) {
        c4[at >> 2] = v;
        return;
    }
    if (c < p.N) c1[at] = v.x;
    if (c + 1u < p.N) c1[at + 1u] = v.y;
    if (c + 2u < p.N) c1[at + 2u] = v.z;
    if (c + 3u < p.N) c1[at + 3u] = v.w;
}

void main()
{
    uint tid = gl_LocalInvocationID.x;
    uint tx = tid & 15u, ty = tid >> 4;
    uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
    uint ar = tid / (BK / 4u), ak = (tid % (BK / 4u)) * 4u;   // this thread's A load
    uint bk = tid / (BN / 4u), bc = (tid % (BN / 4u)) * 4u;   // and B load

#if TILE == 128
    vec4 acc[8][2];
    for (uint i = 0u; i < 8u; i++) {
        acc[i][0] = vec4(0.0);
        acc[i][1] = vec4(0.0);
    }
#else
    vec4 acc[4];
    for (uint i = 0u; i < 4u; i++)
        acc[i] = vec4(0.0);
#endif
    vec4 ra = load_a(row0 + ar, ak);
    vec4 rb = load_b(bk, col0 + bc);

    for (uint k0 = 0u; k0 < p.K; k0 += BK) {
        barrier();
        As[ak][ar >> 2][ar & 3u] = ra.x;
        As[ak + 1u][ar >> 2][ar & 3u] = ra.y;
        As[ak + 2u][ar >> 2][ar & 3u] = ra.z;
        As[ak + 3u][ar >> 2][ar & 3u] = ra.w;
        Bs[bk][bc >> 2] = rb;
        barrier();
        if (k0 + BK < p.K) {
            ra = load_a(row0 + ar, k0 + BK + ak);
            rb = load_b(k0 + BK + bk, col0 + bc);
        }
        for (uint kk = 0u; kk < BK; kk++) {
#if TILE == 128
            vec4 a0 = As[kk][ty], a1v = As[kk][ty + 16u];
            vec4 b0 = Bs[kk][tx], b1v = Bs[kk][tx + 16u];
            acc[0][0] += a0.x * b0; acc[0][1] += a0.x * b1v;
            acc[1][0] += a0.y * b0; acc[1][1] += a0.y * b1v;
            acc[2][0] += a0.z * b0; acc[2][1] += a0.z * b1v;
            acc[3][0] += a0.w * b0; acc[3][1] += a0.w * b1v;
            acc[4][0] += a1v.x * b0; acc[4][1] += a1v.x * b1v;
            acc[5][0] += a1v.y * b0; acc[5][1] += a1v.y * b1v;
            acc[6][0] += a1v.z * b0; acc[6][1] += a1v.z * b1v;
            acc[7][0] += a1v.w * b0; acc[7][1] += a1v.w * b1v;
#else
            vec4 a0 = As[kk][ty], b0 = Bs[kk][tx];
            acc[0] += a0.x * b0;
            acc[1] += a0.y * b0;
            acc[2] += a0.z * b0;
            acc[3] += a0.w * b0;
#endif
        }
    }
#if TILE == 128
    for (uint i = 0u; i < 8u; i++) {
        uint r = row0 + (i < 4u ? ty * 4u + i : 64u + ty * 4u + (i - 4u));
        store_c(r, col0 + tx * 4u, acc[i][0]);
        store_c(r, col0 + 64u + tx * 4u, acc[i][1]);
    }
#else
    for (uint i = 0u; i < 4u; i++)
        store_c(row0 + ty * 4u + i, col0 + tx * 4u, acc[i]);
#endif
}

// softmax.comp -- one workgroup per row (row = x + y * 65535):
// out = exp(a - max) / sum(exp(a - max)). The max and the sum are
// reduced in shared memory in a fixed order.
#version 450
layout(local_size_x = 256) in;
layout(push_constant) uniform Push { uint rows; uint cols; } p;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) writeonly buffer O { float o[]; };

shared float red[256];

void main()
{
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * 65535u;
    uint l = gl_LocalInvocationID.x;
    if (row >= p.rows)
        return;     // the whole group leaves together: no barrier is skipped
    uint base = row * p.cols;
    float m = -1.0 / 0.0;
    for (uint c = l; c < p.cols; c += 256u)
        m = max(m, a[base + c]);
    red[l] = m;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1) {
        if (l < h)
            red[l] = max(red[l], red[l + h]);
        barrier();
    }
    m = red[0];
    barrier();
    float s = 0.0;
    for (uint c = l; c < p.cols; c += 256u)
        s += exp(a[base + c] - m);
    red[l] = s;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1) {
        if (l < h)
            red[l] += red[l + h];
        barrier();
    }
    float inv = 1.0 / red[0];
    for (uint c = l; c < p.cols; c += 256u)
        o[base + c] = exp(a[base + c] - m) * inv;
}

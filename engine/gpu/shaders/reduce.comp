// reduce.comp -- one partial sum per workgroup: of a[i] (dot == 0) or of
// a[i] * b[i]. Threads sum a grid-stride run of vec4s, then the group
// sums its threads in shared memory, always in the same order; the host
// adds the partials in double.
#version 450
layout(local_size_x = 256) in;
layout(push_constant) uniform Push { uint n; uint dot; } p;
layout(set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 0) readonly buffer A1 { float a1[]; };
layout(set = 0, binding = 1) readonly buffer B1 { float b1[]; };
layout(set = 0, binding = 2) writeonly buffer Partial { float partial[]; };

shared float part[256];

void main()
{
    uint n4 = p.n / 4u;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint i = gl_GlobalInvocationID.x;
    uint l = gl_LocalInvocationID.x;
    vec4 s = vec4(0.0);
    if (p.dot != 0u) {
        for (uint j = i; j < n4; j += stride)
            s += a4[j] * b4[j];
    } else {
        for (uint j = i; j < n4; j += stride)
            s += a4[j];
    }
    float acc = (s.x + s.y) + (s.z + s.w);
    uint t = n4 * 4u + i;
    if (t < p.n)
        acc += p.dot != 0u ? a1[t] * b1[t] : a1[t];
    part[l] = acc;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1) {
        if (l < h)
            part[l] += part[l + h];
        barrier();
    }
    if (l == 0u)
        partial[gl_WorkGroupID.x] = part[0];
}

// ewise.comp -- out[i] = a[i] OP b[i], built once per OP (-DOP=0..3: add,
// sub, mul, div). vec4 loads over a grid-stride loop, then the tail.
#version 450
layout(local_size_x = 256) in;
layout(push_constant) uniform Push { uint n; } p;
layout(set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 2) writeonly buffer O4 { vec4 o4[]; };
layout(set = 0, binding = 0) readonly buffer A1 { float a1[]; };
layout(set = 0, binding = 1) readonly buffer B1 { float b1[]; };
layout(set = 0, binding = 2) writeonly buffer O1 { float o1[]; };

#if OP == 0
#define APPLY(x, y) ((x) + (y))
#elif OP == 1
#define APPLY(x, y) ((x) - (y))
#elif OP == 2
#define APPLY(x, y) ((x) * (y))
#else
#define APPLY(x, y) ((x) / (y))
#endif

void main()
{
    uint n4 = p.n / 4u;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint i = gl_GlobalInvocationID.x;
    for (uint j = i; j < n4; j += stride)
        o4[j] = APPLY(a4[j], b4[j]);
    uint t = n4 * 4u + i;
    if (t < p.n)
        o1[t] = APPLY(a1[t], b1[t]);
}

// saxpy.comp -- y[i] += alpha * x[i], i < n: vec4 loads over a grid-stride
// loop, then the n % 4 tail. rp_gpu_saxpy and the tensor axpy.
#version 450
layout(local_size_x = 256) in;
layout(push_constant) uniform Push { uint n; float alpha; } p;
layout(set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 1) buffer Y4 { vec4 y4[]; };
layout(set = 0, binding = 0) readonly buffer X1 { float x1[]; };
layout(set = 0, binding = 1) buffer Y1 { float y1[]; };

void main()
{
    uint n4 = p.n / 4u;
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint i = gl_GlobalInvocationID.x;
    for (uint j = i; j < n4; j += stride)
        y4[j] += p.alpha * x4[j];
    uint t = n4 * 4u + i;
    if (t < p.n)
        y1[t] += p.alpha * x1[t];
}

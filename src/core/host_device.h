// GPUAUG_HD marks code that both the CPU path and the CUDA kernels compile from one source.
#pragma once

#if defined(__CUDACC__)
#define GPUAUG_HD __host__ __device__
#define GPUAUG_HD_INLINE __host__ __device__ __forceinline__
#else
#define GPUAUG_HD
#define GPUAUG_HD_INLINE inline
#endif

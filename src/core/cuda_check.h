// One checked-call helper for CUDA: a failed call becomes gpuaug::Error naming the call and
// the stage. Included only by CUDA translation units and GPUAUG_HAVE_CUDA code.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/error.h"

namespace gpuaug {

inline void cuda_check(cudaError_t status, const char* call, const char* stage) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear the sticky-free error so the next call starts clean
  throw Error("", stage, std::string(call) + " failed: " + cudaGetErrorName(status) + " (" +
                             cudaGetErrorString(status) + ")");
}

}  // namespace gpuaug

#define GPUAUG_CUDA_CHECK(call, stage) ::gpuaug::cuda_check((call), #call, (stage))

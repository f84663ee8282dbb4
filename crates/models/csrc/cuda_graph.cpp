// A C ABI over at::cuda::CUDAGraph for polopt (tch 0.24 has no graph API). Compiled by
// crates/models/build.rs only against a CUDA libtorch; see crates/models/src/cuda_graph.rs.
// Every entry point catches C++ exceptions and reports them as a message, never unwinds.
// Only headers that need the CUDA runtime API (not cuda_fp16/CCCL), so that the pip wheels'
// headers suffice, and no direct CUDA runtime call (pip ships no linkable libcudart.so):
// streams are ordered by host synchronisation, once per capture.
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAStream.h>

#include <cstring>
#include <exception>

namespace {
void write_error(char* err, size_t len, const char* what) {
  if (err == nullptr || len == 0) return;
  std::strncpy(err, what, len - 1);
  err[len - 1] = '\0';
}
}  // namespace

extern "C" {

typedef int (*polopt_step_fn)(void*);

void* polopt_graph_new() {
  try {
    return new at::cuda::CUDAGraph();
  } catch (...) {
    return nullptr;
  }
}

// Warm-up run of `step` on a side stream, then capture of a second run on it (PyTorch's
// recipe: capture is illegal on the default stream, and lazy initialisations such as cuBLAS
// workspaces must happen before capture). The host waits for the caller's stream before and
// for the side stream after, so that the warm-up sees earlier writes and later work its own.
int polopt_graph_capture(void* graph, polopt_step_fn step, void* ctx, char* err, size_t len) {
  auto* g = static_cast<at::cuda::CUDAGraph*>(graph);
  try {
    auto caller = c10::cuda::getCurrentCUDAStream();
    auto side = c10::cuda::getStreamFromPool();
    caller.synchronize();
    // The side stream is current for the step's kernels; the caller's is restored on every
    // path out (a stream guard would need headers that pull in more of the CUDA runtime).
    c10::cuda::setCurrentCUDAStream(side);
    const char* failed = nullptr;
    try {
      if (step(ctx) != 0) {
        failed = "the decode step failed in the warm-up run";
      } else {
        side.synchronize();
        g->capture_begin();
        int rc = step(ctx);
        g->capture_end();
        if (rc != 0) failed = "the decode step failed while being captured";
      }
    } catch (...) {
      c10::cuda::setCurrentCUDAStream(caller);
      throw;
    }
    c10::cuda::setCurrentCUDAStream(caller);
    if (failed != nullptr) {
      write_error(err, len, failed);
      return 1;
    }
    side.synchronize();
    return 0;
  } catch (const std::exception& e) {
    write_error(err, len, e.what());
    return 1;
  } catch (...) {
    write_error(err, len, "unknown C++ exception during CUDA graph capture");
    return 1;
  }
}

int polopt_graph_replay(void* graph, char* err, size_t len) {
  try {
    static_cast<at::cuda::CUDAGraph*>(graph)->replay();
    return 0;
  } catch (const std::exception& e) {
    write_error(err, len, e.what());
    return 1;
  } catch (...) {
    write_error(err, len, "unknown C++ exception during CUDA graph replay");
    return 1;
  }
}

void polopt_graph_delete(void* graph) {
  try {
    delete static_cast<at::cuda::CUDAGraph*>(graph);
  } catch (...) {
  }
}

}  // extern "C"

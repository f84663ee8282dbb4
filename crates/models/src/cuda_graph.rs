//! CUDA graphs through a small C++ shim over `at::cuda::CUDAGraph` (`csrc/cuda_graph.cpp`):
//! tch 0.24 has no graph API. `build.rs` compiles the shim only when the libtorch it links is a
//! CUDA build and CUDA headers are found, and then sets `cfg(polopt_cuda_graphs)`; otherwise
//! this module is a stub whose capture always fails with the reason, and the sampler falls back
//! to ordinary launches (and says so in its [`crate::DecodeReport`]).

/// Whether this binary carries the shim (it can still fail at run time: no GPU, capture errors).
pub fn shim_built() -> bool {
    cfg!(polopt_cuda_graphs)
}

#[cfg(polopt_cuda_graphs)]
mod imp {
    use std::ffi::{c_char, c_int, c_void, CStr};
    use std::panic::{catch_unwind, AssertUnwindSafe};

    extern "C" {
        fn polopt_graph_new() -> *mut c_void;
        fn polopt_graph_capture(
            graph: *mut c_void,
            step: extern "C" fn(*mut c_void) -> c_int,
            ctx: *mut c_void,
            err: *mut c_char,
            err_len: usize,
        ) -> c_int;
        fn polopt_graph_replay(graph: *mut c_void, err: *mut c_char, err_len: usize) -> c_int;
        fn polopt_graph_delete(graph: *mut c_void);
    }

    /// A captured graph; replays the kernels recorded by [`CudaGraph::capture`].
    pub struct CudaGraph {
        ptr: *mut c_void,
    }

    // The graph object is only touched through `&mut`/`&` from one thread at a time (it lives
    // in the model's graph cache behind a mutex); CUDA graphs may be replayed from any thread.
    unsafe impl Send for CudaGraph {}

    fn message(buf: &[c_char]) -> String {
        // SAFETY: the shim always NUL-terminates within the buffer it was given.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    struct Ctx<'a> {
        step: &'a mut dyn FnMut() -> Result<(), String>,
        error: Option<String>,
    }

    extern "C" fn trampoline(ctx: *mut c_void) -> c_int {
        // SAFETY: `ctx` is the `Ctx` that `capture` passed, alive for the whole call.
        let ctx = unsafe { &mut *(ctx as *mut Ctx) };
        // A panic must not unwind into C++: it becomes an error (and a failed capture).
        match catch_unwind(AssertUnwindSafe(|| (ctx.step)())) {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                ctx.error = Some(e);
                1
            }
            Err(_) => {
                ctx.error = Some("the decode step panicked during capture".into());
                1
            }
        }
    }

    impl CudaGraph {
        /// Runs `step` once eagerly on a side stream (warm-up, as PyTorch recommends), then
        /// records it into a graph on that stream. Tensors `step` allocates while recording
        /// live in the graph's private memory pool and are rewritten by every replay.
        pub fn capture(step: &mut dyn FnMut() -> Result<(), String>) -> Result<Self, String> {
            // SAFETY: plain constructor; null on failure.
            let ptr = unsafe { polopt_graph_new() };
            if ptr.is_null() {
                return Err("could not create a CUDA graph".into());
            }
            let graph = CudaGraph { ptr };
            let mut ctx = Ctx { step, error: None };
            let mut err = vec![0 as c_char; 1024];
            // SAFETY: `ptr` is a live graph, `ctx` outlives the call, `err` has `err.len()`.
            let rc = unsafe {
                polopt_graph_capture(
                    graph.ptr,
                    trampoline,
                    &mut ctx as *mut Ctx as *mut c_void,
                    err.as_mut_ptr(),
                    err.len(),
                )
            };
            if rc != 0 {
                return Err(ctx.error.unwrap_or_else(|| message(&err)));
            }
            Ok(graph)
        }

        pub fn replay(&self) -> Result<(), String> {
            let mut err = vec![0 as c_char; 1024];
            // SAFETY: `ptr` is a live, captured graph.
            let rc = unsafe { polopt_graph_replay(self.ptr, err.as_mut_ptr(), err.len()) };
            if rc != 0 {
                return Err(message(&err));
            }
            Ok(())
        }
    }

    impl Drop for CudaGraph {
        fn drop(&mut self) {
            // SAFETY: created by `polopt_graph_new`, deleted once.
            unsafe { polopt_graph_delete(self.ptr) }
        }
    }
}

#[cfg(not(polopt_cuda_graphs))]
mod imp {
    /// Stands in for the shim's graph in a build without it: capture always fails.
    pub struct CudaGraph(());

    impl CudaGraph {
        pub fn capture(_step: &mut dyn FnMut() -> Result<(), String>) -> Result<Self, String> {
            Err(super::NOT_BUILT.into())
        }

        pub fn replay(&self) -> Result<(), String> {
            Err(super::NOT_BUILT.into())
        }
    }
}

pub use imp::CudaGraph;

/// Why a build without the shim cannot capture.
#[cfg_attr(polopt_cuda_graphs, allow(dead_code))]
pub const NOT_BUILT: &str = "this build has no CUDA-graph shim (build.rs found no CUDA libtorch \
     with CUDA headers, or POLOPT_CUDA_GRAPH_SHIM=off)";

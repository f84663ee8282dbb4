//! Links libtorch_cuda as every crate does (build/link_torch_cuda.rs), and compiles the
//! CUDA-graph shim `csrc/cuda_graph.cpp` when the libtorch found is a CUDA build and CUDA
//! headers exist; it then sets `cfg(polopt_cuda_graphs)`. Otherwise, or when the compile
//! fails, `src/cuda_graph.rs` is a stub and a CPU build is as before.
//! `POLOPT_CUDA_GRAPH_SHIM=off` skips the shim. The pip CUDA wheels carry
//! `cuda_runtime_api.h` but not the `crt/` headers it includes; those come from the
//! `nvidia-cuda-crt` wheel (headers only, ~130 kB): install it next to torch, or name its
//! include directory in `POLOPT_CUDA_INCLUDE` (bench/gpu/prepare.sh does).
use std::path::{Path, PathBuf};

#[path = "../../build/link_torch_cuda.rs"]
mod link_torch_cuda;

fn main() {
    link_torch_cuda::main();
    println!("cargo:rustc-check-cfg=cfg(polopt_cuda_graphs)");
    println!("cargo:rerun-if-changed=csrc/cuda_graph.cpp");
    for var in [
        "POLOPT_CUDA_GRAPH_SHIM",
        "POLOPT_CUDA_INCLUDE",
        "LIBTORCH",
        "CUDA_HOME",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var("POLOPT_CUDA_GRAPH_SHIM").is_ok_and(|v| v == "off" || v == "0") {
        return;
    }
    match shim_inputs() {
        Ok((lib, includes)) => compile_shim(&lib, &includes),
        Err(why) => println!("cargo:warning=CUDA-graph shim not built: {why}"),
    }
}

/// libtorch's lib directory and the include directories the shim needs, if this libtorch is
/// a CUDA build with CUDA headers at hand.
fn shim_inputs() -> Result<(PathBuf, Vec<PathBuf>), String> {
    let lib = std::env::var("LIBTORCH_LIB")
        .ok()
        .or_else(|| std::env::var("LIBTORCH").ok().map(|t| format!("{t}/lib")))
        .or_else(link_torch_cuda::torch_lib_from_venv)
        .map(PathBuf::from)
        .ok_or("no libtorch found (LIBTORCH_LIB, LIBTORCH or python's torch)")?;
    if !lib.join("libtorch_cuda.so").exists() {
        return Err(format!(
            "{} has no libtorch_cuda.so (CPU libtorch)",
            lib.display()
        ));
    }
    let root = lib.parent().ok_or("libtorch lib directory has no parent")?;
    let mut includes = vec![
        root.join("include"),
        root.join("include/torch/csrc/api/include"),
    ];
    let candidates = cuda_include_candidates(root);
    let with = |header: &str| candidates.iter().find(|d| d.join(header).exists()).cloned();
    let runtime = with("cuda_runtime_api.h").ok_or(
        "no cuda_runtime_api.h (POLOPT_CUDA_INCLUDE, CUDA_HOME, /usr/local/cuda, pip's nvidia/*/include)",
    )?;
    let crt = with("crt/host_defines.h").ok_or(
        "no crt/host_defines.h (pip install nvidia-cuda-crt, or POLOPT_CUDA_INCLUDE=<its include dir>)",
    )?;
    includes.push(runtime);
    includes.push(crt);
    Ok((lib, includes))
}

fn cuda_include_candidates(torch_root: &Path) -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var("POLOPT_CUDA_INCLUDE")
        .map(|dirs| std::env::split_paths(&dirs).collect())
        .unwrap_or_default();
    if let Ok(home) = std::env::var("CUDA_HOME") {
        candidates.push(PathBuf::from(home).join("include"));
    }
    candidates.push(PathBuf::from("/usr/local/cuda/include"));
    // pip wheels: site-packages/nvidia/{cu13,cu12,cuda_runtime}/include next to torch/.
    if let Some(site) = torch_root.parent() {
        for sub in ["cu13", "cu12", "cuda_runtime"] {
            candidates.push(site.join("nvidia").join(sub).join("include"));
        }
    }
    candidates
}

fn compile_shim(lib: &Path, includes: &[PathBuf]) {
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file("csrc/cuda_graph.cpp")
        .includes(includes)
        // torch >= 2.7 wheels use the C++11 ABI; libtorch's headers are noisy.
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .flag_if_supported("-w")
        .cargo_warnings(false);
    match build.try_compile("polopt_cuda_graph") {
        Ok(()) => {
            println!("cargo:rustc-link-search=native={}", lib.display());
            // The shim calls no CUDA runtime function itself: only libtorch's own libraries.
            for name in ["torch_cuda", "c10_cuda", "torch_cpu", "c10"] {
                println!("cargo:rustc-link-lib=dylib={name}");
            }
            println!("cargo:rustc-cfg=polopt_cuda_graphs");
        }
        Err(e) => println!("cargo:warning=CUDA-graph shim not built, compile failed: {e}"),
    }
}

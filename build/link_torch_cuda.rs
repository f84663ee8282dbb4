//! Keeps `libtorch_cuda.so` linked. The default `--as-needed` drops it because no symbol is
//! referenced directly, and then CUDA is never available at run time (design/backend.md).
pub fn main() {
    let lib_dir = std::env::var("LIBTORCH_LIB")
        .ok()
        .or_else(torch_lib_from_venv);
    let has_cuda = lib_dir
        .as_ref()
        .map(|d| std::path::Path::new(d).join("libtorch_cuda.so").exists())
        .unwrap_or(false);
    if has_cuda {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH_LIB");
}

/// libtorch's directory inside the Python `torch` package that `python3` imports.
pub fn torch_lib_from_venv() -> Option<String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

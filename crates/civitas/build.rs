//! Compiles `src/alloc_options.c`, which sets mimalloc's options before `main` runs (the workspace forbids
//! `unsafe`, and mimalloc takes its options only from the environment or a C call). Its object goes to the
//! linker of the binaries only — the library and its tests use the system allocator — and as an object,
//! not an archive member, so it is kept although nothing refers to it by name: only its constructor runs.

fn main() {
    println!("cargo:rerun-if-changed=src/alloc_options.c");
    // Set by libmimalloc-sys (`links = "mimalloc"`): the headers of the version it builds.
    let Ok(include) = std::env::var("DEP_MIMALLOC_INCLUDE_DIR") else {
        panic!(
            "libmimalloc-sys did not say where mimalloc's headers are (DEP_MIMALLOC_INCLUDE_DIR)"
        );
    };
    let objects = cc::Build::new()
        .file("src/alloc_options.c")
        .include(include)
        .cargo_metadata(false)
        .compile_intermediates();
    for object in objects {
        println!("cargo:rustc-link-arg-bins={}", object.display());
    }
}

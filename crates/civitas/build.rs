//! Compiles `src/alloc_options.c`, which sets mimalloc's options before `main` runs (the workspace forbids
//! `unsafe`, and mimalloc takes its options only from the environment or a C call). Linked whole, since
//! nothing refers to it by name: only its constructor runs.

fn main() {
    println!("cargo:rerun-if-changed=src/alloc_options.c");
    // Set by libmimalloc-sys (`links = "mimalloc"`): the headers of the version it builds.
    let Ok(include) = std::env::var("DEP_MIMALLOC_INCLUDE_DIR") else {
        panic!(
            "libmimalloc-sys did not say where mimalloc's headers are (DEP_MIMALLOC_INCLUDE_DIR)"
        );
    };
    cc::Build::new()
        .file("src/alloc_options.c")
        .include(include)
        .link_lib_modifier("+whole-archive")
        .compile("civitas_alloc_options");
}

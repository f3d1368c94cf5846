//! Finds libclipmatch and tells rustc how to link it, in this order:
//!
//!  1. `pkg-config --libs --cflags clipmatch` (honours PKG_CONFIG_PATH; the program is $PKG_CONFIG or
//!     `pkg-config`), unless CLIPMATCH_NO_PKG_CONFIG is set;
//!  2. an install prefix in CLIPMATCH_PREFIX: its lib, lib64 or lib/<multiarch> folder, whichever holds
//!     libclipmatch.so;
//!  3. the CMake build folder: CLIPMATCH_BUILD_DIR, else ../../build relative to this crate.
//!
//! The folder found is added as a link search path and as an rpath, so the crate's tests and examples run
//! without LD_LIBRARY_PATH. Only the standard library is used (no `pkg-config` or `cc` crates).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const ENV_VARS: &[&str] = &[
    "CLIPMATCH_NO_PKG_CONFIG",
    "CLIPMATCH_PREFIX",
    "CLIPMATCH_BUILD_DIR",
    "PKG_CONFIG",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_LIBDIR",
    "PKG_CONFIG_SYSROOT_DIR",
];

struct Found {
    source: String,
    lib_dirs: Vec<PathBuf>,
    libs: Vec<String>,
}

fn library_file_names() -> Vec<String> {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "macos" | "ios" => vec!["libclipmatch.dylib".into()],
        "windows" => vec!["clipmatch.lib".into(), "clipmatch.dll.lib".into(), "libclipmatch.dll.a".into()],
        _ => vec!["libclipmatch.so".into()],
    }
}

fn holds_library(dir: &Path) -> bool {
    library_file_names().iter().any(|name| dir.join(name).exists())
}

/// Runs pkg-config; None when the program is missing or does not find clipmatch (or its requirements).
fn from_pkg_config() -> Option<Found> {
    if env::var_os("CLIPMATCH_NO_PKG_CONFIG").is_some() {
        return None;
    }
    let program = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".to_string());
    let output = Command::new(&program).args(["--libs", "--cflags", "clipmatch"]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lib_dirs = Vec::new();
    let mut libs = Vec::new();
    for token in text.split_whitespace() {
        if let Some(dir) = token.strip_prefix("-L") {
            lib_dirs.push(PathBuf::from(dir));
        } else if let Some(lib) = token.strip_prefix("-l") {
            libs.push(lib.to_string());
        }
    }
    if !libs.iter().any(|l| l == "clipmatch") {
        libs.push("clipmatch".to_string());
    }
    // No -L at all means a system folder the linker searches anyway. With -L folders, one of them must hold
    // the library: a clipmatch.pc whose prefix is wrong (e.g. the build tree's copy) is not trusted.
    if !lib_dirs.is_empty() && !lib_dirs.iter().any(|d| holds_library(d)) {
        println!(
            "cargo:warning=pkg-config's clipmatch.pc names {:?}, which holds no clipmatch library; ignoring it",
            lib_dirs
        );
        return None;
    }
    Some(Found { source: format!("pkg-config ({})", text.trim()), lib_dirs, libs })
}

fn multiarch_dir() -> Option<String> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    let os = env::var("CARGO_CFG_TARGET_OS").ok()?;
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" {
        return None;
    }
    let arch = match arch.as_str() {
        "x86" => "i386",
        other => other,
    };
    Some(format!("lib/{}-linux-{}", arch, if target_env.is_empty() { "gnu" } else { &target_env }))
}

fn from_prefix() -> Option<Found> {
    let prefix = PathBuf::from(env::var_os("CLIPMATCH_PREFIX")?);
    let mut candidates = vec!["lib".to_string(), "lib64".to_string(), "lib/x86_64-linux-gnu".to_string()];
    if let Some(dir) = multiarch_dir() {
        if !candidates.contains(&dir) {
            candidates.push(dir);
        }
    }
    for candidate in &candidates {
        let dir = prefix.join(candidate);
        if holds_library(&dir) {
            return Some(Found {
                source: format!("CLIPMATCH_PREFIX={}", prefix.display()),
                lib_dirs: vec![dir],
                libs: vec!["clipmatch".to_string()],
            });
        }
    }
    // The caller named a prefix explicitly: quietly linking something else would hide the mistake.
    panic!("CLIPMATCH_PREFIX={} holds no clipmatch library in any of {:?}", prefix.display(), candidates);
}

fn from_build_dir() -> Found {
    let (dir, how) = match env::var_os("CLIPMATCH_BUILD_DIR") {
        Some(dir) => (PathBuf::from(dir), "CLIPMATCH_BUILD_DIR"),
        None => {
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
            (manifest.join("..").join("..").join("build"), "the repository's build folder")
        }
    };
    let dir = dir.canonicalize().unwrap_or(dir);
    let lib_dir = [dir.clone(), dir.join("lib")].into_iter().find(|d| holds_library(d));
    let lib_dir = match lib_dir {
        Some(d) => d,
        None => {
            // `cargo check` / `cargo doc` need no library; linking will fail later with the linker's message.
            println!(
                "cargo:warning=no clipmatch library in {} (build the C++ project there, or set PKG_CONFIG_PATH, \
                 CLIPMATCH_PREFIX or CLIPMATCH_BUILD_DIR)",
                dir.display()
            );
            dir.clone()
        }
    };
    for name in library_file_names() {
        println!("cargo:rerun-if-changed={}", lib_dir.join(name).display());
    }
    Found {
        source: format!("{} ({})", how, dir.display()),
        lib_dirs: vec![lib_dir],
        libs: vec!["clipmatch".to_string()],
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ENV_VARS {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    let found = from_pkg_config().or_else(from_prefix).unwrap_or_else(from_build_dir);
    println!("cargo:warning=clipmatch library from {}", found.source);
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    for dir in &found.lib_dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
        if target_os != "windows" {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        }
    }
    for lib in &found.libs {
        println!("cargo:rustc-link-lib={}", lib);
    }
    if let Some(dir) = found.lib_dirs.first() {
        // Available to dependent build scripts as DEP_CLIPMATCH_LIB_DIR (this package sets `links`).
        println!("cargo:lib_dir={}", dir.display());
    }
}

// memcpy/memset as compiler_builtins defines them (`#[no_mangle]` in a `no_builtins` crate).
// Built twice by tests/test_rustc.py: with `--cfg builtins` as a `#![compiler_builtins]`
// crate (rustc then leaves these out of --export-symbols, as for the real one), and
// without it under another crate name: a second, identical definition.
#![feature(no_core, compiler_builtins)]
#![allow(internal_features)]
#![cfg_attr(builtins, compiler_builtins)]
#![no_core]
#![no_builtins]
#![crate_type = "rlib"]
extern crate minicore;

#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0usize;
    while i != n {
        *((dest as usize + i) as *mut u8) = *((src as usize + i) as *const u8);
        i = i + 1;
    }
    dest
}

#[no_mangle]
pub unsafe extern "C" fn memset(s: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0usize;
    while i != n {
        *((s as usize + i) as *mut u8) = c as u8;
        i = i + 1;
    }
    s
}

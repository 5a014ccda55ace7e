// A memcpy that differs from memfuncs.rs (copies backwards): a real conflict.
#![feature(no_core)]
#![no_core]
#![no_builtins]
#![crate_type = "rlib"]
extern crate minicore;

#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = n;
    while i != 0 {
        i = i - 1;
        *((dest as usize + i) as *mut u8) = *((src as usize + i) as *const u8);
    }
    dest
}

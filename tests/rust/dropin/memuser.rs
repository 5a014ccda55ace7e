// A program linked with the memory-builtin crates; `--cfg dup` adds a second memcpy provider.
#![feature(no_core)]
#![no_core]
#![crate_type = "cdylib"]
extern crate minicore;
extern crate mem_builtins;
#[cfg(dup)]
extern crate mem_other;

#[no_mangle]
#[link_section = "xdp"]
pub extern "C" fn mem_xdp(_ctx: *const u8) -> u32 {
    2
}

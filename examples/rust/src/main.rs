//! A BPF program in Rust without dependencies; the programs are in programs.rs.
#![no_std]
#![no_main]

mod programs;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

// aya-shaped programs in the sections aya uses, run by tests/test_rustc.py on a known packet.
// The expected return values are computed from this arithmetic in the test.
#![feature(no_core)]
#![no_core]
#![crate_type = "cdylib"]
extern crate minicore;
extern crate pktlib;

use pktlib::{fold_bytes, pktlib_mix};

#[repr(C)]
pub struct XdpMd { data: u32, data_end: u32, data_meta: u32, ingress_ifindex: u32, rx_queue_index: u32, egress_ifindex: u32 }

// struct __sk_buff up to data_end: len at 0, data at 76, data_end at 80.
#[repr(C)]
pub struct SkBuff { len: u32, _fields: [u32; 18], data: u32, data_end: u32 }

/// fold of the first 16 bytes from seed 0, low 16 bits; 9999 if the packet is shorter.
#[no_mangle]
#[link_section = "xdp"]
pub extern "C" fn rust_xdp(ctx: *const XdpMd) -> u32 {
    let data = unsafe { (*ctx).data } as usize;
    let end = unsafe { (*ctx).data_end } as usize;
    if data + 16 > end {
        return 9999;
    }
    fold_bytes(data as *const u8, 16, 0) & 0xffff
}

/// fold of bytes 2..22 seeded with mix(3, len), low 20 bits; 7777 if the packet is shorter.
#[no_mangle]
#[link_section = "classifier"]
pub extern "C" fn rust_tc(skb: *const SkBuff) -> i32 {
    let len = unsafe { (*skb).len };
    let data = unsafe { (*skb).data } as usize;
    let end = unsafe { (*skb).data_end } as usize;
    if data + 22 > end {
        return 7777;
    }
    (fold_bytes((data + 2) as *const u8, 20, pktlib_mix(3, len)) & 0xfffff) as i32
}

/// A uprobe: loads as a kprobe-type program (not run).
#[no_mangle]
#[link_section = "uprobe/connect"]
pub extern "C" fn rust_connect(_ctx: *const u8) -> u32 {
    0
}

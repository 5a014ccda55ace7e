// Map shapes aya emits: a legacy map definition in `maps/<name>` and a BTF-style map in
// `.maps` (aya-ebpf's btf_maps: pointers whose pointee types carry the parameters).
// Checked at the ELF level only: libbpf 1.x refuses legacy maps, and `.maps` needs BTF.
#![feature(no_core)]
#![no_core]
#![crate_type = "cdylib"]
extern crate minicore;
use minicore::Sync;

#[repr(C)]
pub struct BpfMapDef { type_: u32, key_size: u32, value_size: u32, max_entries: u32, map_flags: u32 }
unsafe impl Sync for BpfMapDef {}

#[no_mangle]
#[link_section = "maps/counters"]
pub static COUNTERS: BpfMapDef = BpfMapDef { type_: 2, key_size: 4, value_size: 8, max_entries: 16, map_flags: 0 };

#[repr(C)]
pub struct BtfArray { type_: *const [i32; 2], key: *const u32, value: *const u64, max_entries: *const [i32; 64] }
unsafe impl Sync for BtfArray {}

#[export_name = "RUST_BTF_MAP"]
#[link_section = ".maps"]
pub static RUST_BTF_MAP: BtfArray = BtfArray {
    type_: 0 as *const [i32; 2], key: 0 as *const u32, value: 0 as *const u64, max_entries: 0 as *const [i32; 64],
};

#[no_mangle]
#[link_section = "xdp"]
pub extern "C" fn maps_prog(_ctx: *const u8) -> u32 {
    2
}

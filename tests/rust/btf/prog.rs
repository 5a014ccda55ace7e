// A no_core Rust BPF crate whose debug info holds everything the kernel rejects in BTF
// unless the linker sanitizes it (tests/test_btf_rust.py links it with --btf):
// generic struct names (`MyStruct<u64>`, `two::MyStruct<u64, u64>`), named raw pointer types,
// a data-carrying enum, fields rustc reorders (debug info lists them in declaration
// order), a BTF-defined map in `.maps`, a `classifier` (tc) program and a non-exported
// helper taking pointers. Build minicore.rs as an rlib first.
#![feature(no_core)]
#![no_core]
#![no_std]
#![allow(dead_code)]

extern crate minicore;

/// The head of `struct __sk_buff` (only `len` is read).
#[repr(C)]
pub struct SkBuff {
    pub len: u32,
    pub pkt_type: u32,
}

/// One generic parameter: `MyStruct<u64>`.
pub struct MyStruct<T> {
    pub x: T,
    pub tag: u8,
}

pub mod two {
    /// Two generic parameters: `MyStruct<u64, u64>`; rustc puts `small` last.
    pub struct MyStruct<A, B> {
        pub small: u8,
        pub a: A,
        pub b: B,
    }
}

/// repr(Rust): rustc lays out `big` first, `mid` next, `tiny` last, while debug info
/// lists the members in declaration order (offsets 80, 0, 64).
pub struct Reordered {
    pub tiny: u8,
    pub big: u64,
    pub mid: u16,
}

/// A data-carrying enum: BTF cannot express it; the linker empties it.
pub enum Shape {
    Dot,
    Line(u32),
    Rect { w: u32, h: u32 },
}

/// A libbpf BTF-defined map: `type` and `max_entries` are pointers to arrays whose
/// length is the value; `key`/`value` point to the key and value types.
#[repr(C)]
pub struct ArrayMap<K, V, const N: usize> {
    pub r#type: *const [i32; 2], // BPF_MAP_TYPE_ARRAY
    pub key: *const K,
    pub value: *const V,
    pub max_entries: *const [i32; N],
}
unsafe impl<K, V, const N: usize> minicore::Sync for ArrayMap<K, V, N> {}

#[no_mangle]
#[link_section = ".maps"]
pub static COUNTERS: ArrayMap<u32, u64, 4> = ArrayMap {
    r#type: 0 as *const [i32; 2],
    key: 0 as *const u32,
    value: 0 as *const u64,
    max_entries: 0 as *const [i32; 4],
};

unsafe impl minicore::Sync for Shape {}
unsafe impl minicore::Sync for Reordered {}

/// Read-only globals carry the enum and the reordered struct into BTF (.rodata DATASEC).
#[no_mangle]
pub static SHAPE: Shape = Shape::Rect { w: 3, h: 4 };
#[no_mangle]
pub static REORDERED: Reordered = Reordered { tiny: 1, big: 2, mid: 3 };

/// Not exported: must get `linkage=static` in BTF, or the verifier checks it on its own
/// and refuses the pointer arguments.
#[inline(never)]
fn helper(skb: *const SkBuff, one: *const MyStruct<u64>, two: *const two::MyStruct<u64, u64>,
          r: *const Reordered) -> u64 {
    unsafe {
        ((*skb).len as u64) + (*one).x + ((*one).tag as u64) + (*two).a + (*two).b
            + ((*two).small as u64) + (*r).big + ((*r).mid as u64) + ((*r).tiny as u64)
    }
}

#[no_mangle]
#[link_section = "classifier"]
pub extern "C" fn btf_prog(skb: *mut SkBuff) -> i32 {
    let one = MyStruct { x: 5u64, tag: 7 };
    let two = two::MyStruct { small: 11, a: 13u64, b: 17u64 };
    let r = Reordered { tiny: 19, big: 23, mid: 29 };
    helper(skb, &one, &two, &r) as i32
}

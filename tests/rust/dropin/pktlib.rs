// Dependency rlib of the drop-in tests (tests/test_rustc.py): an exported `#[no_mangle]`
// helper the programs call, one nobody calls (rustc still exports it), and plain Rust
// functions that are not exported (they must not be GLOBAL in the linked object).
// Also the `partial_ord` lang item (`<`, `>`), which minicore does not define.
#![feature(no_core, lang_items)]
#![allow(internal_features)]
#![no_core]
#![crate_type = "rlib"]
extern crate minicore;
use minicore::*;

#[lang = "partial_ord"]
pub trait PartialOrd<Rhs: PointeeSized = Self>: PartialEq<Rhs> + PointeeSized {
    fn lt(&self, other: &Rhs) -> bool;
    fn le(&self, other: &Rhs) -> bool;
    fn gt(&self, other: &Rhs) -> bool;
    fn ge(&self, other: &Rhs) -> bool;
}
macro_rules! ord { ($($t:ty)*) => { $(impl PartialOrd for $t {
    #[inline] fn lt(&self, o: &$t) -> bool { (*self) < (*o) }
    #[inline] fn le(&self, o: &$t) -> bool { (*self) <= (*o) }
    #[inline] fn gt(&self, o: &$t) -> bool { (*self) > (*o) }
    #[inline] fn ge(&self, o: &$t) -> bool { (*self) >= (*o) }
})* } }
ord!(u8 u16 u32 u64 i32 i64 usize);

/// h' = (h ^ b) * 31 + 7 (wrapping: build with -C overflow-checks=off).
#[no_mangle]
#[inline(never)]
pub extern "C" fn pktlib_mix(h: u32, b: u32) -> u32 {
    (h ^ b) * 31 + 7
}

/// Exported by rustc (no_mangle) although no program calls it: must stay GLOBAL.
#[no_mangle]
pub extern "C" fn pktlib_unused_export(x: u32) -> u32 {
    x * 3 + 1
}

/// Folds `n` bytes at `p` with pktlib_mix, starting from `seed`.
#[inline(never)]
pub fn fold_bytes(p: *const u8, n: usize, seed: u32) -> u32 {
    let mut i = 0usize;
    let mut h = seed;
    while i < n {
        h = pktlib_mix(h, unsafe { *((p as usize + i) as *const u8) } as u32);
        i = i + 1;
    }
    h
}

/// Not called by anyone and not `#[no_mangle]`: must disappear from the output.
#[inline(never)]
pub fn pktlib_never_called(x: u64) -> u64 {
    x * 1000003 + 12345
}

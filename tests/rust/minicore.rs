// The lang items a `#![no_core]` BPF crate needs (no std, no core, no rust-src):
// tests build this rlib first and every test crate says `extern crate minicore;`.
// Build test crates with -C overflow-checks=off: there are no panic lang items here.
#![feature(no_core, lang_items, rustc_attrs, intrinsics, auto_traits)]
#![allow(internal_features)]
#![no_core]
#![crate_type = "rlib"]

#[lang = "pointee_sized"] pub trait PointeeSized {}
#[lang = "meta_sized"] pub trait MetaSized: PointeeSized {}
#[lang = "sized"] pub trait Sized: MetaSized {}
#[lang = "copy"] pub trait Copy {}
#[lang = "sync"] pub unsafe trait Sync {}
#[lang = "freeze"] pub unsafe auto trait Freeze {}
#[lang = "legacy_receiver"] pub trait LegacyReceiver: PointeeSized {}
impl<T: PointeeSized> LegacyReceiver for &T {}
#[lang = "drop_in_place"] pub unsafe fn drop_in_place<T: PointeeSized>(_: *mut T) {}

macro_rules! copy_sync { ($($t:ty)*) => { $(impl Copy for $t {} unsafe impl Sync for $t {})* } }
copy_sync!(u8 u16 u32 u64 i8 i16 i32 i64 usize isize bool);
impl<T: Copy, const N: usize> Copy for [T; N] {}
unsafe impl<T: Sync, const N: usize> Sync for [T; N] {}
impl<T: PointeeSized> Copy for *const T {}
impl<T: PointeeSized> Copy for *mut T {}
unsafe impl<T: PointeeSized> Sync for *const T {}
unsafe impl<T: PointeeSized> Sync for *mut T {}

macro_rules! binop {
    ($lang:literal $Trait:ident $method:ident $op:tt; $($t:ty)*) => {
        #[lang = $lang] pub trait $Trait<Rhs = Self> { type Output; fn $method(self, rhs: Rhs) -> Self::Output; }
        $(impl $Trait for $t { type Output = $t; #[inline] fn $method(self, rhs: $t) -> $t { self $op rhs } })*
    };
}
binop!("add" Add add +; u8 u16 u32 u64 i32 i64 usize);
binop!("sub" Sub sub -; u8 u16 u32 u64 i32 i64 usize);
binop!("mul" Mul mul *; u8 u16 u32 u64 i32 i64 usize);
binop!("bitxor" BitXor bitxor ^; u8 u16 u32 u64);
binop!("bitand" BitAnd bitand &; u8 u16 u32 u64);

#[lang = "eq"] pub trait PartialEq<Rhs: PointeeSized = Self>: PointeeSized {
    fn eq(&self, other: &Rhs) -> bool;
    fn ne(&self, other: &Rhs) -> bool { !self.eq(other) }
}
#[lang = "not"] pub trait Not { type Output; fn not(self) -> Self::Output; }
impl Not for bool { type Output = bool; #[inline] fn not(self) -> bool { !self } }
macro_rules! eq { ($($t:ty)*) => { $(impl PartialEq for $t { #[inline] fn eq(&self, o: &$t) -> bool { (*self) == (*o) } })* } }
eq!(u8 u16 u32 u64 i32 i64 usize bool);

//! A tc classifier: the C example's computation (EtherType * 3 + a payload checksum).
//! Plain integer and pointer code, no names from core, so it also builds with #![no_core].

/// `struct __sk_buff` up to `data_end`: `len` at offset 0, `data` at 76, `data_end` at 80.
#[repr(C)]
pub struct SkBuff {
    len: u32,
    _fields: [u32; 18],
    data: u32,
    data_end: u32,
}

const ETH_HLEN: usize = 14;
const PAYLOAD_BYTES: usize = 16;

#[no_mangle]
#[link_section = "classifier"]
pub extern "C" fn example_tc(skb: *const SkBuff) -> i32 {
    let data = unsafe { (*skb).data } as usize;
    let end = unsafe { (*skb).data_end } as usize;
    if data + ETH_HLEN + PAYLOAD_BYTES > end {
        return 0;
    }
    let ethertype = byte_at(data, 12) * 256 + byte_at(data, 13);
    (ethertype * 3 + payload_sum(data + ETH_HLEN)) as i32
}

/// Sum of payload[i] * (i + 1) over PAYLOAD_BYTES bytes (checked by the caller). Not
/// exported: bpf-linker makes it static in BTF, so the verifier checks it in its caller's context.
#[inline(never)]
fn payload_sum(payload: usize) -> u32 {
    let mut sum = 0u32;
    let mut i = 0usize;
    while i < PAYLOAD_BYTES {
        sum = sum + byte_at(payload, i) * (i as u32 + 1);
        i = i + 1;
    }
    sum
}

#[inline(always)]
fn byte_at(base: usize, offset: usize) -> u32 {
    unsafe { *((base + offset) as *const u8) as u32 }
}

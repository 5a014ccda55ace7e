// Seed program for the fuzz tests (tests/test_fuzz.py, tools/fuzz_atheris.py).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); }
    counts SEC(".maps");
int total;
static __attribute__((noinline)) int mix(int a, int b) { return (a * 31) ^ b; }
SEC("tc") int fuzz_prog(struct __sk_buff *skb) {
    __u32 k = skb->len & 3;
    __u64 *v = bpf_map_lookup_elem(&counts, &k);
    if (v) *v += 1;
    total += mix(skb->len, skb->protocol);
    return total & 1;
}
char LICENSE[] SEC("license") = "GPL";

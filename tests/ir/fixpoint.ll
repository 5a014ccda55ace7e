; LLVM's reduced reproducer of https://github.com/llvm/llvm-project/issues/92648
; ("opt: Instruction Combining did not reach a fixpoint after 1 iterations"), retargeted to
; BPF: the byte comes from the program's context (the low byte of skb->len for tc) instead of
; a global, and the function is a tc program, so internalize keeps it.
; `instcombine` from a pipeline string aborts on it with libLLVM 18 and later
; (tests/test_optimize_versions.py).
target triple = "bpf"

define i32 @prog(ptr %ctx) section "tc" {
entry:
  %0 = load i8, ptr %ctx, align 4
  %1 = zext i8 %0 to i32
  %2 = icmp slt i32 %1, 128
  br i1 %2, label %if.then, label %if.done

if.then:
  ret i32 %1

if.done:
  ret i32 0
}

@LICENSE = global [4 x i8] c"GPL\00", section "license"

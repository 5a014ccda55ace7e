; Debug info the verifier rejects (a subprogram whose file is not a DIFile): LLVM prints
; its complaint straight to stderr, then warns "ignoring invalid debug info" and strips it.
target triple = "bpf"

define i32 @fuzz_prog() !dbg !5 {
  ret i32 0
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}
!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !1, emissionKind: FullDebug)
!1 = !DIFile(filename: "a.c", directory: "/")
!3 = !{i32 7, !"Dwarf Version", i32 5}
!4 = !{i32 2, !"Debug Info Version", i32 3}
!5 = distinct !DISubprogram(name: "fuzz_prog", scope: !1, file: !6, type: !7, unit: !0, spFlags: DISPFlagDefinition)
!6 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!7 = !DISubroutineType(types: !{})

/* llvm-c/BitReader.h, BitWriter.h, IRReader.h, Linker.h, Analysis.h, DebugInfo.h. */
LLVMBool LLVMParseBitcodeInContext2(LLVMContextRef ContextRef, LLVMMemoryBufferRef MemBuf, LLVMModuleRef *OutModule);
LLVMBool LLVMParseIRInContext(LLVMContextRef ContextRef, LLVMMemoryBufferRef MemBuf, LLVMModuleRef *OutM, char **OutMessage);
LLVMMemoryBufferRef LLVMWriteBitcodeToMemoryBuffer(LLVMModuleRef M);
LLVMBool LLVMLinkModules2(LLVMModuleRef Dest, LLVMModuleRef Src);
LLVMBool LLVMVerifyModule(LLVMModuleRef M, LLVMVerifierFailureAction Action, char **OutMessage);
LLVMBool LLVMStripModuleDebugInfo(LLVMModuleRef Module);
unsigned LLVMGetModuleDebugMetadataVersion(LLVMModuleRef Module);
LLVMMetadataRef LLVMGetSubprogram(LLVMValueRef Func);

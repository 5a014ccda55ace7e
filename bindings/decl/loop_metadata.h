/* llvm-c/Core.h and llvm-c/DebugInfo.h: the !llvm.loop metadata on loop latches and their debug locations. */
LLVMValueRef LLVMGetBasicBlockTerminator(LLVMBasicBlockRef BB);
unsigned LLVMGetMDKindIDInContext(LLVMContextRef C, const char *Name, unsigned SLen);
LLVMValueRef LLVMGetMetadata(LLVMValueRef Val, unsigned KindID);
LLVMValueRef LLVMIsAMDNode(LLVMValueRef Val);
LLVMMetadataRef LLVMInstructionGetDebugLoc(LLVMValueRef Inst);
unsigned LLVMDILocationGetLine(LLVMMetadataRef Location);
LLVMMetadataRef LLVMDILocationGetScope(LLVMMetadataRef Location);
LLVMMetadataRef LLVMDIScopeGetFile(LLVMMetadataRef Scope);
const char *LLVMDIFileGetFilename(LLVMMetadataRef File, unsigned *Len);

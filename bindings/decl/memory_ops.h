/* llvm-c/Core.h, Target.h: data layout, constant offsets, constant data and call-site attributes (expand-memcpy). */
LLVMTargetDataRef LLVMGetModuleDataLayout(LLVMModuleRef M);
int LLVMByteOrder(LLVMTargetDataRef TD);
unsigned long long LLVMABISizeOfType(LLVMTargetDataRef TD, LLVMTypeRef Ty);
unsigned long long LLVMStoreSizeOfType(LLVMTargetDataRef TD, LLVMTypeRef Ty);
unsigned long long LLVMOffsetOfElement(LLVMTargetDataRef TD, LLVMTypeRef StructTy, unsigned Element);
LLVMTypeRef LLVMStructGetTypeAtIndex(LLVMTypeRef StructTy, unsigned i);
LLVMTypeRef LLVMGetElementType(LLVMTypeRef Ty);
unsigned LLVMGetArrayLength(LLVMTypeRef ArrayTy);

LLVMValueRef LLVMIsAAllocaInst(LLVMValueRef Val);
LLVMValueRef LLVMIsAGetElementPtrInst(LLVMValueRef Val);
LLVMValueRef LLVMIsAConstantExpr(LLVMValueRef Val);
LLVMOpcode LLVMGetConstOpcode(LLVMValueRef ConstantVal);
LLVMTypeRef LLVMGetGEPSourceElementType(LLVMValueRef GEP);
long long LLVMConstIntGetSExtValue(LLVMValueRef ConstantVal);

LLVMBool LLVMIsExternallyInitialized(LLVMValueRef GlobalVar);
LLVMBool LLVMIsNull(LLVMValueRef Val);
LLVMBool LLVMIsUndef(LLVMValueRef Val);
LLVMValueRef LLVMIsAConstantDataSequential(LLVMValueRef Val);
LLVMValueRef LLVMIsAConstantArray(LLVMValueRef Val);
LLVMValueRef LLVMIsAConstantStruct(LLVMValueRef Val);
LLVMBool LLVMIsConstantString(LLVMValueRef c);
const char *LLVMGetAsString(LLVMValueRef c, size_t *Length);
LLVMValueRef LLVMGetElementAsConstant(LLVMValueRef C, unsigned idx);

void LLVMAddCallSiteAttribute(LLVMValueRef C, LLVMAttributeIndex Idx, LLVMAttributeRef A);
void LLVMRemoveCallSiteEnumAttribute(LLVMValueRef C, LLVMAttributeIndex Idx, unsigned KindID);

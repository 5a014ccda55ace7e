/* llvm-c/Core.h, Transforms/PassBuilder.h: what the pass-author API (values, instructions, blocks, types) reads and changes. */
/* Values and uses. */
LLVMBool LLVMIsConstant(LLVMValueRef Val);
LLVMValueRef LLVMIsAGlobalAlias(LLVMValueRef Val);
LLVMValueRef LLVMIsAGlobalValue(LLVMValueRef Val);
LLVMValueRef LLVMIsAArgument(LLVMValueRef Val);
LLVMValueRef LLVMIsALoadInst(LLVMValueRef Val);
LLVMValueRef LLVMIsAStoreInst(LLVMValueRef Val);
LLVMValueRef LLVMIsATerminatorInst(LLVMValueRef Inst);
LLVMValueRef LLVMIsAIntrinsicInst(LLVMValueRef Val);
LLVMValueRef LLVMIsAInlineAsm(LLVMValueRef Val);
void LLVMSetOperand(LLVMValueRef User, unsigned Index, LLVMValueRef Val);
LLVMUseRef LLVMGetOperandUse(LLVMValueRef Val, unsigned Index);
LLVMValueRef LLVMGetUsedValue(LLVMUseRef U);
LLVMValueRef LLVMGetUndef(LLVMTypeRef Ty);
LLVMValueRef LLVMConstStringInContext(LLVMContextRef C, const char *Str, unsigned Length, LLVMBool DontNullTerminate);

/* Globals. */
void LLVMSetGlobalConstant(LLVMValueRef GlobalVar, LLVMBool IsConstant);
LLVMBool LLVMIsThreadLocal(LLVMValueRef GlobalVar);
void LLVMSetExternallyInitialized(LLVMValueRef GlobalVar, LLVMBool IsExtInit);
LLVMValueRef LLVMAddGlobal(LLVMModuleRef M, LLVMTypeRef Ty, const char *Name);
LLVMValueRef LLVMAliasGetAliasee(LLVMValueRef Alias);

/* Attributes, every kind (enum, string, type). */
void LLVMGetAttributesAtIndex(LLVMValueRef F, LLVMAttributeIndex Idx, LLVMAttributeRef *Attrs);
LLVMBool LLVMIsEnumAttribute(LLVMAttributeRef A);
LLVMBool LLVMIsStringAttribute(LLVMAttributeRef A);
LLVMBool LLVMIsTypeAttribute(LLVMAttributeRef A);
unsigned LLVMGetEnumAttributeKind(LLVMAttributeRef A);
const char *LLVMGetStringAttributeKind(LLVMAttributeRef A, unsigned *Length);
LLVMTypeRef LLVMGetTypeAttributeValue(LLVMAttributeRef A);
unsigned LLVMGetLastEnumAttributeKind(void);
LLVMAttributeRef LLVMCreateTypeAttribute(LLVMContextRef C, unsigned KindID, LLVMTypeRef type_ref);

/* Functions, arguments, blocks, instructions. */
unsigned LLVMCountParams(LLVMValueRef Fn);
LLVMValueRef LLVMGetParam(LLVMValueRef Fn, unsigned Index);
unsigned LLVMCountBasicBlocks(LLVMValueRef Fn);
LLVMValueRef LLVMGetBasicBlockParent(LLVMBasicBlockRef BB);
const char *LLVMGetBasicBlockName(LLVMBasicBlockRef BB);
LLVMValueRef LLVMGetLastInstruction(LLVMBasicBlockRef BB);
LLVMValueRef LLVMBasicBlockAsValue(LLVMBasicBlockRef BB);
LLVMBasicBlockRef LLVMGetInstructionParent(LLVMValueRef Inst);
LLVMValueRef LLVMGetPreviousInstruction(LLVMValueRef Inst);
LLVMValueRef LLVMGetArgOperand(LLVMValueRef Funclet, unsigned i);
unsigned LLVMGetNumSuccessors(LLVMValueRef Term);
LLVMBasicBlockRef LLVMGetSuccessor(LLVMValueRef Term, unsigned i);
int LLVMGetICmpPredicate(LLVMValueRef Inst);
const char *LLVMGetDebugLocDirectory(LLVMValueRef Val, unsigned *Length);
const char *LLVMGetDebugLocFilename(LLVMValueRef Val, unsigned *Length);
unsigned LLVMGetDebugLocLine(LLVMValueRef Val);
unsigned LLVMGetDebugLocColumn(LLVMValueRef Val);

/* Types. */
char *LLVMPrintTypeToString(LLVMTypeRef Val);
LLVMTypeRef LLVMArrayType(LLVMTypeRef ElementType, unsigned ElementCount);
LLVMTypeRef LLVMPointerTypeInContext(LLVMContextRef C, unsigned AddressSpace);
unsigned LLVMCountStructElementTypes(LLVMTypeRef StructTy);
const char *LLVMGetStructName(LLVMTypeRef Ty);

/* -debug-pass-manager is opt's flag, not libLLVM's: LLVMRunPasses takes it as an option. */
void LLVMPassBuilderOptionsSetDebugLogging(LLVMPassBuilderOptionsRef Options, LLVMBool DebugLogging);
LLVMValueRef LLVMGetNamedGlobalAlias(LLVMModuleRef M, const char *Name, size_t NameLen);

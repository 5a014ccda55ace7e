/* llvm-c/Target.h, TargetMachine.h, Transforms/PassBuilder.h, Error.h, Support.h, ErrorHandling.h. */
void LLVMInitializeBPFTargetInfo(void);
void LLVMInitializeBPFTarget(void);
void LLVMInitializeBPFTargetMC(void);
void LLVMInitializeBPFAsmPrinter(void);
void LLVMInitializeBPFAsmParser(void);
LLVMBool LLVMGetTargetFromTriple(const char *Triple, LLVMTargetRef *T, char **ErrorMessage);
LLVMTargetMachineRef LLVMCreateTargetMachine(LLVMTargetRef T, const char *Triple, const char *CPU, const char *Features, LLVMCodeGenOptLevel Level, LLVMRelocMode Reloc, LLVMCodeModel CodeModel);
void LLVMDisposeTargetMachine(LLVMTargetMachineRef T);
char *LLVMGetTargetMachineTriple(LLVMTargetMachineRef T);
char *LLVMGetTargetMachineCPU(LLVMTargetMachineRef T);
char *LLVMGetTargetMachineFeatureString(LLVMTargetMachineRef T);
LLVMTargetDataRef LLVMCreateTargetDataLayout(LLVMTargetMachineRef T);
char *LLVMCopyStringRepOfTargetData(LLVMTargetDataRef TD);
void LLVMDisposeTargetData(LLVMTargetDataRef TD);
LLVMBool LLVMTargetMachineEmitToMemoryBuffer(LLVMTargetMachineRef T, LLVMModuleRef M, LLVMCodeGenFileType codegen, char **ErrorMessage, LLVMMemoryBufferRef *OutMemBuf);
char *LLVMNormalizeTargetTriple(const char *triple);

LLVMErrorRef LLVMRunPasses(LLVMModuleRef M, const char *Passes, LLVMTargetMachineRef TM, LLVMPassBuilderOptionsRef Options);
LLVMPassBuilderOptionsRef LLVMCreatePassBuilderOptions(void);
void LLVMPassBuilderOptionsSetVerifyEach(LLVMPassBuilderOptionsRef Options, LLVMBool VerifyEach);
void LLVMPassBuilderOptionsSetLoopUnrolling(LLVMPassBuilderOptionsRef Options, LLVMBool LoopUnrolling);
void LLVMDisposePassBuilderOptions(LLVMPassBuilderOptionsRef Options);

char *LLVMGetErrorMessage(LLVMErrorRef Err);
void LLVMDisposeErrorMessage(char *ErrMsg);
void LLVMParseCommandLineOptions(int argc, const char *const *argv, const char *Overview);
void LLVMInstallFatalErrorHandler(LLVMFatalErrorHandler Handler);
void LLVMEnablePrettyStackTrace(void);

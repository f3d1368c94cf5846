// Placeholder: the sentencepiece shim lands with the tokenizer work (issue 3).
extern "C" __attribute__((visibility("default"))) int clipmatch_spm_abi_version(void) { return 1; }

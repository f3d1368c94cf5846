// Linked into every fuzz target: sanitizer defaults, so that a target run by hand behaves as under
// tools/fuzz.sh. UBSan is compiled recoverable (so that known, not yet fixed reports can be suppressed while
// fuzzing, see fuzz/known-issues.supp) but halts on the first report that is not suppressed, which libFuzzer
// then records as a crash. Settings in $UBSAN_OPTIONS / $ASAN_OPTIONS override these.
extern "C" __attribute__((used, visibility("default"))) const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:report_error_type=1";
}

extern "C" __attribute__((used, visibility("default"))) const char* __asan_default_options() {
  return "detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1";
}

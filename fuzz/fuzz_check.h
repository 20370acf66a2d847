// FUZZ_CHECK: the invariant a fuzz target asserts beyond "does not crash".
// A violated invariant prints what was expected and aborts, which libFuzzer
// reports as a crash and saves the input (crash-<sha1>) for a regression
// test.
#ifndef APPROVAL_FUZZ_FUZZ_CHECK_H_
#define APPROVAL_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                           \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, \
                   __LINE__, #cond);                                    \
      std::fprintf(stderr, __VA_ARGS__);                                \
      std::fprintf(stderr, "\n");                                       \
      std::abort();                                                     \
    }                                                                   \
  } while (false)

#endif  // APPROVAL_FUZZ_FUZZ_CHECK_H_

#include "engine/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/error.h"

namespace sparsecap {

namespace {

struct CrashTarget {
  std::string point;  // empty: no crash requested
  long count = 0;
};

CrashTarget parse_crash_target() {
  const char* text = std::getenv("SPARSECAP_CRASH_AT");
  if (text == nullptr || *text == '\0') return {};
  const std::string value = text;
  const size_t colon = value.rfind(':');
  char* end = nullptr;
  const long count = colon == std::string::npos ? 0 : std::strtol(value.c_str() + colon + 1, &end, 10);
  SPARSECAP_CHECK(colon != std::string::npos && colon > 0 && end != nullptr && *end == '\0' && count >= 1,
                  "SPARSECAP_CRASH_AT must be <point>:<n> with n >= 1, got \"", value, "\"");
  return {value.substr(0, colon), count};
}

}  // namespace

void crash_point(const char* point) {
  static const CrashTarget target = parse_crash_target();
  static std::atomic<long> reached{0};
  if (target.point.empty() || target.point != point) return;
  if (reached.fetch_add(1) + 1 == target.count) ::kill(::getpid(), SIGKILL);
}

}  // namespace sparsecap

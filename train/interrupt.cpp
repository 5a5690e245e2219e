#include "train/interrupt.h"

#include <atomic>
#include <csignal>

namespace sparsecap::train {

namespace {
std::atomic<bool> g_stop_requested{false};

extern "C" void on_interrupt(int signal_number) {
  if (g_stop_requested.exchange(true)) {  // second Ctrl-C: default behaviour
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_stop_requested = false;
  previous_ = std::signal(SIGINT, on_interrupt);
}

InterruptGuard::~InterruptGuard() { std::signal(SIGINT, previous_); }

bool InterruptGuard::requested() { return g_stop_requested.load(); }

}  // namespace sparsecap::train

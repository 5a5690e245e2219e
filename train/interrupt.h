#pragma once
// Ctrl-C during training: the first SIGINT asks the loop to stop after the current step (it then
// saves a checkpoint); a second one ends the process as usual.
namespace sparsecap::train {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handler
  ~InterruptGuard();  // restores the previous one
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static bool requested();

 private:
  void (*previous_)(int);
};

}  // namespace sparsecap::train

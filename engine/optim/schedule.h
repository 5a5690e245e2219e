#pragma once
// Learning-rate schedules: pure functions of the step, so a resumed run needs only the step
// count. `step` is the 1-based number of the optimizer update about to be applied: the first
// update uses lr_at(1).
#include <cstdint>
#include <memory>
#include <string>

namespace sparsecap::optim {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double lr_at(int64_t step) const = 0;
  virtual std::string description() const = 0;  // for logs and checkpoint metadata
};

using SchedulePtr = std::shared_ptr<const LearningRateSchedule>;

// lr for every step (the SMP gate group: 100, constant).
class ConstantSchedule : public LearningRateSchedule {
 public:
  explicit ConstantSchedule(double lr);
  double lr_at(int64_t step) const override;
  std::string description() const override;

 private:
  double lr_;
};

// Half-cosine from `initial` (step 1) down to `floor` (step total_steps + 1 and after):
// lr = floor + (initial - floor) * (1 + cos(pi * min(step - 1, T) / T)) / 2.
class CosineSchedule : public LearningRateSchedule {
 public:
  CosineSchedule(double initial, double floor, int64_t total_steps);
  double lr_at(int64_t step) const override;
  std::string description() const override;

 private:
  double initial_, floor_;
  int64_t total_steps_;
};

// lr = initial * gamma ^ floor((step - 1) / step_size).
class StepSchedule : public LearningRateSchedule {
 public:
  StepSchedule(double initial, int64_t step_size, double gamma);
  double lr_at(int64_t step) const override;
  std::string description() const override;

 private:
  double initial_;
  int64_t step_size_;
  double gamma_;
};

// The Transformer's warm-up ("Noam"): lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5),
// rising linearly for `warmup` steps, then decaying as 1/sqrt(step).
class NoamSchedule : public LearningRateSchedule {
 public:
  NoamSchedule(int64_t d_model, int64_t warmup_steps, double factor = 1.0);
  double lr_at(int64_t step) const override;
  std::string description() const override;

 private:
  int64_t d_model_, warmup_steps_;
  double factor_;
};

// `before` up to step restart − 1, then `after` started afresh: lr_at(t) = after(t − restart + 1)
// from t = restart on (fine-tuning after one-shot pruning, retraining a lottery ticket).
class RestartedSchedule : public LearningRateSchedule {
 public:
  RestartedSchedule(SchedulePtr before, SchedulePtr after, int64_t restart_step);
  double lr_at(int64_t step) const override;
  std::string description() const override;

 private:
  SchedulePtr before_, after_;
  int64_t restart_step_;
};

SchedulePtr constant_schedule(double lr);
SchedulePtr cosine_schedule(double initial, double floor, int64_t total_steps);
SchedulePtr step_schedule(double initial, int64_t step_size, double gamma);
SchedulePtr noam_schedule(int64_t d_model, int64_t warmup_steps, double factor = 1.0);
SchedulePtr restarted_schedule(SchedulePtr before, SchedulePtr after, int64_t restart_step);

}  // namespace sparsecap::optim

#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "engine/error.h"

namespace sparsecap::optim {

namespace {
void check_step(int64_t step, const char* schedule) {
  SPARSECAP_CHECK(step >= 1, schedule, " schedule asked for step ", step, "; steps count from 1");
}
}  // namespace

ConstantSchedule::ConstantSchedule(double lr) : lr_(lr) {
  SPARSECAP_CHECK(lr >= 0.0, "constant schedule with negative learning rate ", lr);
}
double ConstantSchedule::lr_at(int64_t step) const {
  check_step(step, "constant");
  return lr_;
}
std::string ConstantSchedule::description() const { return detail::concat("constant(", lr_, ")"); }

CosineSchedule::CosineSchedule(double initial, double floor, int64_t total_steps)
    : initial_(initial), floor_(floor), total_steps_(total_steps) {
  SPARSECAP_CHECK(total_steps > 0, "cosine schedule needs a positive number of steps, got ", total_steps);
  SPARSECAP_CHECK(floor >= 0.0 && initial >= 0.0, "cosine schedule from ", initial, " to ", floor,
                  ": learning rates must be non-negative");
}
double CosineSchedule::lr_at(int64_t step) const {
  check_step(step, "cosine");
  const double progress = static_cast<double>(std::min(step - 1, total_steps_)) / static_cast<double>(total_steps_);
  return floor_ + (initial_ - floor_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}
std::string CosineSchedule::description() const {
  return detail::concat("cosine(", initial_, " -> ", floor_, " over ", total_steps_, " steps)");
}

StepSchedule::StepSchedule(double initial, int64_t step_size, double gamma)
    : initial_(initial), step_size_(step_size), gamma_(gamma) {
  SPARSECAP_CHECK(step_size > 0, "step schedule needs a positive step size, got ", step_size);
  SPARSECAP_CHECK(initial >= 0.0 && gamma > 0.0, "step schedule: initial ", initial, ", gamma ", gamma,
                  " (need initial >= 0, gamma > 0)");
}
double StepSchedule::lr_at(int64_t step) const {
  check_step(step, "step");
  return initial_ * std::pow(gamma_, static_cast<double>((step - 1) / step_size_));
}
std::string StepSchedule::description() const {
  return detail::concat("step(", initial_, " x ", gamma_, " every ", step_size_, " steps)");
}

NoamSchedule::NoamSchedule(int64_t d_model, int64_t warmup_steps, double factor)
    : d_model_(d_model), warmup_steps_(warmup_steps), factor_(factor) {
  SPARSECAP_CHECK(d_model > 0 && warmup_steps > 0 && factor > 0.0, "noam schedule: d_model ", d_model, ", warmup ",
                  warmup_steps, ", factor ", factor, " must all be positive");
}
double NoamSchedule::lr_at(int64_t step) const {
  check_step(step, "noam");
  const double s = static_cast<double>(step), warmup = static_cast<double>(warmup_steps_);
  return factor_ * std::pow(static_cast<double>(d_model_), -0.5) * std::min(std::pow(s, -0.5), s * std::pow(warmup, -1.5));
}
std::string NoamSchedule::description() const {
  return detail::concat("noam(d_model ", d_model_, ", warmup ", warmup_steps_, ", factor ", factor_, ")");
}

RestartedSchedule::RestartedSchedule(SchedulePtr before, SchedulePtr after, int64_t restart_step)
    : before_(std::move(before)), after_(std::move(after)), restart_step_(restart_step) {
  SPARSECAP_CHECK(before_ && after_, "restarted schedule needs both schedules");
  SPARSECAP_CHECK(restart_step >= 1, "restarted schedule: restart step ", restart_step, " must be >= 1");
}
double RestartedSchedule::lr_at(int64_t step) const {
  check_step(step, "restarted");
  return step < restart_step_ ? before_->lr_at(step) : after_->lr_at(step - restart_step_ + 1);
}
std::string RestartedSchedule::description() const {
  return detail::concat(before_->description(), ", restarted at step ", restart_step_, " as ", after_->description());
}

SchedulePtr constant_schedule(double lr) { return std::make_shared<ConstantSchedule>(lr); }
SchedulePtr cosine_schedule(double initial, double floor, int64_t total_steps) {
  return std::make_shared<CosineSchedule>(initial, floor, total_steps);
}
SchedulePtr step_schedule(double initial, int64_t step_size, double gamma) {
  return std::make_shared<StepSchedule>(initial, step_size, gamma);
}
SchedulePtr noam_schedule(int64_t d_model, int64_t warmup_steps, double factor) {
  return std::make_shared<NoamSchedule>(d_model, warmup_steps, factor);
}
SchedulePtr restarted_schedule(SchedulePtr before, SchedulePtr after, int64_t restart_step) {
  return std::make_shared<RestartedSchedule>(std::move(before), std::move(after), restart_step);
}

}  // namespace sparsecap::optim

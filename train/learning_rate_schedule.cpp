#include "train/learning_rate_schedule.h"

#include <algorithm>

#include "engine/error.h"

namespace sparsecap::train {

namespace {

// `make(steps)` for a schedule over `steps` steps, once over the whole run or restarted.
template <typename MakeSchedule>
optim::SchedulePtr maybe_restarted(MakeSchedule make, int64_t total_steps, int64_t restart_step) {
  if (restart_step <= 1 || restart_step > total_steps) return make(total_steps);
  return optim::restarted_schedule(make(restart_step - 1), make(total_steps - restart_step + 1), restart_step);
}

int64_t noam_model_size(const nlohmann::json& model) {
  SPARSECAP_CHECK(model.contains("model_size") && model.at("model_size").is_number_integer(),
                  "optim.schedule \"noam\" scales by the model section's model_size, which the ",
                  model.value("type", std::string("?")), " captioner does not have");
  return model.at("model_size").get<int64_t>();
}

}  // namespace

optim::SchedulePtr cosine_run_schedule(double peak, double floor, int64_t total_steps, int64_t restart_step) {
  const double lowest = std::min(peak, floor);
  return maybe_restarted([&](int64_t steps) { return optim::cosine_schedule(peak, lowest, steps); }, total_steps,
                         restart_step);
}

optim::SchedulePtr main_learning_rate_schedule(const RunConfig& config, int64_t total_steps, int64_t restart_step) {
  const OptimConfig& settings = config.optim;
  if (settings.schedule == "cosine")
    return cosine_run_schedule(settings.learning_rate, settings.learning_rate_floor, total_steps, restart_step);
  SPARSECAP_CHECK(settings.schedule == "noam", "optim.schedule must be \"cosine\" or \"noam\", got \"", settings.schedule,
                  "\"");
  const int64_t model_size = noam_model_size(config.model);
  return maybe_restarted(
      [&](int64_t) { return optim::noam_schedule(model_size, settings.warmup_steps, settings.noam_factor); }, total_steps,
      restart_step);
}

}  // namespace sparsecap::train

#pragma once
// The learning-rate schedules of a training run, from its optim section. optim.schedule picks the
// main group's: "cosine" (Soft-Attention, Up-Down: from optim.learning_rate down to
// optim.learning_rate_floor over the run) or "noam" (the Object Relation Transformer's warm-up:
// lr = noam_factor * d^-0.5 * min(t^-0.5, t * warmup_steps^-1.5), d the model section's
// model_size; optim.learning_rate is then unused). With a restart at step r > 1
// (pruning/method.h) the schedule runs over steps 1..r-1 and afresh from r.
#include <cstdint>

#include "engine/optim/schedule.h"
#include "train/run_config.h"

namespace sparsecap::train {

// Half-cosine from `peak` to min(peak, floor) over `total_steps`, restarted at `restart_step`.
optim::SchedulePtr cosine_run_schedule(double peak, double floor, int64_t total_steps, int64_t restart_step);

// The main (default) parameter group's schedule for `config`. Throws when "noam" is asked of a
// model section without model_size.
optim::SchedulePtr main_learning_rate_schedule(const RunConfig& config, int64_t total_steps, int64_t restart_step);

}  // namespace sparsecap::train

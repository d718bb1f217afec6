// hpa-stats on a run directory: n_l of every conv layer at epoch 0 and at each seed's last
// complete epoch, as stored in the epoch files, with the mean and spread over seeds.
#pragma once

#include <ostream>
#include <string>

namespace hpa::stats {

// Prints the table; with a non-empty `json_path` also writes it as JSON. Throws hpa::Error
// naming the run directory or file at fault.
void report_run(std::ostream& out, const std::string& run_dir, const std::string& json_path);

}  // namespace hpa::stats

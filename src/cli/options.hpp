// Command-line and config-file parsing shared by every executable: Boost.Program_options with
// `--config FILE` (same option names; the command line wins), `--help`, and errors that name the
// option or file. Also the guard every main runs in, which turns any exception into one line.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hpa::cli {

namespace po = boost::program_options;

struct ParseResult {
  po::variables_map values;
  bool help_requested = false;
};

// A boolean option: `--name` alone means true, `--name false` / `--name=false` (also yes/no, on/off,
// 1/0) set it; in a config file `name = false`, or `name` alone for true. Every boolean option of
// every hpa executable is one of these.
po::typed_value<bool>* flag(bool* target);

// Adds --help and --config to `options`, parses argv then the config file, runs notifiers.
// Throws hpa::Error for unknown or malformed options and unreadable config files.
ParseResult parse(int argc, const char* const argv[], po::options_description& options,
                  const po::positional_options_description& positional);

// The help text: usage line, description, and every option with its default.
std::string help_text(const std::string& usage, const std::string& description,
                      const po::options_description& options);

// The resolved configuration as config-file text (`name = value` per line, sorted): what a run
// stores so that it can be repeated.
std::string resolved_config(const po::variables_map& values);

// "1,4-6,9" -> {1, 4, 5, 6, 9}: non-negative integers and inclusive ranges, in the given order.
// Throws hpa::Error naming `option` on malformed text or an empty list.
std::vector<int64_t> parse_index_list(const std::string& text, const std::string& option);

// Runs `body`, printing "PROGRAM: error: MESSAGE" on stderr and returning 1 for any exception.
int run_guarded(const std::string& program, const std::function<int()>& body);

}  // namespace hpa::cli

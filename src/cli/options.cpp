// Boost.Program_options glue; see options.hpp.
#include "cli/options.hpp"

#include "common/error.hpp"
#include "common/process.hpp"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <sstream>

namespace hpa::cli {
namespace {

std::string value_text(const po::variable_value& value) {
  const boost::any& any = value.value();
  if (any.type() == typeid(std::string)) return boost::any_cast<std::string>(any);
  if (any.type() == typeid(int)) return std::to_string(boost::any_cast<int>(any));
  if (any.type() == typeid(int64_t)) return std::to_string(boost::any_cast<int64_t>(any));
  if (any.type() == typeid(uint64_t)) return std::to_string(boost::any_cast<uint64_t>(any));
  if (any.type() == typeid(bool)) return boost::any_cast<bool>(any) ? "true" : "false";
  if (any.type() == typeid(double)) {
    std::ostringstream out;
    out.precision(17);
    out << boost::any_cast<double>(any);
    return out.str();
  }
  return "?";
}

bool is_flag(const po::options_description& options, const std::string& name) {
  const po::option_description* option = options.find_nothrow(name, /*approx=*/false);
  return option && dynamic_cast<const po::typed_value<bool>*>(option->semantic().get()) != nullptr;
}

// An option that reads the next token as its value (not a flag, not --help).
bool takes_value(const po::options_description& options, const std::string& name) {
  const po::option_description* option = options.find_nothrow(name, /*approx=*/false);
  return option && !is_flag(options, name) && option->semantic()->max_tokens() > 0;
}

bool is_bool_literal(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* literal : {"true", "false", "yes", "no", "on", "off", "1", "0"})
    if (text == literal) return true;
  return false;
}

// Boost gives an option with an implicit value no separate token: `--pixel-shuffle false` would
// leave "false" as a stray positional argument. Joined to its flag as `--pixel-shuffle=false`, it
// is that flag's value. A stray argument beyond the positional ones is named here, with the flag
// before it (Boost would only say "too many positional options").
std::vector<std::string> join_flag_values(int argc, const char* const argv[], const po::options_description& options,
                                          const po::positional_options_description& positional) {
  std::vector<std::string> args;
  unsigned positionals = 0;
  bool unknown_option = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {  // everything after is positional
      for (; i < argc; ++i) args.emplace_back(argv[i]);
      break;
    }
    const bool long_option = arg.rfind("--", 0) == 0;
    const std::string name = long_option ? arg.substr(2, arg.find('=') - 2) : "";
    if (long_option && arg.find('=') == std::string::npos && is_flag(options, name) && i + 1 < argc &&
        is_bool_literal(argv[i + 1])) {
      arg += std::string("=") + argv[++i];
    } else if (long_option && arg.find('=') == std::string::npos && takes_value(options, name) && i + 1 < argc) {
      args.push_back(arg);  // an option with a value: the next token is that value
      arg = argv[++i];
    } else if (long_option && !options.find_nothrow(name, false)) {
      unknown_option = true;  // Boost names it; what follows may have been its value
    } else if (arg.empty() || arg[0] != '-') {
      if (++positionals > positional.max_total_count() && !unknown_option) {
        const std::string before = i > 1 ? argv[i - 1] : "";
        const bool after_flag = before.rfind("--", 0) == 0 && is_flag(options, before.substr(2));
        HPA_FAIL("unexpected argument '" << arg << "'"
                                         << (after_flag ? " after " + before +
                                                              ": a boolean option takes true/false, yes/no, on/off or "
                                                              "1/0, or nothing for true"
                                                        : ""));
      }
    }
    args.push_back(arg);
  }
  return args;
}

// A config-file line holding only a flag's name means true.
std::string with_flag_lines_completed(std::istream& in, const po::options_description& options) {
  std::ostringstream out;
  for (std::string line; std::getline(in, line);) {
    const size_t first = line.find_first_not_of(" \t"), last = line.find_last_not_of(" \t\r");
    const std::string name = first == std::string::npos ? "" : line.substr(first, last - first + 1);
    out << (!name.empty() && is_flag(options, name) ? name + " = true" : line) << "\n";
  }
  return out.str();
}

// Boost's messages say "the argument ('x') for option '--epochs' is invalid": already naming the
// option. Only the config-file case needs the file added.
[[noreturn]] void rethrow_with_context(const po::error& error, const std::string& source) {
  HPA_FAIL(source << error.what());
}

}  // namespace

po::typed_value<bool>* flag(bool* target) {
  return po::value(target)->default_value(*target)->implicit_value(true);
}

ParseResult parse(int argc, const char* const argv[], po::options_description& options,
                  const po::positional_options_description& positional) {
  options.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::string>(),
      "read options from FILE (name = value per line); the command line wins");
  ParseResult result;
  try {
    po::store(po::command_line_parser(join_flag_values(argc, argv, options, positional))
                  .options(options)
                  .positional(positional)
                  .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
                  .run(),
              result.values);
  } catch (const po::error& error) {
    rethrow_with_context(error, "");
  }
  result.help_requested = result.values.count("help") > 0;
  if (result.help_requested) return result;
  if (result.values.count("config")) {
    const std::string path = result.values["config"].as<std::string>();
    std::ifstream file(path);
    if (!file) HPA_FAIL("--config " << path << ": cannot open for reading");
    try {
      std::istringstream text(with_flag_lines_completed(file, options));
      po::store(po::parse_config_file(text, options, /*allow_unregistered=*/false), result.values);
    } catch (const po::error& error) {
      rethrow_with_context(error, "--config " + path + ": ");
    }
  }
  try {
    po::notify(result.values);
  } catch (const po::error& error) {
    rethrow_with_context(error, "");
  }
  return result;
}

std::string help_text(const std::string& usage, const std::string& description,
                      const po::options_description& options) {
  std::ostringstream out;
  out << "usage: " << usage << "\n\n" << description << "\n\n" << options;
  return out.str();
}

std::string resolved_config(const po::variables_map& values) {
  std::ostringstream out;
  for (const auto& [name, value] : values) {
    if (name == "help" || name == "config" || value.empty()) continue;
    out << name << " = " << value_text(value) << "\n";
  }
  return out.str();
}

std::vector<int64_t> parse_index_list(const std::string& text, const std::string& option) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string item;
  const auto number = [&](const std::string& token) {
    HPA_REQUIRE(
        !token.empty() && token.size() < 10 && token.find_first_not_of("0123456789") == std::string::npos,
        option << " " << text << ": '" << token << "' is not a non-negative integer");
    return static_cast<int64_t>(std::stoll(token));
  };
  while (std::getline(stream, item, ',')) {
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      values.push_back(number(item));
      continue;
    }
    const int64_t first = number(item.substr(0, dash)), last = number(item.substr(dash + 1));
    HPA_REQUIRE(first <= last && last - first < 1000000,
                option << " " << text << ": bad range '" << item << "'");
    for (int64_t value = first; value <= last; ++value) values.push_back(value);
  }
  HPA_REQUIRE(!values.empty(), option << ": the list is empty");
  return values;
}

namespace {
// "PROGRAM: error: [rank R of N on HOST: ]MESSAGE": in a job of several ranks the line names the
// rank, unless the message already does (MPI's checks start with "rank R").
void print_error(const std::string& program, const std::string& message) {
  const std::string& rank = rank_context();
  const bool names_rank = rank.empty() || message.rfind("rank ", 0) == 0;
  // One write per line: the ranks of a job share the terminal, and pieces would interleave.
  const std::string line = program + ": error: " + (names_rank ? "" : rank + ": ") + message + "\n";
  std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
  std::cerr.flush();
}
}  // namespace

int run_guarded(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const hpa::Error& error) {
    print_error(program, error.what());
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    print_error(program, message.substr(0, message.find('\n')));
  } catch (const std::exception& error) {
    print_error(program, error.what());
  }
  return 1;
}

}  // namespace hpa::cli

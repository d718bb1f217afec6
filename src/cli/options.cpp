// Boost.Program_options glue; see options.hpp.
#include "cli/options.hpp"

#include "common/error.hpp"

#include <c10/util/Exception.h>

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

// Boost's messages say "the argument ('x') for option '--epochs' is invalid": already naming the
// option. Only the config-file case needs the file added.
[[noreturn]] void rethrow_with_context(const po::error& error, const std::string& source) {
  HPA_FAIL(source << error.what());
}

}  // namespace

ParseResult parse(int argc, const char* const argv[], po::options_description& options,
                  const po::positional_options_description& positional) {
  options.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::string>(),
      "read options from FILE (name = value per line); the command line wins");
  ParseResult result;
  try {
    po::store(po::command_line_parser(argc, argv)
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
      po::store(po::parse_config_file(file, options, /*allow_unregistered=*/false), result.values);
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

int run_guarded(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const hpa::Error& error) {
    std::cerr << program << ": error: " << error.what() << "\n";
  } catch (const c10::Error& error) {
    const std::string message = error.what_without_backtrace();
    std::cerr << program << ": error: " << message.substr(0, message.find('\n')) << "\n";
  } catch (const std::exception& error) {
    std::cerr << program << ": error: " << error.what() << "\n";
  }
  return 1;
}

}  // namespace hpa::cli
